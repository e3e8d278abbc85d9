{#-
    Post-hook for versioned marts: keep the unsuffixed name (what BI tools and the specification's
    queries use) as a view over the latest version's relation. Older versions keep their `_v<N>`
    relations until their deprecation date. The view is replaced only when it does not already read
    from this relation, so routine refreshes never touch it.
-#}
{% macro create_latest_version_view() -%}
    {%- if model.version is not none and model.version == model.latest_version -%}
        {%- set unsuffixed = this.incorporate(path={"identifier": model.name}) -%}
        {%- set current = none -%}
        {%- if execute -%}
            {%- set found = run_query(
                "select pg_get_viewdef(c.oid) from pg_class as c"
                ~ " join pg_namespace as n on n.oid = c.relnamespace"
                ~ " where c.relkind = 'v' and n.nspname = '" ~ this.schema
                ~ "' and c.relname = '" ~ model.name ~ "'"
            ) -%}
            {%- if found and found.rows | length > 0 -%}
                {%- set current = found.rows[0][0] -%}
            {%- endif -%}
        {%- endif -%}
        {%- if current is none or (this.identifier not in current) -%}
            drop view if exists {{ unsuffixed }};
            create view {{ unsuffixed }} as select * from {{ this }};
            comment on view {{ unsuffixed }} is
                'Latest version ({{ model.version }}) of {{ model.name }}: reads {{ this.identifier }}.';
        {%- else -%}
            select 1
        {%- endif -%}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
