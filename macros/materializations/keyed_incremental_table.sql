{#-
    keyed_incremental_table: a table that BI tools read while dbt keeps it current by rewriting only
    the rows whose inputs changed, in one transaction.

    The model declares its grain (`unique_key`) and its change streams: the upstream relations it
    reads, each with the key columns (columns of both the stream and the model) that tie a stream
    row to the model rows it shapes. A state table per stream keeps a fingerprint of every stream
    row as of the last build (keyed_incremental_table_streams.sql).

    * unchanged definition -> the keys whose stream rows changed, appeared or disappeared are
      found (one hash join per stream against its state); the model rows holding those keys are
      deleted, the model's SQL is run for those keys only and its rows inserted, and the state is
      brought up to date. The whole run is one REPEATABLE READ transaction (every statement sees
      the same sources) that holds an EXCLUSIVE lock on the table: readers (ACCESS SHARE) never
      wait for it, keep seeing the previous rows until the commit, then all of the new ones.
    * new relation, --full-refresh, a changed definition (fingerprint), missing state, or a
      relation of another kind (e.g. the materialized view it replaces) -> the table, its indexes
      and its state are built aside and the table is swapped in as safe_materialized_view does,
      re-pointing dependent views.

    Config keys: unique_key, change_streams, indexes, analyze, swap_lock_timeout, swap_attempts,
    key_filter_limit, refresh_parallel_workers, grants, persist_docs, contract (see
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
    The incremental path: find the changed keys of every stream; when there are any, compute the
    model's rows for them, delete the rows holding them, insert the new ones, update the state.
-#}
{% macro keyed_incremental__apply_changes(relation, existing, compiled_sql, fingerprint, settings) %}
    {%- set columns = safe_mv__relation_columns(relation) -%}
    {%- do keyed_incremental__check_contract(relation, columns, 'the existing relation') -%}
    {#- A refresh reads whole streams but keeps few rows: a parallel plan's workers start, and
        funnel their rows through one Gather, at a cost a small result does not repay. -#}
    {%- call statement('refresh_parallel_workers') -%}
        set local max_parallel_workers_per_gather = {{ settings.parallel_workers }}
    {%- endcall -%}

    {%- set found_started_at = modules.datetime.datetime.now() -%}
    {%- set changed_streams = [] -%}
    {%- set counts = [] -%}
    {%- for stream in settings.streams -%}
        {%- set changed = keyed_incremental__find_changes(stream) -%}
        {%- if changed > 0 -%}
            {%- do changed_streams.append(stream) -%}
            {%- do counts.append(stream.name ~ ' ' ~ changed) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set found_seconds = safe_mv__seconds_since(found_started_at) -%}
    {%- set by_digest = settings.streams | selectattr('unchanged_by_digest', 'defined') | list | length -%}
    {%- set checked = 'checked in ' ~ found_seconds ~ 's, ' ~ by_digest ~ ' unchanged by their digest' -%}
    {%- do keyed_incremental__persist_docs(relation, fingerprint, columns, existing.comment) -%}
    {%- if not changed_streams -%}
        {#- dbt expects a `main` statement: one that writes nothing (its status reads INSERT 0 0). -#}
        {%- call statement('main') -%}
            insert into {{ relation }} select * from {{ relation }} where false
        {%- endcall -%}
        {{ return('unchanged: no change in ' ~ settings.streams | length ~ ' streams (' ~ checked ~ ')') }}
    {%- endif -%}

    {%- set apply_started_at = modules.datetime.datetime.now() -%}
    {%- set column_names = columns | map(attribute='name') | list -%}
    {%- call statement('new_rows') -%}
        create temporary table keyed_incremental__rows on commit drop as
        select * from {{ relation }} with no data;
        create unique index on keyed_incremental__rows ({{ keyed_incremental__column_list(settings.unique_key) }})
    {%- endcall -%}
    {%- for stream in changed_streams -%}
        {%- set key_filters = [] -%}
        {%- for key in stream.key_columns -%}
            {%- set values = keyed_incremental__key_values(stream, key, columns, settings) -%}
            {%- if values is not none -%}
                {%- do key_filters.append('model_rows.' ~ adapter.quote(key) ~ ' = any(' ~ values ~ ')') -%}
            {%- endif -%}
        {%- endfor -%}
        {%- call statement('new_rows_' ~ stream.name) -%}
            insert into keyed_incremental__rows ({{ keyed_incremental__column_list(column_names) }})
            select {{ keyed_incremental__column_list(column_names, 'model_rows') }}
            from (
                {{ compiled_sql }}
            ) as model_rows
            where
                {%- for key_filter in key_filters %}
                {{ key_filter }} and
                {%- endfor %}
                exists (
                    select
                    from {{ stream.changes }} as changes
                    where
                        {%- for key in stream.key_columns %}
                        {{ 'and ' if not loop.first }}changes.{{ adapter.quote(key) }} = model_rows.{{ adapter.quote(key) }}
                        {%- endfor %}
                )
            on conflict do nothing
        {%- endcall -%}
    {%- endfor -%}

    {%- set deleted = namespace(rows=0) -%}
    {%- for stream in changed_streams -%}
        {%- call statement('delete_' ~ stream.name, fetch_result=false) -%}
            delete from {{ relation }} as existing
            using (select distinct {{ keyed_incremental__column_list(stream.key_columns) }} from {{ stream.changes }}) as changes
            where
                {%- for key in stream.key_columns %}
                {{ 'and ' if not loop.first }}existing.{{ adapter.quote(key) }} = changes.{{ adapter.quote(key) }}
                {%- endfor %}
        {%- endcall -%}
        {%- set deleted.rows = deleted.rows + load_result('delete_' ~ stream.name)['response'].rows_affected -%}
    {%- endfor -%}
    {#- A new row whose grain is still held by a row no stream touched replaces that row. -#}
    {%- call statement('delete_replaced', fetch_result=false) -%}
        delete from {{ relation }} as existing
        using keyed_incremental__rows as fresh
        where
            {%- for key in settings.unique_key %}
            {{ 'and ' if not loop.first }}existing.{{ adapter.quote(key) }} = fresh.{{ adapter.quote(key) }}
            {%- endfor %}
    {%- endcall -%}
    {%- set deleted.rows = deleted.rows + load_result('delete_replaced')['response'].rows_affected -%}
    {%- call statement('main') -%}
        insert into {{ relation }} ({{ keyed_incremental__column_list(column_names) }})
        select {{ keyed_incremental__column_list(column_names) }}
        from keyed_incremental__rows
    {%- endcall -%}
    {%- set inserted = load_result('main')['response'].rows_affected -%}

    {%- for stream in changed_streams -%}
        {%- do keyed_incremental__update_state(stream) -%}
    {%- endfor -%}
    {%- set apply_seconds = safe_mv__seconds_since(apply_started_at) -%}

    {#- ANALYZE when the run rewrote a tenth of the table (autovacuum's default threshold). -#}
    {%- set analyzed = settings.analyze and (deleted.rows + inserted) >= 0.1 * keyed_incremental__row_estimate(relation) -%}
    {%- if analyzed -%}
        {%- call statement('analyze') -%}
            analyze {{ relation }}
        {%- endcall -%}
    {%- endif -%}

    {{ return(
        'updated incrementally: changed keys ' ~ counts | join(', ') ~ ' (' ~ checked ~ '); '
        ~ deleted.rows ~ ' rows deleted, ' ~ inserted ~ ' inserted in ' ~ apply_seconds ~ 's'
        ~ (', analyzed' if analyzed else '')
    ) }}
{% endmacro %}


{#-
    The changed values of one key column of `stream` as a typed array literal, so the planner can
    push `model.key = any(...)` down to the scans of the model's inputs; none when there are more
    than `key_filter_limit` of them (the exact `exists` filter alone then applies).
-#}
{% macro keyed_incremental__key_values(stream, key, columns, settings) %}
    {%- set types = {} -%}
    {%- for column in columns -%}
        {%- do types.update({column.name: column.data_type}) -%}
    {%- endfor -%}
    {%- if key not in types -%}
        {%- do exceptions.raise_compiler_error(
            'keyed_incremental_table ' ~ model.name ~ ': key ' ~ key ~ ' of change stream ' ~ stream.name
            ~ ' is not a column of the model'
        ) -%}
    {%- endif -%}
    {%- set query -%}
        select
            count(distinct {{ adapter.quote(key) }}) as distinct_values,
            format('%L::%s[]', array_agg(distinct {{ adapter.quote(key) }})::text, {{ safe_mv__quote_literal(types[key]) }}) as literal
        from {{ stream.changes }}
    {%- endset -%}
    {%- set row = run_query(query).rows[0] -%}
    {%- if row['distinct_values'] > settings.box_limit -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(row['literal']) }}
{% endmacro %}


{#- The planner's row estimate of `relation` (pg_class.reltuples; 0 when never analyzed). -#}
{% macro keyed_incremental__row_estimate(relation) %}
    {%- set query -%}
        select greatest(reltuples, 0)::bigint as estimate
        from pg_catalog.pg_class
        where oid = {{ safe_mv__quote_literal(relation.include(database=false)) }}::regclass
    {%- endset -%}
    {{ return(run_query(query).rows[0]['estimate']) }}
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
