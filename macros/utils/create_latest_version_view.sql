{#-
    Post-hook for versioned marts: keep the unsuffixed name (what BI tools and the specification's
    queries use) as a view over the latest version's relation. Older versions keep their `_v<N>`
    relations until their deprecation date.

    The view is `select * from <name>_v<N>`, or, for a mart whose `meta.last_refreshed` is
    `refresh_log`, the versioned relation's columns followed by `last_refreshed` read from the
    refresh log (value_view_last_refreshed): the time of the last refresh lives in one small
    table instead of in every row, and the BI-facing name keeps the column.

    The view's comment carries an md5 of its whole definition. The view is replaced only when it
    is missing, does not read this relation, or its definition differs, so routine refreshes never
    touch it: `create or replace view` when the columns allow it (readers and views built on it
    keep working), else dropped and created.
-#}
{% macro create_latest_version_view() -%}
    {%- set latest = value_view_latest_version_view(this) -%}
    {%- if latest is none or not execute -%}
        select 1
    {%- else -%}
        {%- set found = run_query(
            "select obj_description(views.oid, 'pg_class') as view_comment,"
            ~ " exists ("
            ~ "select from pg_depend as depends"
            ~ " inner join pg_rewrite as rewrites on rewrites.oid = depends.objid"
            ~ " where rewrites.ev_class = views.oid"
            ~ " and depends.classid = 'pg_rewrite'::regclass"
            ~ " and depends.refclassid = 'pg_class'::regclass"
            ~ " and depends.refobjid = to_regclass(" ~ value_view_sql_literal(this.include(database=false)) ~ ")"
            ~ ") as reads_this"
            ~ " from pg_class as views"
            ~ " where views.oid = to_regclass(" ~ value_view_sql_literal(latest.relation) ~ ")"
            ~ " and views.relkind = 'v'"
        ) -%}
        {%- set current = found.rows[0] if found.rows | length > 0 else none -%}
        {%- if current is not none and current['reads_this'] and current['view_comment'] == latest.comment -%}
            select 1
        {%- else -%}
            do $value_view_latest_version_view$
            begin
                create or replace view {{ latest.relation }} as {{ latest.definition }};
            exception when invalid_table_definition then
                -- the columns changed in a way `create or replace` cannot take (removed, renamed,
                -- retyped, reordered): replace the view; views built on it make this fail
                drop view {{ latest.relation }};
                create view {{ latest.relation }} as {{ latest.definition }};
            end
            $value_view_latest_version_view$;
            comment on view {{ latest.relation }} is {{ value_view_sql_literal(latest.comment) }};
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}


{#-
    The unsuffixed view of the model being built, when it is the latest version of a versioned
    model: {relation, definition, comment}; none otherwise. The comment ends with the md5 of the
    definition. safe_materialized_view's swap uses the same definition to re-point the view.
-#}
{% macro value_view_latest_version_view(relation) -%}
    {%- if model.version is none or model.version != model.latest_version or model.name == relation.identifier -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set versioned = relation.include(database=false) -%}
    {%- set view = relation.incorporate(path={'identifier': model.name}).include(database=false) -%}
    {%- if value_view_last_refreshed_from_log(config.get('meta')) -%}
        {%- set definition = 'select versioned.*, ' ~ value_view_last_refreshed(relation) | trim
            ~ ' as last_refreshed from ' ~ versioned ~ ' as versioned' -%}
        {%- set reads = relation.identifier ~ ', with last_refreshed from ' ~ value_view_refresh_log() -%}
    {%- else -%}
        {%- set definition = 'select * from ' ~ versioned -%}
        {%- set reads = relation.identifier -%}
    {%- endif -%}
    {{ return({
        'relation': view,
        'definition': definition,
        'comment': 'Latest version (' ~ model.version ~ ') of ' ~ model.name ~ ': reads ' ~ reads
            ~ '. [value_view:definition=' ~ local_md5(definition) ~ ']',
    }) }}
{%- endmacro %}
