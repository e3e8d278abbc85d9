{#-
    The refresh procedure of a `keyed_incremental_table`: `<model schema>_meta.<relation>__refresh()`,
    written by dbt with the model's SQL in it, so that a refresh is one call, by dbt or by Dagster
    without dbt (orchestration/lib/maintained.py, refresh_in_place).

    Called first in a REPEATABLE READ transaction that holds an EXCLUSIVE lock on the table (taken
    before the transaction's first query, so that every statement sees the sources as they were
    when the lock was granted), it
      1. finds, per change stream, the keys whose stream rows changed, appeared or disappeared
         since the last refresh (keyed_incremental_table_state.sql): none at once when the
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
    {%- set capture_plan = keyed_incremental__capture_plan(target_relation, settings, stream_tables) if settings.capture else {} -%}
    {%- set stream_key_types = keyed_incremental__stream_key_types(settings) if settings.capture else {} -%}
    {%- set key_lookups = keyed_incremental__key_lookups(settings, capture_plan) if settings.capture else {} -%}
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
            unchanged_by_capture integer := 0;
            compared_by_key integer := 0;
            looked_up integer := 0;
            compared_whole integer := 0;
            captured boolean;
            logged bigint;
            logged_whole boolean;
            capture_epoch text;
            compare text;
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
            {%- if settings.capture %}
            {{ keyed_incremental__capture_check_plpgsql(stream, capture_plan[stream.name]) | indent(12) }}
            {%- else %}
            captured := false;
            {%- endif %}
            compare := 'none';
            if captured and logged = 0 then
                unchanged_by_capture := unchanged_by_capture + 1;
            elsif captured and not logged_whole then
                compare := 'keys';
            elsif captured then
                -- A write outside the stream's keys (or a new capture): the whole stream.
                compare := 'all';
                compared_whole := compared_whole + 1;
            else
                kept_digest := substring(
                    obj_description({{ state_literal }}::regclass, 'pg_class')
                    from {{ safe_mv__quote_literal(keyed_incremental__digest_pattern()) }}
                );
                kept_activity := substring(
                    obj_description({{ state_literal }}::regclass, 'pg_class')
                    from '\[value_view:stream_activity=([^]]*)\]'
                );
                {{ keyed_incremental__stream_activity_plpgsql(stream_tables[stream.name]) | indent(16) }}
                stream_digest := null;
                if stream_activity is distinct from kept_activity then
                    -- Written since the last refresh (as far as the statistics tell): the digest
                    -- would differ; straight to the comparison.
                    {{ keyed_incremental__state_marker_plpgsql(stream, 'stream_activity') | indent(20) }}
                    compared_at_once := compared_at_once + 1;
                elsif kept_digest is not null then
                    select count(*) || ':' || coalesce(sum(current_rows.fingerprint), 0)
                    into stream_digest
                    from (
                        {{ keyed_incremental__stream_rows_sql(stream) | indent(24) }}
                    ) as current_rows;
                end if;
                if stream_digest = kept_digest then
                    unchanged_by_digest := unchanged_by_digest + 1;
                else
                    compare := 'all';
                end if;
            end if;
            if to_regclass('pg_temp.{{ stream.changes }}') is not null then
                drop table pg_temp.{{ stream.changes }};
            end if;
            {%- if settings.capture %}
            if compare = 'keys' then
                -- Only the keys the capture logged: the stream rows passing their filters
                -- (pushed down to the stream's scans as literals), the state rows by its index.
                if to_regclass('pg_temp.{{ stream.captured }}') is not null then
                    drop table pg_temp.{{ stream.captured }};
                end if;
                create temporary table {{ stream.captured }} (
                    {%- for key in stream.key_columns %}
                    {{ adapter.quote(key) }} {{ stream_key_types[stream.name][key] }}{{ ',' if not loop.last }}
                    {%- endfor %}
                ) on commit drop;
                insert into {{ stream.captured }}
                select distinct {{ keyed_incremental__column_list(stream.key_columns) }}
                from {{ capture_plan[stream.name].log.include(database=false) }}
                where
                    not whole_stream
                    {%- for key in stream.key_columns %}
                    and {{ adapter.quote(key) }} is not null
                    {%- endfor %};
                get diagnostics distinct_values = row_count;
                if distinct_values > {{ settings.box_limit }} then
                    compare := 'all';
                    compared_whole := compared_whole + 1;
                {%- if stream.name in key_lookups %}
                elsif distinct_values * {{ keyed_incremental__key_lookup_factor() }} <= (
                    select coalesce(sum(greatest(reltuples, 0)), 0)
                    from pg_catalog.pg_class
                    where oid = any(array[{% for table in key_lookups[stream.name] %}{{ safe_mv__quote_literal(table) }}{{ ', ' if not loop.last }}{% endfor %}]::regclass[])
                ) then
                    -- Few keys: each one's stream rows looked up through its key tables' index.
                    analyze {{ stream.captured }};
                    create temporary table {{ stream.changes }} on commit drop as
                    {{ keyed_incremental__changes_sql(stream, captured=stream.captured, look_up=true) | indent(20) }};
                    compared_by_key := compared_by_key + 1;
                    looked_up := looked_up + 1;
                {%- endif %}
                else
                    analyze {{ stream.captured }};
                    key_filters := '';
                    {%- if stream.key_columns | length > 1 %}
                    -- Several key columns: the keys as one array of rows (tested through a hash
                    -- table where a stream row has them all), else each column's values.
                    if {{ keyed_incremental__hashable_sql(stream.captured) }} then
                        select format('%L::pg_temp.{{ stream.captured }}[]', array_agg(captured_keys)::text)
                        into key_literal
                        from {{ stream.captured }} as captured_keys;
                        key_filters := ' and row({{ keyed_incremental__column_list(stream.key_columns, 'stream_rows') }})::pg_temp.{{ stream.captured }} = any(' || key_literal || ')';
                    end if;
                    {%- endif %}
                    if key_filters = '' then
                        {%- for key in stream.key_columns %}
                        select format('%L::%s[]', array_agg(distinct {{ adapter.quote(key) }})::text, {{ safe_mv__quote_literal(stream_key_types[stream.name][key]) }})
                        into key_literal
                        from {{ stream.captured }};
                        key_filters := key_filters || ' and stream_rows.{{ adapter.quote(key) }} = any(' || key_literal || ')';
                        {%- endfor %}
                    end if;
                    execute replace(
                        {{ quote_tag }}create temporary table {{ stream.changes }} on commit drop as
                        {{ keyed_incremental__changes_sql(stream, captured=stream.captured) | indent(24) }}{{ quote_tag }},
                        '/* key filters */',
                        key_filters
                    );
                    compared_by_key := compared_by_key + 1;
                end if;
            end if;
            {%- endif %}
            if compare = 'all' then
                create temporary table {{ stream.changes }} on commit drop as
                {{ keyed_incremental__changes_sql(stream) | indent(16) }};
            end if;
            if compare <> 'none' then
                select count(*) into changed from {{ stream.changes }};
                if changed > 0 then
                    analyze {{ stream.changes }};
                    changed_streams := changed_streams || {{ safe_mv__quote_literal(stream.name) }}::text;
                    counts := counts || ({{ safe_mv__quote_literal(stream.name ~ ' ') }} || changed);
                elsif not captured then
                    -- No change, yet no digest or another one: the state's own digest from now on.
                    {{ keyed_incremental__record_digest_plpgsql(stream) | indent(20) }}
                end if;
            end if;
            {%- if settings.capture %}
            if captured then
                -- Every log row this snapshot sees is accounted for (rows of writes committed
                -- after it stay for the next refresh).
                delete from {{ capture_plan[stream.name].log.include(database=false) }};
            end if;
            {%- endif %}
            {%- endfor %}

            checked := 'checked in ' || {{ keyed_incremental__seconds_sql('started_at') }} || 's, '
                || array_to_string(array_remove(array[
                    case when unchanged_by_capture > 0 then unchanged_by_capture || ' unchanged by their capture log' end,
                    case when compared_by_key > 0 then compared_by_key || ' compared on the keys captured'
                        || case when looked_up > 0 then ' (' || looked_up || ' looked up by index)' else '' end end,
                    case when compared_whole > 0 then compared_whole || ' compared whole (captured)' end,
                    case when unchanged_by_digest > 0 or not {{ 'true' if settings.capture else 'false' }} then unchanged_by_digest || ' unchanged by their digest' end,
                    case when compared_at_once > 0 then compared_at_once || ' written since (compared at once)' end
                ], null), ', ');
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
                {%- if stream.key_columns | length > 1 %}
                -- The changed keys themselves, as one array of rows: PostgreSQL tests it (hashed)
                -- where the join first holds every key column, so the pairs of the changed values
                -- that did not change themselves are dropped before the rest of the model's joins.
                if to_regclass('pg_temp.{{ stream.key_rows }}') is not null then
                    drop table pg_temp.{{ stream.key_rows }};
                end if;
                create temporary table {{ stream.key_rows }} (
                    {%- for key in stream.key_columns %}
                    {{ adapter.quote(key) }} {{ types[key] }}{{ ',' if not loop.last }}
                    {%- endfor %}
                ) on commit drop;
                insert into {{ stream.key_rows }}
                select distinct {{ keyed_incremental__column_list(stream.key_columns) }}
                from {{ stream.changes }};
                get diagnostics distinct_values = row_count;
                if distinct_values <= {{ settings.box_limit }} and {{ keyed_incremental__hashable_sql(stream.key_rows) }} then
                    select format('%L::pg_temp.{{ stream.key_rows }}[]', array_agg(changed_keys)::text)
                    into key_literal
                    from {{ stream.key_rows }} as changed_keys;
                    key_filters := key_filters || 'row({{ keyed_incremental__column_list(stream.key_columns, 'model_rows') }})::pg_temp.{{ stream.key_rows }} = any(' || key_literal || ') and ';
                end if;
                {%- endif %}
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


{#-
    SQL: whether every column of the temporary table `name` has a type PostgreSQL can hash, so
    that it tests `row(...) = any(<array of its rows>)` through a hash table (an array searched
    row by row would cost more than the filter saves).
-#}
{% macro keyed_incremental__hashable_sql(name) -%}
    not exists (
        select
        from pg_catalog.pg_attribute as attributes
        where
            attributes.attrelid = 'pg_temp.{{ name }}'::regclass
            and attributes.attnum > 0
            and not exists (
                select
                from pg_catalog.pg_opclass as classes
                inner join pg_catalog.pg_am as methods
                    on classes.opcmethod = methods.oid
                where
                    methods.amname = 'hash'
                    and classes.opcdefault
                    and classes.opcintype = attributes.atttypid
            )
    )
{%- endmacro %}
