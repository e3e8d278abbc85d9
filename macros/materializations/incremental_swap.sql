{#-
    The `incremental` materialization for Postgres, with a full refresh that never drops what
    readers use.

    dbt's own materialization rebuilds a table under `--full-refresh` (or when the relation is a
    view) by renaming the old table aside and, after the commit, dropping it with CASCADE. Views
    bind to the table's OID, so every view reading it follows it aside and is dropped with it:
    the staging views over the quarantine tables, and with them the intermediate views, the
    materialized views, the latest-version and the tenant views built on them, until each is
    rebuilt downstream or by the next run.

    Here the new table is built aside (`<name>__vv_new`, with its indexes, grants and comments)
    and swapped in by the same DO block as keyed_incremental_table's rebuild, in the model's
    transaction: dependent views are locked (short lock_timeout, retried), re-created against the
    new table (`create or replace view`, so they keep their OID and the views built on them are
    untouched), the old privileges are copied, and the old table is dropped without CASCADE. The
    model's latest-version view is re-created with its current definition in the same block.
    Config: `swap_lock_timeout` and `swap_attempts` as for safe_materialized_view.

    Incremental runs are dbt's, unchanged.
-#}
{% materialization incremental, adapter='postgres' -%}

    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set temp_relation = make_temp_relation(target_relation) -%}
    {%- set intermediate_relation = make_intermediate_relation(target_relation, '__vv_new') -%}
    {%- set backup_relation = make_backup_relation(target_relation, 'table', '__vv_old') -%}

    {%- set unique_key = config.get('unique_key') -%}
    {%- set full_refresh_mode = (should_full_refresh() or existing_relation.is_view) -%}
    {%- set on_schema_change = incremental_validate_on_schema_change(config.get('on_schema_change'), default='ignore') -%}
    {%- set grant_config = config.get('grants') -%}
    {%- set settings = safe_mv__settings([]) -%}

    {{ drop_relation_if_exists(load_cached_relation(intermediate_relation)) }}
    {{ drop_relation_if_exists(load_cached_relation(backup_relation)) }}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}

    -- `BEGIN` happens here:
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {%- set incremental_strategy = config.get('incremental_strategy') or 'default' -%}
    {%- set strategy_sql_macro_func = adapter.get_incremental_strategy_macro(context, incremental_strategy) -%}
    {%- set need_swap = existing_relation is not none and full_refresh_mode -%}

    {%- if existing_relation is none -%}
        {%- set build_sql = get_create_table_as_sql(False, target_relation, sql) -%}
        {%- set relation_for_indexes = target_relation -%}
    {%- elif need_swap -%}
        {%- set build_sql = get_create_table_as_sql(False, intermediate_relation, sql) -%}
        {%- set relation_for_indexes = intermediate_relation -%}
    {%- else -%}
        {%- do run_query(get_create_table_as_sql(True, temp_relation, sql)) -%}
        {%- set relation_for_indexes = temp_relation -%}
        {%- set contract_config = config.get('contract') -%}
        {%- if not contract_config or not contract_config.enforced -%}
            {%- do adapter.expand_target_column_types(from_relation=temp_relation, to_relation=target_relation) -%}
        {%- endif -%}
        {%- set dest_columns = process_schema_changes(on_schema_change, temp_relation, existing_relation) -%}
        {%- if not dest_columns -%}
            {%- set dest_columns = adapter.get_columns_in_relation(existing_relation) -%}
        {%- endif -%}
        {%- set incremental_predicates = config.get('predicates', none) or config.get('incremental_predicates', none) -%}
        {%- set strategy_arg_dict = ({
            'target_relation': target_relation,
            'temp_relation': temp_relation,
            'unique_key': unique_key,
            'dest_columns': dest_columns,
            'incremental_predicates': incremental_predicates,
        }) -%}
        {%- set build_sql = strategy_sql_macro_func(strategy_arg_dict) -%}
    {%- endif -%}

    {% call statement("main") %}
        {{ build_sql }}
    {% endcall %}

    {%- if existing_relation is none or full_refresh_mode -%}
        {%- do create_indexes(relation_for_indexes) -%}
    {%- endif -%}

    {%- if need_swap -%}
        {%- do apply_grants(intermediate_relation, grant_config, should_revoke=false) -%}
        {%- do persist_docs(intermediate_relation, model) -%}
        {%- set swap_started_at = modules.datetime.datetime.now() -%}
        {%- call statement('swap') -%}
            {{ keyed_incremental__swap_sql(
                target_relation, intermediate_relation, backup_relation, [], settings,
                label='incremental', latest_view=value_view_latest_version_view(target_relation)
            ) }}
        {%- endcall -%}
        {{ log(
            'incremental ' ~ target_relation ~ ': rebuilt ('
            ~ ('--full-refresh' if should_full_refresh() else 'replacing a view')
            ~ '): built aside, swapped in ' ~ safe_mv__seconds_since(swap_started_at) ~ 's, dependent views re-pointed',
            info=true
        ) }}
    {%- else -%}
        {%- do apply_grants(target_relation, grant_config, should_revoke=should_revoke(existing_relation, full_refresh_mode)) -%}
        {%- do persist_docs(target_relation, model) -%}
    {%- endif -%}

    {{ run_hooks(post_hooks, inside_transaction=True) }}

    -- `COMMIT` happens here
    {%- do adapter.commit() -%}

    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ return({'relations': [target_relation]}) }}

{%- endmaterialization %}
