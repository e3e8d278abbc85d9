{#-
    The refresh procedure of a `keyed_incremental_table`: `<model schema>_meta.<relation>__refresh()`,
    written by dbt with the model's SQL in it, so that a refresh is one call, by dbt or by Dagster
    without dbt (orchestration/lib/maintained.py, refresh_in_place).

    Called first in a REPEATABLE READ transaction that holds an EXCLUSIVE lock on the table (taken
    before the transaction's first query, so that every statement sees the sources as they were
    when the lock was granted), it
      1. finds, per change stream, the keys whose stream rows changed, appeared or disappeared
         since the last refresh (keyed_incremental_table_streams.sql): none at once when the
         stream's rows give the digest its state keeps. That digest is skipped (it would differ)
         when PostgreSQL's statistics count writes to the tables under the stream since the
         last refresh; uncounted writes are still caught by it;
      2. when there are any, runs the model's SQL for those keys only (the changed values of each
         key column pushed down as `= any(<array>)` when there are at most `key_filter_limit` of
         them), deletes the rows holding them, inserts the new rows, brings the state up to date
         and analyzes the table when a tenth of it was rewritten.
    What it did is left in the transaction's setting `value_view.keyed_incremental_outcome`.
    The procedure refuses to run on a table or a state built from another definition.

    Its text names no database (as maintained_table's procedure): it keeps working in a copy of
    the database or after a rename.
-#}

{#-
    The refresh procedure's name, quoted: `"<model schema>_meta"."<relation>__refresh"` (also
    maintained_table's, whose materialization is `label`).
-#}
{% macro keyed_incremental__procedure(relation, label='keyed_incremental_table') -%}
    {%- set name = relation.identifier ~ '__refresh' -%}
    {%- if name | length > 63 -%}
        {%- do exceptions.raise_compiler_error(
            label ~ ' ' ~ model.name ~ ': the refresh procedure name ' ~ name
            ~ ' is longer than 63 characters (PostgreSQL would cut it); shorten the relation name'
        ) -%}
    {%- endif -%}
    {{ return(adapter.quote(keyed_incremental__state_schema(relation)) ~ '.' ~ adapter.quote(name)) }}
{%- endmacro %}


{#- The transaction setting the procedure leaves its outcome in. -#}
{% macro keyed_incremental__outcome_setting() -%}
    value_view.keyed_incremental_outcome
{%- endmacro %}


{#- PL/pgSQL: seconds since the timestamp variable `since`, as text with two decimals. -#}
{% macro keyed_incremental__seconds_sql(since) -%}
    to_char(extract(epoch from clock_timestamp() - {{ since }}), 'FM9999990.00')
{%- endmacro %}


{#- PL/pgSQL: raise unless the comment of `relation` (a quoted literal) holds `marker`. -#}
{% macro keyed_incremental__require_marker_sql(relation_literal, marker, what) -%}
    if position({{ safe_mv__quote_literal(marker) }} in coalesce(obj_description({{ relation_literal }}::regclass, 'pg_class'), '')) = 0 then
        raise exception 'keyed_incremental_table: % was built from another definition than this refresh procedure; run dbt to rebuild it',
            {{ safe_mv__quote_literal(what) }}
            using errcode = 'object_not_in_prerequisite_state';
    end if;
{%- endmacro %}


{#- (Re)write the refresh procedure of `target_relation` with the model's SQL. -#}
{% macro keyed_incremental__write_procedure(target_relation, model_sql, columns, settings, fingerprint) %}
    {%- set database_prefix = target_relation.include(schema=false, identifier=false) ~ '.' -%}
    {%- set relation = target_relation.include(database=false) -%}
    {%- set relation_literal = safe_mv__quote_literal(relation) -%}
    {%- set procedure = keyed_incremental__procedure(target_relation) -%}
    {%- set marker = safe_mv__fingerprint_marker(fingerprint) -%}
    {%- set quote_tag = '$keyed_incremental_sql$' -%}
    {%- if quote_tag in model_sql -%}
        {%- do exceptions.raise_compiler_error(
            'keyed_incremental_table ' ~ model.name ~ ': the model SQL holds ' ~ quote_tag
            ~ ', which its refresh procedure quotes it with'
        ) -%}
    {%- endif -%}
    {%- set column_names = columns | map(attribute='name') | list -%}
    {%- set stream_tables = keyed_incremental__stream_tables(settings) -%}
    {%- set types = {} -%}
    {%- for column in columns -%}
        {%- do types.update({column.name: column.data_type}) -%}
    {%- endfor -%}
    {%- for stream in settings.streams -%}
        {%- for key in stream.key_columns if key not in types -%}
            {%- do exceptions.raise_compiler_error(
                'keyed_incremental_table ' ~ model.name ~ ': key ' ~ key ~ ' of change stream '
                ~ stream.name ~ ' is not a column of the model'
            ) -%}
        {%- endfor -%}
    {%- endfor -%}

    {%- set body -%}
        create or replace procedure {{ procedure }}()
        language plpgsql
        as $keyed_incremental_refresh$
        declare
            started_at timestamptz := clock_timestamp();
            applied_at timestamptz;
            kept_digest text;
            stream_digest text;
            kept_activity text;
            stream_activity text;
            changed bigint;
            changed_streams text[] := '{}';
            counts text[] := '{}';
            unchanged_by_digest integer := 0;
            compared_at_once integer := 0;
            checked text;
            key_filters text;
            distinct_values bigint;
            key_literal text;
            step_rows bigint;
            deleted bigint := 0;
            inserted bigint := 0;
            analyzed boolean := false;
        begin
            if current_setting('transaction_isolation') <> 'repeatable read' then
                raise exception 'keyed_incremental_table: call % first in a REPEATABLE READ transaction that has locked % in EXCLUSIVE mode',
                    {{ safe_mv__quote_literal(procedure) }}, {{ relation_literal }}
                    using errcode = 'invalid_transaction_state';
            end if;
            {{ keyed_incremental__require_marker_sql(relation_literal, marker, relation) }}
            lock table {{ relation }} in exclusive mode;
            {#- A refresh reads whole streams but keeps few rows: a parallel plan's workers start,
                and funnel their rows through one Gather, at a cost a small result does not repay. #}
            perform set_config('max_parallel_workers_per_gather', '{{ settings.parallel_workers }}', true);

            {%- for stream in settings.streams %}
            {%- set state_literal = safe_mv__quote_literal(stream.state.include(database=false)) %}

            -- change stream {{ stream.name }}: its keys whose rows changed since the last refresh
            {{ keyed_incremental__require_marker_sql(state_literal, marker, stream.state.include(database=false)) }}
            kept_digest := substring(
                obj_description({{ state_literal }}::regclass, 'pg_class')
                from {{ safe_mv__quote_literal(keyed_incremental__digest_pattern()) }}
            );
            kept_activity := substring(
                obj_description({{ state_literal }}::regclass, 'pg_class')
                from '\[value_view:stream_activity=([^]]*)\]'
            );
            {{ keyed_incremental__stream_activity_plpgsql(stream_tables[stream.name]) | indent(12) }}
            stream_digest := null;
            if stream_activity is distinct from kept_activity then
                -- Written since the last refresh (as far as the statistics tell): the digest
                -- would differ; straight to the comparison.
                {{ keyed_incremental__state_marker_plpgsql(stream, 'stream_activity') | indent(16) }}
                compared_at_once := compared_at_once + 1;
            elsif kept_digest is not null then
                select count(*) || ':' || coalesce(sum(current_rows.fingerprint), 0)
                into stream_digest
                from (
                    {{ keyed_incremental__stream_rows_sql(stream) | indent(20) }}
                ) as current_rows;
            end if;
            if stream_digest = kept_digest then
                unchanged_by_digest := unchanged_by_digest + 1;
            else
                if to_regclass('pg_temp.{{ stream.changes }}') is not null then
                    drop table pg_temp.{{ stream.changes }};
                end if;
                create temporary table {{ stream.changes }} on commit drop as
                {{ keyed_incremental__changes_sql(stream) | indent(16) }};
                get diagnostics changed = row_count;
                if changed > 0 then
                    analyze {{ stream.changes }};
                    changed_streams := changed_streams || {{ safe_mv__quote_literal(stream.name) }}::text;
                    counts := counts || ({{ safe_mv__quote_literal(stream.name ~ ' ') }} || changed);
                else
                    -- No change, yet no digest or another one: the state's own digest from now on.
                    {{ keyed_incremental__record_digest_plpgsql(stream) | indent(20) }}
                end if;
            end if;
            {%- endfor %}

            checked := 'checked in ' || {{ keyed_incremental__seconds_sql('started_at') }} || 's, '
                || unchanged_by_digest || ' unchanged by their digest'
                || case
                    when compared_at_once > 0
                        then ', ' || compared_at_once || ' written since (compared at once)'
                    else ''
                end;
            if cardinality(changed_streams) = 0 then
                perform set_config(
                    '{{ keyed_incremental__outcome_setting() }}',
                    'unchanged: no change in {{ settings.streams | length }} streams (' || checked || ')',
                    true
                );
                return;
            end if;

            -- The model's rows for the changed keys of every changed stream.
            applied_at := clock_timestamp();
            if to_regclass('pg_temp.keyed_incremental__rows') is not null then
                drop table pg_temp.keyed_incremental__rows;
            end if;
            create temporary table keyed_incremental__rows on commit drop as
            select * from {{ relation }} with no data;
            create unique index on keyed_incremental__rows ({{ keyed_incremental__column_list(settings.unique_key) }});
            {%- for stream in settings.streams %}
            if {{ safe_mv__quote_literal(stream.name) }} = any(changed_streams) then
                key_filters := '';
                {%- for key in stream.key_columns %}
                select
                    count(distinct {{ adapter.quote(key) }}),
                    format('%L::%s[]', array_agg(distinct {{ adapter.quote(key) }})::text, {{ safe_mv__quote_literal(types[key]) }})
                into distinct_values, key_literal
                from {{ stream.changes }};
                if distinct_values <= {{ settings.box_limit }} then
                    key_filters := key_filters || 'model_rows.{{ adapter.quote(key) }} = any(' || key_literal || ') and ';
                end if;
                {%- endfor %}
                execute {{ quote_tag }}
                    insert into keyed_incremental__rows ({{ keyed_incremental__column_list(column_names) }})
                    select {{ keyed_incremental__column_list(column_names, 'model_rows') }}
                    from (
                        {{ model_sql }}
                    ) as model_rows
                    where {{ quote_tag }} || key_filters || {{ quote_tag }}exists (
                        select
                        from {{ stream.changes }} as changes
                        where
                            {%- for key in stream.key_columns %}
                            {{ 'and ' if not loop.first }}changes.{{ adapter.quote(key) }} = model_rows.{{ adapter.quote(key) }}
                            {%- endfor %}
                    )
                    on conflict do nothing
                {{ quote_tag }};
            end if;
            {%- endfor %}

            -- The rows holding a changed key go; a new row whose grain is still held by a row no
            -- stream touched replaces that row.
            {%- for stream in settings.streams %}
            if {{ safe_mv__quote_literal(stream.name) }} = any(changed_streams) then
                delete from {{ relation }} as existing
                using (
                    select distinct {{ keyed_incremental__column_list(stream.key_columns) }}
                    from {{ stream.changes }}
                ) as changes
                where
                    {%- for key in stream.key_columns %}
                    {{ 'and ' if not loop.first }}existing.{{ adapter.quote(key) }} = changes.{{ adapter.quote(key) }}
                    {%- endfor %};
                get diagnostics step_rows = row_count;
                deleted := deleted + step_rows;
            end if;
            {%- endfor %}
            delete from {{ relation }} as existing
            using keyed_incremental__rows as fresh
            where
                {%- for key in settings.unique_key %}
                {{ 'and ' if not loop.first }}existing.{{ adapter.quote(key) }} = fresh.{{ adapter.quote(key) }}
                {%- endfor %};
            get diagnostics step_rows = row_count;
            deleted := deleted + step_rows;
            insert into {{ relation }} ({{ keyed_incremental__column_list(column_names) }})
            select {{ keyed_incremental__column_list(column_names) }}
            from keyed_incremental__rows;
            get diagnostics inserted = row_count;

            -- The states, brought to the fingerprints found.
            {%- for stream in settings.streams %}
            if {{ safe_mv__quote_literal(stream.name) }} = any(changed_streams) then
                {{ keyed_incremental__update_state_plpgsql(stream) | indent(16) }}
            end if;
            {%- endfor %}

            {%- if settings.analyze %}
            -- ANALYZE when the run rewrote a tenth of the table (autovacuum's default threshold).
            if deleted + inserted >= 0.1 * (
                select greatest(reltuples, 0) from pg_catalog.pg_class where oid = {{ relation_literal }}::regclass
            ) then
                analyze {{ relation }};
                analyzed := true;
            end if;
            {%- endif %}

            perform set_config(
                '{{ keyed_incremental__outcome_setting() }}',
                'updated incrementally: changed keys ' || array_to_string(counts, ', ') || ' (' || checked || '); '
                    || deleted || ' rows deleted, ' || inserted || ' inserted in '
                    || {{ keyed_incremental__seconds_sql('applied_at') }} || 's'
                    || case when analyzed then ', analyzed' else '' end,
                true
            );
        end
        $keyed_incremental_refresh$;
        revoke all on procedure {{ procedure }}() from public
    {%- endset -%}
    {%- call statement('refresh_procedure') -%}
        {{ body | replace(database_prefix, '') }}
    {%- endcall -%}
{% endmacro %}


{#-
    Refresh the table by its procedure (the `main` statement of the run), in the run's
    transaction; what the procedure did.
-#}
{% macro keyed_incremental__call_procedure(relation) %}
    {%- call statement('main') -%}
        call {{ keyed_incremental__procedure(relation) }}()
    {%- endcall -%}
    {%- set query -%}
        select current_setting('{{ keyed_incremental__outcome_setting() }}', true) as outcome
    {%- endset -%}
    {{ return(run_query(query).rows[0]['outcome']) }}
{% endmacro %}
