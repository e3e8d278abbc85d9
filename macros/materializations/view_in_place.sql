{#-
    The `view` materialization for Postgres, replacing views in place.

    dbt's default view materialization renames the old view aside and drops it with CASCADE, which
    silently drops every materialized view built on top of it: BI readers would meet "relation does
    not exist" until the downstream node is rebuilt. Here a view whose columns stay compatible
    (the old columns, same names and types, in the same order, possibly followed by new ones) is
    replaced with `create or replace view`: dependent relations keep working and nothing is dropped.
    Only when columns are removed, renamed or retyped does it fall back to dbt's rename-and-swap,
    logging which dependents are dropped and rebuilt downstream.
-#}
{%- materialization view, adapter='postgres' -%}

    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set target_relation = this.incorporate(type='view') -%}
    {%- set intermediate_relation = make_intermediate_relation(target_relation) -%}
    {%- set backup_relation_type = 'view' if existing_relation is none else existing_relation.type -%}
    {%- set backup_relation = make_backup_relation(target_relation, backup_relation_type) -%}
    {%- set grant_config = config.get('grants') -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ drop_relation_if_exists(load_cached_relation(intermediate_relation)) }}
    {{ drop_relation_if_exists(load_cached_relation(backup_relation)) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {%- call statement('main') -%}
        {{ get_create_view_as_sql(intermediate_relation, sql) }}
    {%- endcall -%}

    {%- set in_place = false -%}
    {%- if existing_relation is not none and existing_relation.is_view -%}
        {%- set old_columns = adapter.get_columns_in_relation(existing_relation) -%}
        {%- set new_columns = adapter.get_columns_in_relation(intermediate_relation) -%}
        {%- set ns = namespace(compatible=(old_columns | length) <= (new_columns | length)) -%}
        {%- for column in old_columns -%}
            {%- if ns.compatible -%}
                {%- set other = new_columns[loop.index0] -%}
                {%- if column.name != other.name or column.data_type != other.data_type -%}
                    {%- set ns.compatible = false -%}
                {%- endif -%}
            {%- endif -%}
        {%- endfor -%}
        {%- set in_place = ns.compatible -%}
    {%- endif -%}

    {%- if in_place -%}
        {{ drop_relation_if_exists(intermediate_relation) }}
        {%- call statement('replace_in_place') -%}
            {{ get_create_view_as_sql(target_relation, sql) | replace('create view', 'create or replace view', 1) }}
        {%- endcall -%}
    {%- else -%}
        {%- if existing_relation is not none -%}
            {{ log("view " ~ target_relation ~ ": columns changed, replacing it; relations built on it are rebuilt downstream", info=true) }}
            {{ adapter.rename_relation(existing_relation, backup_relation) }}
        {%- endif -%}
        {{ adapter.rename_relation(intermediate_relation, target_relation) }}
    {%- endif -%}

    {%- set should_revoke = should_revoke(existing_relation, full_refresh_mode=True) -%}
    {%- do apply_grants(target_relation, grant_config, should_revoke=should_revoke) -%}
    {%- do persist_docs(target_relation, model) -%}

    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {{ adapter.commit() }}
    {{ drop_relation_if_exists(backup_relation) }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ return({'relations': [target_relation]}) }}

{%- endmaterialization -%}
