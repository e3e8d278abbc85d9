{#-
    maintained_table: a table kept equal to its model's query by a merge on its key, for the
    maintained relations behind the real-time views (`meta.maintained`, refreshed by the Dagster
    sensor on every change of the tables they are built from).

    It is what `REFRESH MATERIALIZED VIEW ... CONCURRENTLY` does, without the part of it that
    costs most on a wide view: before diffing, PostgreSQL checks the new rows for duplicates by
    sorting every row that has no null column by its whole-row image. Here the key alone is
    checked (a unique index on the new rows), and the rows are matched on the key.

    A refresh is the procedure `<model schema>_meta.<relation>__refresh()`, which the
    materialization writes with the model's SQL in it, so the Dagster sensor
    (orchestration/lib/maintained.py) refreshes the table without dbt. In one transaction it
      1. takes an EXCLUSIVE lock on the table (readers' ACCESS SHARE never waits for it; a second
         refresh waits for the first);
      2. runs the model's query into a temporary table with a unique index on the key, which
         fails, naming the key, when the query returns a key twice, and analyzes it at the
         refresh's statistics target (safe_mv__refresh_statistics_target);
      3. deletes the rows whose key is gone, updates the rows whose columns differ, inserts the
         new keys: an unchanged row is not written, so a refresh with nothing changed writes
         nothing.
    Readers see the old rows until the commit, then all the new ones.

    * unchanged definition -> call the procedure (rewritten with the current SQL first);
    * new relation, --full-refresh, a changed definition (fingerprint), or a relation of another
      kind (the materialized view it replaces) -> the table and its indexes are built aside and
      swapped in as keyed_incremental_table does, re-pointing dependent views.

    Config keys: unique_key (required, declared in `indexes` as unique), nullable_key_columns,
    indexes, analyze,
    swap_lock_timeout, swap_attempts, grants, persist_docs, contract (see
    _materializations__macros.yml and docs/materialized_views.md).
-#}
{% materialization maintained_table, adapter='postgres' %}

    {%- set started_at = modules.datetime.datetime.now() -%}
    {%- set cached_relation = load_cached_relation(this) -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set intermediate_relation = make_intermediate_relation(target_relation, '__vv_new') -%}
    {%- set backup_relation = make_backup_relation(target_relation, 'table', '__vv_old') -%}
    {%- set index_specs = safe_mv__index_specs(target_relation) -%}
    {%- set settings = maintained_table__settings(target_relation, index_specs) -%}
    {%- set fingerprint = safe_mv__fingerprint(
        'maintained_table/1 unique_key: ' ~ settings.unique_key | join(', ') ~ '\n' ~ sql, index_specs
    ) -%}
    {%- set grant_config = config.get('grants') -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}

    {#- One transaction from here to `adapter.commit()`. -#}
    {%- do keyed_incremental__begin(cached_relation, target_relation) -%}
    {{ safe_mv__drop_leftover(intermediate_relation) }}
    {{ safe_mv__drop_leftover(backup_relation) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {%- set existing = safe_mv__describe(target_relation) -%}
    {%- set rebuild_reason = keyed_incremental__rebuild_reason(existing, fingerprint, settings) -%}

    {%- if rebuild_reason is none -%}
        {%- set columns = safe_mv__relation_columns(target_relation) -%}
        {%- do keyed_incremental__check_contract(target_relation, columns, 'the existing relation') -%}
        {%- do maintained_table__write_procedure(target_relation, sql, columns, settings) -%}
        {%- set refresh_started_at = modules.datetime.datetime.now() -%}
        {%- call statement('main') -%}
            call {{ settings.procedure }}()
        {%- endcall -%}
        {%- set outcome = 'merged on its key in ' ~ safe_mv__seconds_since(refresh_started_at) ~ 's' -%}
        {%- do keyed_incremental__persist_docs(target_relation, fingerprint, columns, existing.comment) -%}
        {% do apply_grants(target_relation, grant_config, should_revoke=should_revoke(cached_relation, full_refresh_mode=True)) %}
    {%- else -%}
        {%- set outcome = keyed_incremental__build_and_swap(
            target_relation, intermediate_relation, backup_relation, sql, index_specs, fingerprint,
            settings, rebuild_reason, grant_config
        ) -%}
        {%- do maintained_table__check_nullable_key(target_relation, settings) -%}
        {%- do maintained_table__write_procedure(
            target_relation, sql, safe_mv__relation_columns(target_relation), settings
        ) -%}
    {%- endif -%}
    {%- do keyed_incremental__record_refresh(target_relation) -%}

    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {{ adapter.commit() }}

    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ log(
        'maintained_table ' ~ target_relation ~ ': ' ~ outcome
        ~ ' (total ' ~ safe_mv__seconds_since(started_at) ~ 's)',
        info=true
    ) }}

    {{ return({'relations': [target_relation]}) }}

{% endmaterialization %}


{#- safe_mv__settings, the grain (`unique_key`, a unique index of `indexes`) and the procedure. -#}
{% macro maintained_table__settings(relation, index_specs) %}
    {%- set unique_key = keyed_incremental__unique_key(index_specs, 'maintained_table ' ~ model.name ~ ': ') -%}
    {%- set state_schema = keyed_incremental__state_schema(relation) -%}
    {%- set nullable_key = keyed_incremental__names(config.get('nullable_key_columns')) -%}
    {%- for name in nullable_key if name not in unique_key -%}
        {%- do exceptions.raise_compiler_error(
            'maintained_table ' ~ model.name ~ ': nullable_key_columns lists ' ~ name
            ~ ', which is not a column of unique_key ' ~ unique_key | tojson
        ) -%}
    {%- endfor -%}
    {%- set settings = safe_mv__settings(index_specs) -%}
    {%- do settings.update({
        'label': 'maintained_table',
        'unique_key': unique_key,
        'nullable_key': nullable_key,
        'streams': [],
        'state_schema': state_schema,
        'procedure': keyed_incremental__procedure(relation, 'maintained_table'),
    }) -%}
    {{ return(settings) }}
{% endmacro %}


{#-
    A key with a nullable column repeated in the rows just built: the grain's unique index lets
    it through (nulls are distinct to it), the refresh procedure's check would not. The error,
    raised before the commit, keeps the old relation.
-#}
{% macro maintained_table__check_nullable_key(relation, settings) %}
    {%- if settings.nullable_key -%}
        {%- set keys = settings.unique_key -%}
        {%- set query -%}
            select {% for key in keys %}coalesce({{ adapter.quote(key) }}::text, 'null'){{ ', ' if not loop.last }}{% endfor %}
            from {{ relation }}
            group by {{ keyed_incremental__column_list(keys) }}
            having count(*) > 1
            limit 1
        {%- endset -%}
        {%- set repeated = run_query(query) -%}
        {%- if repeated.rows | length > 0 -%}
            {%- do exceptions.raise_compiler_error(
                'maintained_table: the query of ' ~ relation.include(database=false) | replace('"', '')
                ~ ' returns more than one row for a key (' ~ keys | join(', ') ~ '): Key ('
                ~ keys | join(', ') ~ ')=(' ~ repeated.rows[0] | join(', ') ~ ') is duplicated.'
            ) -%}
        {%- endif -%}
    {%- endif -%}
{% endmacro %}


{#-
    (Re)write the refresh procedure with the model's SQL: owned by dbt's role, executable by no
    one else (a procedure is executable by PUBLIC unless revoked). Its text names no database: a
    PostgreSQL session reaches only its own, and the procedure must keep working in a copy of the
    database (CREATE DATABASE ... TEMPLATE) or after a rename, as a materialized view (which
    stores its parsed query) does. dbt qualifies every relation of the compiled SQL with the
    database as the relation renders it; that prefix is removed.
-#}
{% macro maintained_table__write_procedure(target_relation, model_sql, columns, settings) %}
    {%- set relation = target_relation.include(database=false) -%}
    {%- set database_prefix = target_relation.include(schema=false, identifier=false) ~ '.' -%}
    {%- set compiled_sql = model_sql | replace(database_prefix, '') -%}
    {%- set names = columns | map(attribute='name') | list -%}
    {%- set keys = settings.unique_key -%}
    {%- set values = [] -%}
    {%- for name in names if name not in keys -%}
        {%- do values.append(name) -%}
    {%- endfor -%}
    {#- A nullable key column matches null to null; the others carry the (hash) join. -#}
    {%- set key_match -%}
        {%- for key in keys -%}
            {{ ' and ' if not loop.first }}current_rows.{{ adapter.quote(key) }}
            {{- ' is not distinct from ' if key in settings.nullable_key else ' = ' -}}
            existing.{{ adapter.quote(key) }}
        {%- endfor -%}
    {%- endset -%}
    {#- With no streams this only makes sure the schema is there. -#}
    {%- do keyed_incremental__build_states(target_relation, settings, none) -%}
    {%- call statement('refresh_procedure') -%}
        create or replace procedure {{ settings.procedure }}()
        language plpgsql
        as $maintained_table_refresh$
        declare
            failure_detail text;
            statistics_target text := current_setting('default_statistics_target');
            parallel_workers text := current_setting('max_parallel_workers_per_gather');
        begin
            lock table {{ relation }} in exclusive mode;
            if to_regclass('pg_temp.maintained_table__rows') is not null then
                drop table pg_temp.maintained_table__rows;
            end if;
            perform set_config('max_parallel_workers_per_gather', '{{ safe_mv__refresh_parallel_workers() }}', true);
            create temporary table maintained_table__rows on commit drop as
            {{ compiled_sql }};
            perform set_config('max_parallel_workers_per_gather', parallel_workers, true);
            begin
                create unique index on maintained_table__rows ({{ keyed_incremental__column_list(keys) }})
                {{- ' nulls not distinct' if settings.nullable_key }};
            exception when unique_violation then
                get stacked diagnostics failure_detail = pg_exception_detail;
                raise exception
                    'maintained_table: the query of {{ relation | replace("\"", "") }} returns more than one row for a key ({{ keys | join(", ") }}): %',
                    failure_detail
                    using errcode = 'unique_violation';
            end;
            -- Row counts and distinct keys for the planner (a merge join on a prefix of the key
            -- rescans each group), sampled at the refresh's statistics target.
            perform set_config('default_statistics_target', '{{ safe_mv__refresh_statistics_target() }}', true);
            analyze maintained_table__rows;
            perform set_config('default_statistics_target', statistics_target, true);
            delete from {{ relation }} as existing
            where not exists (
                select from maintained_table__rows as current_rows
                where {{ key_match }}
            );
            {%- if values %}
            update {{ relation }} as existing
            set
                {%- for name in values %}
                {{ adapter.quote(name) }} = current_rows.{{ adapter.quote(name) }}{{ ',' if not loop.last }}
                {%- endfor %}
            from maintained_table__rows as current_rows
            where
                {{ key_match }}
                and ({{ keyed_incremental__column_list(values, 'existing') }}, null)
                is distinct from ({{ keyed_incremental__column_list(values, 'current_rows') }}, null);
            {%- endif %}
            insert into {{ relation }} ({{ keyed_incremental__column_list(names) }})
            select {{ keyed_incremental__column_list(names, 'current_rows') }}
            from maintained_table__rows as current_rows
            where not exists (
                select from {{ relation }} as existing
                where {{ key_match }}
            );
            drop table maintained_table__rows;
        end
        $maintained_table_refresh$;
        revoke all on procedure {{ settings.procedure }}() from public
    {%- endcall -%}
{% endmacro %}
