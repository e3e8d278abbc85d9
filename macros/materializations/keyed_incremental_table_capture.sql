{#-
    Change capture of a `keyed_incremental_table` (config `change_capture: true`): statement
    triggers on every table under each change stream write what changed into the stream's
    capture log, `<model schema>_meta.<relation>__<stream>__log`, so that a refresh reads the
    log instead of passing over the stream:

      * a table named in the stream's `key_tables` (its rows carry the stream's key columns under
        the same names, and a write to one of its rows changes only the stream rows with those
        keys) logs the keys of the rows each statement inserted, updated (before and after) or
        deleted; a statement that writes more than `key_filter_limit` rows (a bulk load) logs
        one "whole stream" row instead;
      * any other table under the stream (a lookup joined in, a quarantine list) logs one
        "whole stream" row per statement that wrote to it, as does a TRUNCATE of any of them.

    The refresh procedure (keyed_incremental_table_refresh.sql) trusts a stream's log only when
    the log exists and every trigger it expects is in place and enabled ALWAYS (so that a session
    with `session_replication_role = replica` fires it too); otherwise it falls back to the
    stream's digest and statistics, which never miss a write. An empty log: the stream is
    unchanged, not read at all. Keys only: only the stream rows and the state rows holding them
    are compared; while the keys are few and every key table has an index led by the keys, each
    key's stream rows are looked up through it (keyed_incremental__key_lookups), else the stream
    is scanned once with the keys as a filter. A "whole stream" row: the whole stream is compared. The procedure deletes the
    log rows its snapshot sees; rows of writes committed after its snapshot stay for the next one.

    The triggers are installed (when missing) by every dbt run of the model in a transaction of
    its own, committed before the run's REPEATABLE READ snapshot, with a "whole stream" row: a
    refresh whose snapshot does not yet see the triggers compares the whole stream the next
    time. Installing a trigger needs the table's ownership (or the TRIGGER privilege): without
    it the stream is refreshed through its digest, and the run says so.
-#}

{#- The capture log of `stream` (a relation in the state schema). -#}
{% macro keyed_incremental__capture_log(relation, stream) -%}
    {%- set identifier = relation.identifier ~ '__' ~ stream.name ~ '__log' -%}
    {%- if identifier | length > 63 -%}
        {%- do exceptions.raise_compiler_error(
            'keyed_incremental_table ' ~ model.name ~ ': the capture log name ' ~ identifier
            ~ ' is longer than 63 characters; shorten the name of change stream ' ~ stream.name
        ) -%}
    {%- endif -%}
    {{ return(api.Relation.create(
        database=relation.database, schema=keyed_incremental__state_schema(relation),
        identifier=identifier, type='table'
    )) }}
{%- endmacro %}


{#-
    What the capture of each stream expects: {stream name: {'log': relation, 'triggers': [(table,
    trigger name, keyed)]}}, from the tables under each stream (keyed_incremental__stream_tables).
    A table of `key_tables` must be under its stream.
-#}
{% macro keyed_incremental__capture_plan(relation, settings, stream_tables) %}
    {%- set plan = {} -%}
    {%- for stream in settings.streams -%}
        {#- The names carry a hash of what the triggers do: another definition, other names,
            so the run that brings it puts new triggers in place of the old ones. -#}
        {%- set base = 'vv_capture_' ~ local_md5(
            relation.include(database=false) ~ '/' ~ stream.name ~ '/' ~ stream.key_columns | join(',')
            ~ '/' ~ stream.key_tables | join(',') ~ '/' ~ settings.box_limit ~ '/capture/2'
        )[:12] -%}
        {%- set triggers = [] -%}
        {%- set found = [] -%}
        {%- for table in stream_tables[stream.name] -%}
            {%- set table_name = table.split('.')[-1] | replace('"', '') -%}
            {%- set keyed = table_name in stream.key_tables -%}
            {%- if keyed -%}
                {%- do found.append(table_name) -%}
            {%- endif -%}
            {%- for suffix in (['ins', 'upd', 'del', 'trn'] if keyed else ['all']) -%}
                {%- do triggers.append({'table': table, 'name': base ~ '_' ~ suffix, 'event': suffix}) -%}
            {%- endfor -%}
        {%- endfor -%}
        {%- for name in stream.key_tables if name not in found -%}
            {%- do exceptions.raise_compiler_error(
                'keyed_incremental_table ' ~ model.name ~ ': key table ' ~ name ~ ' of change stream '
                ~ stream.name ~ ' is not a table under ' ~ stream.relation.include(database=false)
                ~ ' (its tables: ' ~ stream_tables[stream.name] | join(', ') ~ ')'
            ) -%}
        {%- endfor -%}
        {%- do plan.update({stream.name: {
            'log': keyed_incremental__capture_log(relation, stream),
            'base': base,
            'triggers': triggers,
        }}) -%}
    {%- endfor -%}
    {{ return(plan) }}
{% endmacro %}


{#-
    Install what is missing of the capture (the function, the logs, the triggers), in a
    transaction of its own, committed: before the run's snapshot. Returns the tables it could not
    put a trigger on.
-#}
{% macro keyed_incremental__install_capture(relation, settings) %}
    {%- if not settings.capture -%}
        {%- do keyed_incremental__remove_capture(relation, settings) -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set schema = adapter.quote(settings.state_schema) -%}
    {%- set function = schema ~ '.keyed_incremental__capture' -%}
    {%- set stream_tables = keyed_incremental__stream_tables(settings) -%}
    {%- set plan = keyed_incremental__capture_plan(relation, settings, stream_tables) -%}
    {%- set key_types = keyed_incremental__stream_key_types(settings) -%}
    {%- call statement('capture') -%}
        {{ keyed_incremental__state_schema_sql(settings) }};

        create or replace function {{ function }}()
        returns trigger
        language plpgsql
        security definer
        set search_path = pg_catalog, pg_temp
        as $keyed_incremental_capture$
        declare
            written bigint;
        begin
            -- tg_argv[0]: the capture log; tg_argv[1]: its key columns, or '' (whole stream);
            -- tg_argv[2]: the most rows a statement may write and still log its keys (past it,
            -- as a bulk load, the refresh compares the whole stream anyway).
            if tg_argv[1] <> '' and tg_op <> 'TRUNCATE' then
                execute case
                    when tg_op = 'DELETE' then 'select count(*) from keyed_incremental__old_rows'
                    else 'select count(*) from keyed_incremental__new_rows'
                end
                into written;
            end if;
            if tg_argv[1] = '' or tg_op = 'TRUNCATE' or written > tg_argv[2]::bigint then
                execute format('insert into %s (whole_stream) values (true)', tg_argv[0]);
            elsif tg_op = 'INSERT' then
                execute format(
                    'insert into %1$s (%2$s) select distinct %2$s from keyed_incremental__new_rows',
                    tg_argv[0], tg_argv[1]
                );
            elsif tg_op = 'DELETE' then
                execute format(
                    'insert into %1$s (%2$s) select distinct %2$s from keyed_incremental__old_rows',
                    tg_argv[0], tg_argv[1]
                );
            else
                execute format(
                    'insert into %1$s (%2$s) select %2$s from keyed_incremental__new_rows'
                    ' union select %2$s from keyed_incremental__old_rows',
                    tg_argv[0], tg_argv[1]
                );
            end if;
            return null;
        exception when undefined_table then
            -- The log is gone: the refresh finds the capture broken and compares the stream.
            return null;
        end
        $keyed_incremental_capture$;
        revoke all on function {{ function }}() from public;

        {%- for stream in settings.streams %}
        {%- set capture = plan[stream.name] %}
        {%- set log_literal = safe_mv__quote_literal(capture.log.include(database=false)) %}

        create table if not exists {{ capture.log }} (
            {%- for key in stream.key_columns %}
            {{ adapter.quote(key) }} {{ key_types[stream.name][key] }},
            {%- endfor %}
            whole_stream boolean not null default false
        );
        revoke all on table {{ capture.log }} from public;
        comment on table {{ capture.log }} is {{ safe_mv__quote_literal(
            'Capture log of change stream ' ~ stream.name ~ ' of ' ~ relation.include(database=false)
            ~ ' (keyed_incremental_table): the keys the triggers on its tables saw written since the last refresh.'
        ) }};

        do $keyed_incremental_install$
        declare
            expected record;
            found record;
            missing text[] := '{}';
            refused text[] := '{}';
        begin
            for expected in
                select *
                from (
                    values
                    {%- for trigger in capture.triggers %}
                        ({{ safe_mv__quote_literal(trigger.table) }}, {{ safe_mv__quote_literal(trigger.name) }}){{ ',' if not loop.last }}
                    {%- endfor %}
                ) as triggers (table_name, trigger_name)
            loop
                if not exists (
                    select
                    from pg_catalog.pg_trigger as triggers
                    where
                        triggers.tgrelid = expected.table_name::regclass
                        and triggers.tgname = expected.trigger_name
                        and triggers.tgenabled = 'A'
                ) then
                    missing := missing || expected.table_name;
                end if;
            end loop;
            {%- for table in stream_tables[stream.name] %}
            {%- set table_triggers = capture.triggers | selectattr('table', 'equalto', table) | list %}
            if {{ safe_mv__quote_literal(table) }} = any(missing) then
                begin
                    {{ keyed_incremental__drop_triggers_plpgsql(table, capture.log) | indent(20) }}
                    {%- for trigger in table_triggers %}
                    {%- set keyed = trigger.event != 'all' %}
                    create trigger {{ adapter.quote(trigger.name) }}
                    after {{ {'ins': 'insert', 'upd': 'update', 'del': 'delete', 'trn': 'truncate', 'all': 'insert or update or delete or truncate'}[trigger.event] }}
                    on {{ table }}
                    {%- if trigger.event in ['ins', 'upd'] %}
                    referencing new table as keyed_incremental__new_rows{{ ' old table as keyed_incremental__old_rows' if trigger.event == 'upd' }}
                    {%- elif trigger.event == 'del' %}
                    referencing old table as keyed_incremental__old_rows
                    {%- endif %}
                    for each statement
                    execute function {{ function }}(
                        {{ log_literal }},
                        {{ safe_mv__quote_literal(keyed_incremental__column_list(stream.key_columns) if keyed and trigger.event != 'trn' else '') }},
                        {{ safe_mv__quote_literal(settings.box_limit | string) }}
                    );
                    alter table {{ table }} enable always trigger {{ adapter.quote(trigger.name) }};
                    comment on trigger {{ adapter.quote(trigger.name) }} on {{ table }} is {{ safe_mv__quote_literal(
                        'Change capture of ' ~ relation.include(database=false) ~ ', stream ' ~ stream.name
                        ~ ' (keyed_incremental_table): writes ' ~ ('the keys written' if keyed and trigger.event != 'trn' else 'one whole-stream row per statement')
                        ~ ' into ' ~ capture.log.include(database=false) ~ '.'
                    ) }};
                    {%- endfor %}
                    -- Writes between the last refresh and now went unlogged: compare the whole stream once.
                    insert into {{ capture.log }} (whole_stream) values (true);
                exception when insufficient_privilege then
                    refused := refused || {{ safe_mv__quote_literal(table) }}::text;
                end;
            end if;
            {%- endfor %}
            if cardinality(refused) > 0 then
                raise warning 'keyed_incremental_table {{ model.name }}: no change capture on % (change stream {{ stream.name }} is refreshed through its digest): the owner of each table can grant TRIGGER on it to %',
                    array_to_string(refused, ', '), current_user;
            end if;
        end
        $keyed_incremental_install$;
        {%- endfor %}
    {%- endcall -%}
    {%- do keyed_incremental__commit_and_begin() -%}
{% endmacro %}


{#-
    The streams whose captured keys can be looked up one by one, each with its key tables:
    {stream name: [table]}. Every key table of the stream has a valid btree index (no predicate,
    no expression) whose leading columns are the stream's key columns, so a key's rows are found
    through it; the refresh still scans instead when many keys were captured
    (keyed_incremental__key_lookup_factor).
-#}
{% macro keyed_incremental__key_lookups(settings, capture_plan) %}
    {%- set candidates = [] -%}
    {%- for stream in settings.streams if stream.key_tables -%}
        {%- for trigger in capture_plan[stream.name].triggers if trigger.event == 'ins' -%}
            {%- do candidates.append((stream, trigger.table)) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- if not candidates -%}
        {{ return({}) }}
    {%- endif -%}
    {%- set query -%}
        select candidates.stream_name, candidates.table_name
        from (
            values
            {%- for stream, table in candidates %}
                ({{ safe_mv__quote_literal(stream.name) }}, {{ safe_mv__quote_literal(table) }}, array[{% for key in stream.key_columns %}{{ safe_mv__quote_literal(key) }}{{ ', ' if not loop.last }}{% endfor %}]::text[]){{ ',' if not loop.last }}
            {%- endfor %}
        ) as candidates (stream_name, table_name, key_columns)
        where exists (
            select
            from pg_catalog.pg_index as indexes
            inner join pg_catalog.pg_class as index_relations
                on indexes.indexrelid = index_relations.oid
            inner join pg_catalog.pg_am as methods
                on index_relations.relam = methods.oid
            where
                indexes.indrelid = to_regclass(candidates.table_name)
                and indexes.indisvalid
                and indexes.indpred is null
                and indexes.indexprs is null
                and methods.amname = 'btree'
                and indexes.indnkeyatts >= cardinality(candidates.key_columns)
                and (
                    select array_agg(attributes.attname::text order by attributes.attname::text)
                    from (
                        select index_columns.attnum
                        from unnest(indexes.indkey::int2[]) with ordinality as index_columns (attnum, position)
                        where index_columns.position <= cardinality(candidates.key_columns)
                    ) as leading_columns
                    inner join pg_catalog.pg_attribute as attributes
                        on
                            attributes.attrelid = indexes.indrelid
                            and attributes.attnum = leading_columns.attnum
                ) = (
                    select array_agg(key_column order by key_column)
                    from unnest(candidates.key_columns) as key_column
                )
        )
    {%- endset -%}
    {%- set indexed = {} -%}
    {%- for row in run_query(query).rows -%}
        {%- do indexed.setdefault(row['stream_name'], []).append(row['table_name']) -%}
    {%- endfor -%}
    {%- set counts = {} -%}
    {%- for stream, table in candidates -%}
        {%- do counts.update({stream.name: counts.get(stream.name, 0) + 1}) -%}
    {%- endfor -%}
    {%- set lookups = {} -%}
    {%- for name, tables in indexed.items() if tables | length == counts[name] -%}
        {%- do lookups.update({name: tables}) -%}
    {%- endfor -%}
    {{ return(lookups) }}
{% endmacro %}


{#-
    Captured keys are looked up one by one while there are at most 1/factor as many as their key
    tables' rows: a lookup by index costs about as much as reading 30 rows in a scan (the ODI
    scores at scale 10: 2,907 keys looked up in 17 ms, the 290,670 rows scanned for them in
    57 ms).
-#}
{% macro keyed_incremental__key_lookup_factor() -%}
    {{ return(30) }}
{%- endmacro %}


{#- The types of each stream's key columns, from its relation: {stream name: {key: type}}. -#}
{% macro keyed_incremental__stream_key_types(settings) %}
    {%- set query -%}
        select
            names.stream_name,
            attributes.attname::text as column_name,
            format_type(attributes.atttypid, attributes.atttypmod) as data_type
        from {{ keyed_incremental__stream_names_sql(settings, 'relation') }}
        inner join pg_catalog.pg_attribute as attributes
            on
                attributes.attrelid = to_regclass(names.relation_name)
                and attributes.attnum > 0
                and not attributes.attisdropped
    {%- endset -%}
    {%- set types = {} -%}
    {%- for stream in settings.streams -%}
        {%- do types.update({stream.name: {}}) -%}
    {%- endfor -%}
    {%- for row in run_query(query).rows -%}
        {%- do types[row['stream_name']].update({row['column_name']: row['data_type']}) -%}
    {%- endfor -%}
    {{ return(types) }}
{% endmacro %}


{#-
    PL/pgSQL: into the boolean variable `captured`, whether the capture of `stream` is whole (its
    log exists and every trigger it expects is in place and enabled ALWAYS), and into the text
    variable `capture_epoch` the catalog versions of those triggers (their oids and the xmin of
    their pg_trigger rows: a trigger dropped and created again, or disabled and enabled again,
    has another one). When it is whole, into `logged` and `logged_whole` what its log holds; a
    log is trusted for the writes since the refresh that recorded the same epoch only, so
    another epoch counts as a whole-stream row.
-#}
{% macro keyed_incremental__capture_check_plpgsql(stream, capture) -%}
    select
        count(triggers.oid) = {{ capture.triggers | length }}
            and to_regclass({{ safe_mv__quote_literal(capture.log.include(database=false)) }}) is not null,
        string_agg(triggers.oid::text || '.' || triggers.xmin::text, ',' order by expected.position)
    into captured, capture_epoch
    from (
        values
        {%- for trigger in capture.triggers %}
            ({{ safe_mv__quote_literal(trigger.table) }}, {{ safe_mv__quote_literal(trigger.name) }}, {{ loop.index }}){{ ',' if not loop.last }}
        {%- endfor %}
    ) as expected (table_name, trigger_name, position)
    left join pg_catalog.pg_trigger as triggers
        on
            triggers.tgrelid = to_regclass(expected.table_name)
            and triggers.tgname = expected.trigger_name
            and triggers.tgenabled = 'A';
    logged := 0;
    logged_whole := false;
    if captured then
        select count(*), coalesce(bool_or(whole_stream), false)
        into logged, logged_whole
        from {{ capture.log.include(database=false) }};
        if capture_epoch is distinct from substring(
            obj_description({{ safe_mv__quote_literal(stream.state.include(database=false)) }}::regclass, 'pg_class')
            from '\[value_view:capture_epoch=([^]]*)\]'
        ) then
            logged := logged + 1;
            logged_whole := true;
            {{ keyed_incremental__state_marker_plpgsql(stream, 'capture_epoch') | indent(12) }}
        end if;
    end if;
{%- endmacro %}


{#-
    PL/pgSQL: drop the capture triggers on `table` that write into the capture log `log`,
    whatever their names (needs a record variable `found`).
-#}
{% macro keyed_incremental__drop_triggers_plpgsql(table, log) -%}
    for found in
        select triggers.tgname
        from pg_catalog.pg_trigger as triggers
        where
            triggers.tgrelid = {{ safe_mv__quote_literal(table) }}::regclass
            and not triggers.tgisinternal
            and triggers.tgfoid = {{ safe_mv__quote_literal(adapter.quote(log.schema) ~ '.keyed_incremental__capture') }}::regproc
            and position(
                {{ safe_mv__quote_literal(log.include(database=false) ~ '\\000') }}
                in encode(triggers.tgargs, 'escape')
            ) = 1
    loop
        execute format('drop trigger %I on %s', found.tgname, {{ safe_mv__quote_literal(table) }});
    end loop;
{%- endmacro %}


{#-
    Without `change_capture`: drop the capture triggers and logs an earlier definition of the
    model left (nothing when there are none), so that no write keeps logging for nobody.
-#}
{% macro keyed_incremental__remove_capture(relation, settings) %}
    {%- if not settings.streams -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set query -%}
        select count(*) as found
        from pg_catalog.pg_class as relations
        inner join pg_catalog.pg_namespace as namespaces
            on relations.relnamespace = namespaces.oid
        where
            namespaces.nspname = {{ safe_mv__quote_literal(settings.state_schema) }}
            and right(relations.relname, 5) = '__log'
            and left(relations.relname, {{ relation.identifier | length + 2 }}) = {{ safe_mv__quote_literal(relation.identifier ~ '__') }}
    {%- endset -%}
    {%- if run_query(query).rows[0]['found'] | int == 0 -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set stream_tables = keyed_incremental__stream_tables(settings) -%}
    {%- set plan = keyed_incremental__capture_plan(relation, settings, stream_tables) -%}
    {%- call statement('capture') -%}
        do $keyed_incremental_uninstall$
        declare
            found record;
        begin
            {%- for stream in settings.streams %}
            {%- for table in stream_tables[stream.name] %}
            begin
                {{ keyed_incremental__drop_triggers_plpgsql(table, plan[stream.name].log) | indent(16) }}
            exception when insufficient_privilege then
                raise warning 'keyed_incremental_table {{ model.name }}: could not drop the change capture triggers on {{ table }}';
            end;
            {%- endfor %}
            drop table if exists {{ plan[stream.name].log }};
            {%- endfor %}
        end
        $keyed_incremental_uninstall$
    {%- endcall -%}
    {%- do keyed_incremental__commit_and_begin() -%}
{% endmacro %}


{#-
    Commit what ran so far and open the next transaction, as raw statements (as dbt's hooks
    outside the transaction do): the run's own transaction then starts with its first statement.
-#}
{% macro keyed_incremental__commit_and_begin() %}
    {%- call statement('capture_commit', auto_begin=false) -%}
        commit
    {%- endcall -%}
    {%- call statement('capture_begin', auto_begin=false) -%}
        begin
    {%- endcall -%}
{% endmacro %}
