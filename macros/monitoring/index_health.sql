{#-
    Index health (second specification document, "Automated Index Health Monitoring"): one row
    per index in the given schemas with its size, how often it was scanned and how many tuples
    those scans read and fetched. efficiency_ratio = fetched / read x 100 (0 when nothing was
    read); index-only scans fetch no heap tuples, so a low ratio on a covering index is healthy.
    Counters are cumulative since the statistics were last reset (pg_stat_reset).

    index_health_sql(schemas=none)
        The report as SQL text (a select). `schemas` is a list of schema names (or one name);
        by default the BI-facing marts schema and the VITAL source schema. Python renders it with
        `dbt compile --inline "{{ index_health_sql(['value_view', 'vital']) }}"` and runs the
        result; a model or analysis can select from it.

    index_health_report(schemas=none)
        `dbt run-operation index_health_report [--args "{schemas: [value_view]}"]`: runs the
        report and prints it, least used indexes first within each schema.
-#}

{% macro index_health_default_schemas() -%}
    {{ return([
        generate_schema_name('value_view', none) | trim,
        env_var('VALUE_VIEW_SOURCE_SCHEMA', var('vital_schema')),
    ]) }}
{%- endmacro %}


{% macro index_health_sql(schemas=none) -%}
    {%- if schemas is none -%}
        {%- set schemas = index_health_default_schemas() -%}
    {%- elif schemas is string -%}
        {%- set schemas = [schemas] -%}
    {%- endif -%}
    {%- if schemas | length == 0 -%}
        {{ exceptions.raise_compiler_error("index_health_sql needs at least one schema") }}
    {%- endif -%}
    select
        indexes.schemaname::text as schema_name,
        indexes.indexrelname::text as index_name,
        indexes.relname::text as table_name,
        pg_size_pretty(pg_relation_size(indexes.indexrelid)) as index_size,
        pg_relation_size(indexes.indexrelid) as index_size_bytes,
        indexes.idx_scan as index_scans,
        indexes.idx_tup_read as tuples_read,
        indexes.idx_tup_fetch as tuples_fetched,
        case
            when indexes.idx_tup_read > 0
                then round(indexes.idx_tup_fetch::numeric / indexes.idx_tup_read::numeric * 100, 2)
            else 0
        end as efficiency_ratio
    from pg_catalog.pg_stat_user_indexes as indexes
    where indexes.schemaname in (
        {%- for schema in schemas %}
        '{{ schema | replace("'", "''") }}'{{ "," if not loop.last }}
        {%- endfor %}
    )
    order by schema_name, index_scans, table_name, index_name
{%- endmacro %}


{% macro index_health_report(schemas=none) -%}
    {%- if execute -%}
        {%- set report = run_query(index_health_sql(schemas)) -%}
        {{ log("index health: " ~ report.rows | length ~ " indexes", info=true) }}
        {%- do report.print_table(max_rows=none, max_columns=none, max_column_width=64) -%}
    {%- endif -%}
{%- endmacro %}
