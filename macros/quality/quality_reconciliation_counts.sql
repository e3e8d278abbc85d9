{#-
    The counts of quality_reconciliation, one select per source table of the catalogue:
    source_rows, soft_deleted_rows (rows with a deleted_at, which staging drops), rejected_rows
    (live rows that exclude_quarantined keeps out: a null id or a rejected finding),
    flagged_rows (live rows kept with a flagged finding only) and staged_rows (the table's
    staging model, which the marts read). The rejected and flagged id sets are grouped before
    the join, so each source row is counted once however many rules it breaks.
-#}
{% macro quality_reconciliation_counts() -%}
    {%- for table, spec in quality_tables().items() %}
    {%- set live = "source_rows.deleted_at is null" if spec.get("soft_delete", false) else "true" %}
    {%- if not loop.first %}
    union all
    {%- endif %}
    select
        {{ value_view_sql_literal(table) }}::text as source_table,
        count(*) as source_rows,
        count(*) filter (where not {{ live }}) as soft_deleted_rows,
        count(*) filter (
            where {{ live }} and (source_rows.id is null or rejected.row_id is not null)
        ) as rejected_rows,
        count(*) filter (
            where {{ live }} and rejected.row_id is null and flagged.row_id is not null
        ) as flagged_rows,
        (select count(*) from {{ ref("stg_" ~ spec.source ~ "__" ~ table) }}) as staged_rows
    from {{ source(spec.source, table) }} as source_rows
    left join (
        select distinct row_id
        from {{ ref("quarantine_" ~ table) }}
        where disposition = 'rejected'
    ) as rejected
        on source_rows.id = rejected.row_id
    left join (
        select distinct row_id
        from {{ ref("quarantine_" ~ table) }}
        where disposition = 'flagged'
    ) as flagged
        on source_rows.id = flagged.row_id
    {%- endfor %}
{%- endmacro %}
