{#-
    exclude_quarantined(table, key='id', relation=none): a boolean SQL condition that keeps a
    source row out when quarantine_<table> rejects it (flagged rows stay). For the staging model
    of <table>, where it selects from its `source` CTE:

        from source
        where {{ exclude_quarantined('jtbd_odi_scores') }}

    or, next to the soft-delete filter:

        from source
        where
            deleted_at is null
            and {{ exclude_quarantined('jtbd') }}

    A row whose key is null is excluded too (it cannot be matched to its quarantine entry).
    Every copy of a duplicated id is rejected, so matching on the id is exact. The key is left
    unqualified unless `relation` names the row's table alias (the quarantine has no `id`
    column, so an unqualified `id` in the subquery is the outer row's).
-#}
{% macro exclude_quarantined(table, key="id", relation=none) -%}
    {%- set column = (relation ~ "." if relation else "") ~ key -%}
    (
        {{ column }} is not null
        and not exists (
            select 1
            from {{ ref("quarantine_" ~ table) }} as quarantined
            where
                quarantined.row_id = {{ column }}
                and quarantined.disposition = 'rejected'
        )
    )
{%- endmacro %}
