{#-
    keyed_incremental_table: a table that BI tools read while dbt keeps it current by rewriting only
    the rows whose inputs changed, in one transaction.

    The model declares its grain (`unique_key`) and its change streams: the upstream relations it
    reads, each with the key columns (columns of both the stream and the model) that tie a stream
    row to the model rows it shapes. A state table per stream keeps a fingerprint of every stream
    row as of the last build (keyed_incremental_table_state.sql).

    * unchanged definition -> the refresh procedure `<model schema>_meta.<relation>__refresh()`
      (keyed_incremental_table_refresh.sql) is rewritten with the model's SQL and called: the
      keys whose stream rows changed, appeared or disappeared are found (one hash join per stream
      against its state); the model rows holding those keys are deleted, the model's SQL is run
      for those keys only and its rows inserted, and the state is brought up to date. The whole
      run is one REPEATABLE READ transaction (every statement sees the same sources) that holds
      an EXCLUSIVE lock on the table: readers (ACCESS SHARE) never wait for it, keep seeing the
      previous rows until the commit, then all of the new ones. Dagster calls the same procedure
      without dbt when only the sources changed (orchestration/lib/maintained.py).
    * new relation, --full-refresh, a changed definition (fingerprint), missing state, or a
      relation of another kind (e.g. the materialized view it replaces) -> the table, its indexes
      and its state are built aside and the table is swapped in as safe_materialized_view does,
      re-pointing dependent views; the refresh procedure is written for the new definition.

    With `change_capture: true`, triggers on the tables under each stream log what was written
    (keyed_incremental_table_capture.sql), and a refresh reads that log instead of its streams.

    Config keys: unique_key, change_streams, indexes, analyze, swap_lock_timeout, swap_attempts,
    key_filter_limit, refresh_parallel_workers, change_capture, grants, persist_docs, contract (see
    _materializations__macros.yml and docs/materialized_views.md).
-#}
{% materialization keyed_incremental_table, adapter='postgres' %}

    {%- set started_at = modules.datetime.datetime.now() -%}
    {%- set cached_relation = load_cached_relation(this) -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set intermediate_relation = make_intermediate_relation(target_relation, '__vv_new') -%}
    {%- set backup_relation = make_backup_relation(target_relation, 'table', '__vv_old') -%}
    {%- set index_specs = safe_mv__index_specs(target_relation) -%}
    {%- set settings = keyed_incremental__settings(target_relation, index_specs) -%}
    {%- set grant_config = config.get('grants') -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}

    {#- The change capture's triggers, committed before the run's snapshot (or, without
        `change_capture`, removed when an earlier definition left them). -#}
    {%- do keyed_incremental__install_capture(target_relation, settings) -%}

    {#- One transaction from here to `adapter.commit()`. -#}
    {%- do keyed_incremental__begin(cached_relation, target_relation) -%}
    {{ safe_mv__drop_leftover(intermediate_relation) }}
    {{ safe_mv__drop_leftover(backup_relation) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {%- set existing = safe_mv__describe(target_relation) -%}
    {%- set lineage = keyed_incremental__lineage(settings) -%}
    {%- set fingerprint = keyed_incremental__fingerprint(sql, index_specs, settings, lineage) -%}
    {%- set rebuild_reason = keyed_incremental__rebuild_reason(existing, fingerprint, settings) -%}

    {%- if rebuild_reason is none -%}
        {%- set outcome = keyed_incremental__apply_changes(target_relation, existing, sql, fingerprint, settings) -%}
        {% do apply_grants(target_relation, grant_config, should_revoke=should_revoke(cached_relation, full_refresh_mode=True)) %}
    {%- else -%}
        {%- set outcome = keyed_incremental__build_and_swap(
            target_relation, intermediate_relation, backup_relation, sql, index_specs, fingerprint,
            settings, rebuild_reason, grant_config
        ) -%}
        {%- do keyed_incremental__write_procedure(
            target_relation, sql, safe_mv__relation_columns(target_relation), settings, fingerprint
        ) -%}
    {%- endif -%}
    {%- do keyed_incremental__record_refresh(target_relation) -%}

    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {{ adapter.commit() }}

    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ log(
        'keyed_incremental_table ' ~ target_relation ~ ': ' ~ outcome
        ~ ' (total ' ~ safe_mv__seconds_since(started_at) ~ 's)',
        info=true
    ) }}

    {{ return({'relations': [target_relation]}) }}

{% endmaterialization %}


{#-
    The first statements of the run's transaction: REPEATABLE READ, so that finding the changes,
    computing the new rows and writing the state all see the same snapshot of the sources; then,
    when the relation is already a table, an EXCLUSIVE lock on it (taken before the snapshot), which
    makes a concurrent run of the same model wait instead of both applying the same changes.
    Readers' ACCESS SHARE does not conflict with it.
-#}
{% macro keyed_incremental__begin(cached_relation, relation) %}
    {%- call statement('isolation') -%}
        set transaction isolation level repeatable read
    {%- endcall -%}
    {%- if cached_relation is not none and cached_relation.is_table -%}
        {%- call statement('lock') -%}
            lock table {{ relation }} in exclusive mode
        {%- endcall -%}
    {%- endif -%}
{% endmacro %}


{#- none when only the changed keys need applying, else why the table is built aside and swapped in. -#}
{% macro keyed_incremental__rebuild_reason(existing, fingerprint, settings) %}
    {%- if existing is none -%}
        {{ return('created') }}
    {%- elif existing.relkind != 'r' -%}
        {{ return('rebuilt (replacing a ' ~ existing.kind ~ ')') }}
    {%- elif should_full_refresh() -%}
        {{ return('rebuilt (--full-refresh)') }}
    {%- elif existing.fingerprint is none -%}
        {{ return('rebuilt (no fingerprint on the existing relation)') }}
    {%- elif existing.fingerprint != fingerprint -%}
        {{ return('rebuilt (fingerprint changed: ' ~ existing.fingerprint ~ ' -> ' ~ fingerprint ~ ')') }}
    {%- endif -%}
    {%- set stale = keyed_incremental__stale_states(settings, fingerprint) -%}
    {%- if stale -%}
        {{ return('rebuilt (no current change state for ' ~ stale | join(', ') ~ ')') }}
    {%- endif -%}
    {{ return(none) }}
{% endmacro %}


{#- Fail the build, leaving the relation as it was, when its columns drift from the enforced contract. -#}
{% macro keyed_incremental__check_contract(relation, columns, checked_what) %}
    {%- set problems = safe_mv__contract_problems(columns) -%}
    {%- if problems and config.get('contract').enforced -%}
        {%- do exceptions.raise_compiler_error(
            'keyed_incremental_table: the enforced contract of ' ~ model.name ~ ' does not match '
            ~ checked_what ~ ' (' ~ relation ~ '); ' ~ this ~ ' was left as it was.\n  - '
            ~ problems | join('\n  - ')
        ) -%}
    {%- elif problems and model.columns.values() | selectattr('data_type') | list -%}
        {%- do exceptions.warn(
            'keyed_incremental_table: the YAML columns of ' ~ model.name ~ ' drift from '
            ~ checked_what ~ ' (' ~ relation ~ '):\n  - ' ~ problems | join('\n  - ')
        ) -%}
    {%- endif -%}
{% endmacro %}


{#-
    The incremental path: the refresh procedure (keyed_incremental_table_refresh.sql) is
    rewritten with the model's current SQL and called; it finds the changed keys of every stream
    and, when there are any, rewrites the rows holding them.
-#}
{% macro keyed_incremental__apply_changes(relation, existing, compiled_sql, fingerprint, settings) %}
    {%- set columns = safe_mv__relation_columns(relation) -%}
    {%- do keyed_incremental__check_contract(relation, columns, 'the existing relation') -%}
    {%- do keyed_incremental__persist_docs(relation, fingerprint, columns, existing.comment) -%}
    {%- do keyed_incremental__write_procedure(relation, compiled_sql, columns, settings, fingerprint) -%}
    {{ return(keyed_incremental__call_procedure(relation)) }}
{% endmacro %}


{#- Build the table, its indexes and its state aside; check it; swap it in. -#}
{% macro keyed_incremental__build_and_swap(
    target_relation, intermediate_relation, backup_relation, compiled_sql, index_specs, fingerprint,
    settings, rebuild_reason, grant_config
) %}
    {%- set build_started_at = modules.datetime.datetime.now() -%}
    {%- call statement('main') -%}
        create table {{ intermediate_relation }} as
        {{ compiled_sql }}
    {%- endcall -%}

    {%- set columns = safe_mv__relation_columns(intermediate_relation) -%}
    {%- do keyed_incremental__check_contract(intermediate_relation, columns, 'the newly built relation') -%}

    {%- for spec in index_specs -%}
        {%- call statement('create_index') -%}
            create {{ 'unique ' if spec.unique }}index "{{ spec.temp_name }}"
            on {{ intermediate_relation }} using {{ spec.method }} ({{ spec.columns | join(', ') }})
        {%- endcall -%}
    {%- endfor -%}

    {%- if settings.analyze -%}
        {%- call statement('analyze') -%}
            analyze {{ intermediate_relation }}
        {%- endcall -%}
    {%- endif -%}

    {%- do keyed_incremental__persist_docs(intermediate_relation, fingerprint, columns) -%}
    {%- do apply_grants(intermediate_relation, grant_config, should_revoke=false) -%}
    {%- do keyed_incremental__build_states(target_relation, settings, fingerprint) -%}
    {%- set build_seconds = safe_mv__seconds_since(build_started_at) -%}

    {%- set swap_started_at = modules.datetime.datetime.now() -%}
    {%- call statement('swap') -%}
        {{ keyed_incremental__swap_sql(
            target_relation, intermediate_relation, backup_relation, index_specs, settings,
            label=settings.get('label', 'keyed_incremental_table')
        ) }}
    {%- endcall -%}

    {{ return(
        rebuild_reason ~ ': built aside' ~ (' with its change state' if settings.streams else '')
        ~ ' in ' ~ build_seconds ~ 's'
        ~ (' and analyzed' if settings.analyze else '')
        ~ ', swapped in ' ~ safe_mv__seconds_since(swap_started_at) ~ 's'
    ) }}
{% endmacro %}


{#-
    The relation comment (description + fingerprint marker) and, with persist_docs, the column
    comments; only those that differ from what the table has are written.
-#}
{% macro keyed_incremental__persist_docs(relation, fingerprint, columns, current_comment=none) %}
    {%- set comment = safe_mv__relation_comment(fingerprint) -%}
    {%- set statements = [] -%}
    {%- if comment != current_comment -%}
        {%- do statements.append('comment on table ' ~ relation ~ ' is ' ~ postgres_escape_comment(comment)) -%}
    {%- endif -%}
    {%- if config.persist_column_docs() and model.columns -%}
        {%- set current_comments = {} -%}
        {%- for column in columns -%}
            {%- do current_comments.update({column.name: column.comment}) -%}
        {%- endfor -%}
        {%- for name, column in model.columns.items() -%}
            {%- set column_name = name if column.get('quote') else name | lower -%}
            {%- set description = column.get('description') or '' -%}
            {%- if column_name in current_comments and current_comments[column_name] != description -%}
                {%- do statements.append(
                    'comment on column ' ~ relation ~ '.' ~ adapter.quote(column_name)
                    ~ ' is ' ~ postgres_escape_comment(description)
                ) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if statements -%}
        {%- call statement('persist_docs') -%}
            {{ statements | join(';\n') }}
        {%- endcall -%}
    {%- endif -%}
{% endmacro %}


{#-
    Record the refresh in the refresh log (value_view_record_refresh, macros/utils/refresh_log.sql),
    in the run's transaction, when the project has it.
-#}
{% macro keyed_incremental__record_refresh(relation) %}
    {%- if value_view_record_refresh is defined -%}
        {%- call statement('record_refresh') -%}
            {{ value_view_record_refresh(relation) }}
        {%- endcall -%}
    {%- endif -%}
{% endmacro %}
