{#-
    The refresh log: one row per relation, the time of its last refresh.

        <target schema>_meta.refresh_log (schema_name, relation_name, refreshed_at)

    A materialized view whose rows carried `current_timestamp as last_refreshed` changed every row
    at every refresh, so REFRESH ... CONCURRENTLY rewrote the whole view. The time of the refresh
    lives here instead, written in the refresh's own transaction (value_view_record_refresh), and
    the views that show it read it back (value_view_last_refreshed): a row whose inputs did not
    change is identical from one refresh to the next, and the concurrent refresh writes nothing.

    The table is readable by nobody but its owner (the role dbt runs as); views read it with
    their owner's rights. It is an ordinary table, so it replicates like everything else.
-#}

{#-
    The log's schema, `<target schema>_meta` (`value_view_meta`). sqlfluff renders the models
    without a profile, so there the name is the default target's.
-#}
{% macro value_view_refresh_log_schema() -%}
    {{ target.schema if target is defined else 'value_view' }}_meta
{%- endmacro %}


{#- The log's quoted qualified name. -#}
{% macro value_view_refresh_log() -%}
    "{{ value_view_refresh_log_schema() }}"."refresh_log"
{%- endmacro %}


{#- Creates the log's schema and table when missing; idempotent, safe under concurrent runs. -#}
{% macro value_view_refresh_log_setup() -%}
    {%- set schema = value_view_refresh_log_schema() -%}
    {%- set log = value_view_refresh_log() -%}
    do $value_view_refresh_log$
    begin
        if to_regclass({{ value_view_sql_literal(log) }}) is null then
            create schema if not exists "{{ schema }}";
            revoke all on schema "{{ schema }}" from public;
            create table {{ log }} (
                schema_name text not null,
                relation_name text not null,
                refreshed_at timestamptz not null,
                primary key (schema_name, relation_name)
            );
            revoke all on table {{ log }} from public;
            comment on table {{ log }} is
                'Value View: when each relation was last refreshed (value_view_record_refresh); the latest-version views show it as last_refreshed.';
        end if;
    exception when duplicate_table or duplicate_schema or unique_violation then
        null;  -- created by a concurrent run
    end
    $value_view_refresh_log$
{%- endmacro %}


{#-
    SQL that records "`relation` was refreshed now" (the time its transaction started, which is
    what `current_timestamp` in the relation's own SQL gives). Run it in the transaction that
    refreshes or rebuilds the relation, after the refresh, so both commit together. Creates the
    log first when it is missing.
-#}
{% macro value_view_record_refresh(relation) -%}
    {{ value_view_refresh_log_setup() }};
    insert into {{ value_view_refresh_log() }} as refresh_log (
        schema_name, relation_name, refreshed_at
    )
    values (
        {{ value_view_sql_literal(relation.schema) }},
        {{ value_view_sql_literal(relation.identifier) }},
        now()
    )
    on conflict (schema_name, relation_name) do update
    set refreshed_at = excluded.refreshed_at
{%- endmacro %}


{#- A SQL expression: when `relation` was last refreshed (null when never recorded). -#}
{% macro value_view_last_refreshed(relation) -%}
    (
        select refresh_log.refreshed_at
        from {{ value_view_refresh_log() }} as refresh_log
        where
            refresh_log.schema_name = {{ value_view_sql_literal(relation.schema) }}
            and refresh_log.relation_name = {{ value_view_sql_literal(relation.identifier) }}
    )
{%- endmacro %}


{#-
    Whether a model's `last_refreshed` comes from the refresh log: its `meta.last_refreshed` is
    `refresh_log`. The latest-version view (create_latest_version_view) and the tenant view of the
    unsuffixed name (value_view_tenant_views) then add the column; the versioned relation has none.
-#}
{% macro value_view_last_refreshed_from_log(meta) -%}
    {{ return((meta or {}).get('last_refreshed') == 'refresh_log') }}
{%- endmacro %}
