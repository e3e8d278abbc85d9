{#-
    The change state of a `keyed_incremental_table`: per change stream a state table
    (`<model schema>_meta.<model>__<stream>`, the keys and a fingerprint of every stream row as of
    the last build) whose comment keeps its digest, the statistics' activity and the capture's
    epoch; building it, finding the keys that changed against it, and bringing it up to date.
    The settings, the streams and the fingerprints are in keyed_incremental_table_streams.sql.
-#}

{#-
    The streams whose state table is missing or was written for another fingerprint. Sets each
    stream's `digest` to the one its state table's comment keeps (none when it keeps none).
-#}
{% macro keyed_incremental__stale_states(settings, fingerprint) %}
    {%- if not settings.streams -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set query -%}
        select
            names.stream_name,
            coalesce(obj_description(to_regclass(names.relation_name), 'pg_class'), '') as state_comment
        from {{ keyed_incremental__stream_names_sql(settings, 'state') }}
    {%- endset -%}
    {%- set marker = safe_mv__fingerprint_marker(fingerprint) -%}
    {%- set stale = [] -%}
    {%- for row in run_query(query).rows -%}
        {%- if marker not in row['state_comment'] -%}
            {%- do stale.append(row['stream_name']) -%}
        {%- endif -%}
        {%- set found = modules.re.search(keyed_incremental__digest_pattern(), row['state_comment']) -%}
        {%- for stream in settings.streams if stream.name == row['stream_name'] -%}
            {%- do stream.update({'digest': found.group(1) if found else none}) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(stale) }}
{% endmacro %}


{#- A DO block that creates the state schema when it is missing, readable by nobody but dbt's role. -#}
{% macro keyed_incremental__state_schema_sql(settings) -%}
    do $keyed_incremental_schema$
    begin
        if to_regnamespace({{ safe_mv__quote_literal(adapter.quote(settings.state_schema)) }}) is null then
            create schema {{ adapter.quote(settings.state_schema) }};
            revoke all on schema {{ adapter.quote(settings.state_schema) }} from public;
        end if;
    exception when duplicate_schema or unique_violation then
        null;  -- created by a concurrent run
    end
    $keyed_incremental_schema$
{%- endmacro %}


{#-
    (Re)create every state table from the streams as they are now (in the transaction that builds
    the table, so both describe the same snapshot of the sources), with a unique index on the
    stream's keys: a stream holding two rows for one key fails the build.
-#}
{% macro keyed_incremental__build_states(relation, settings, fingerprint) %}
    {%- call statement('state_schema') -%}
        {{ keyed_incremental__state_schema_sql(settings) }}
    {%- endcall -%}
    {%- set stream_tables = keyed_incremental__stream_tables(settings) if settings.streams else {} -%}
    {%- set capture_plan = keyed_incremental__capture_plan(relation, settings, stream_tables) if settings.capture else {} -%}
    {%- for stream in settings.streams -%}
        {%- call statement('state_' ~ stream.name) -%}
            drop table if exists {{ stream.state }};
            create table {{ stream.state }} as
            {{ keyed_incremental__stream_rows_sql(stream) }};
            revoke all on table {{ stream.state }} from public;
            comment on table {{ stream.state }} is {{ safe_mv__quote_literal(
                'Change state of ' ~ relation.include(database=false) ~ ' (keyed_incremental_table): the keys and a'
                ~ ' fingerprint of every row of ' ~ stream.relation.include(database=false) ~ ' as of its last build. '
                ~ safe_mv__fingerprint_marker(fingerprint)
            ) }};
            do $keyed_incremental_state$
            begin
                create unique index on {{ stream.state }} ({{ keyed_incremental__column_list(stream.key_columns) }});
            exception when unique_violation then
                raise exception
                    'keyed_incremental_table: change stream {{ stream.name }} of {{ model.name }} holds more than one row for a key ({{ stream.key_columns | join(", ") }}) in {{ stream.relation.include(database=false) | replace("\"", "") }}: %',
                    sqlerrm
                    using errcode = 'unique_violation';
            end
            $keyed_incremental_state$;
            {{ keyed_incremental__record_digest_sql(stream) }};
            do $keyed_incremental_activity$
            declare
                stream_activity text;
            begin
                {{ keyed_incremental__stream_activity_plpgsql(stream_tables[stream.name]) }}
                {{ keyed_incremental__state_marker_plpgsql(stream, 'stream_activity') }}
            end
            $keyed_incremental_activity$
            {%- if settings.capture %};
            -- What the capture logged before this snapshot is in the state now, and the log is
            -- trusted from here on while its triggers stay as they are (their epoch).
            delete from {{ keyed_incremental__capture_log(relation, stream) }};
            do $keyed_incremental_epoch$
            declare
                captured boolean;
                capture_epoch text;
                logged bigint;
                logged_whole boolean;
            begin
                {{ keyed_incremental__capture_check_plpgsql(stream, capture_plan[stream.name]) | indent(16) }}
            end
            $keyed_incremental_epoch$
            {%- endif %}
        {%- endcall -%}
    {%- endfor -%}
{% endmacro %}


{#- What a state table's comment keeps its digest in, and the pattern that finds it. -#}
{% macro keyed_incremental__digest_pattern() -%}
    {{ return('\\[value_view:stream_digest=([0-9]+:-?[0-9]+)\\]') }}
{%- endmacro %}


{#-
    PL/pgSQL statements that write the digest of `stream`'s state table (its row count and the
    sum of its fingerprints) into the table's comment, in place of the one it kept; they need a
    text variable `stream_digest`.
-#}
{% macro keyed_incremental__record_digest_plpgsql(stream) -%}
    select count(*) || ':' || coalesce(sum(fingerprint), 0) into stream_digest from {{ stream.state }};
    {{ keyed_incremental__state_marker_plpgsql(stream, 'stream_digest') }}
{%- endmacro %}


{#-
    PL/pgSQL: keep the text variable `name` in the comment of the state table of `stream`, as
    the marker `[value_view:<name>=<value>]` in place of the one it kept.
-#}
{% macro keyed_incremental__state_marker_plpgsql(stream, name) -%}
    {%- set state_name = safe_mv__quote_literal(stream.state.include(database=false)) -%}
    execute format(
        'comment on table %s is %L',
        {{ state_name }},
        regexp_replace(
            coalesce(obj_description({{ state_name }}::regclass, 'pg_class'), ''),
            '\s*\[value_view:{{ name }}=[^]]*\]', ''
        ) || ' [value_view:{{ name }}=' || {{ name }} || ']'
    );
{%- endmacro %}


{#- The same as one statement (a DO block). -#}
{% macro keyed_incremental__record_digest_sql(stream) -%}
    do $keyed_incremental_digest$
    declare
        stream_digest text;
    begin
        {{ keyed_incremental__record_digest_plpgsql(stream) }}
    end
    $keyed_incremental_digest$
{%- endmacro %}


{#-
    The keys of `stream` whose fingerprint changed, appeared or disappeared since the last build,
    with the old and new fingerprints: a SELECT comparing the stream's rows with its state. With
    `captured` (a temporary table of keys), only the state rows of those keys, and the stream rows
    passing the filters put in place of the comment `/* key filters */` (` and ...` terms), or,
    with `look_up`, the stream rows of each captured key looked up on their own.
-#}
{% macro keyed_incremental__changes_sql(stream, captured=none, look_up=false) -%}
    select
        {%- for key in stream.key_columns %}
        coalesce(current_rows.{{ adapter.quote(key) }}, previous.{{ adapter.quote(key) }}) as {{ adapter.quote(key) }},
        {%- endfor %}
        previous.fingerprint as old_fingerprint,
        current_rows.fingerprint as new_fingerprint
    from (
        {%- if captured and look_up %}
        {#- Each captured key's rows looked up on their own (the subquery is kept as written, so
            its key conditions reach the stream's index), where a join would scan the stream. #}
        select looked_up.*
        from pg_temp.{{ captured }} as captured
        cross join lateral (
            {{ keyed_incremental__stream_rows_sql(stream) | indent(12) }}
            {%- for key in stream.key_columns %}
            and stream_rows.{{ adapter.quote(key) }} = captured.{{ adapter.quote(key) }}
            {%- endfor %}
            offset 0
        ) as looked_up
        {%- else %}
        {{ keyed_incremental__stream_rows_sql(stream) | indent(8) }}
        {%- if captured %}
        /* key filters */
        {%- endif %}
        {%- endif %}
    ) as current_rows
    full join
    {%- if captured %} (
        select previous.*
        from {{ stream.state }} as previous
        where exists (
            select
            from pg_temp.{{ captured }} as captured
            where
                {%- for key in stream.key_columns %}
                {{ 'and ' if not loop.first }}captured.{{ adapter.quote(key) }} = previous.{{ adapter.quote(key) }}
                {%- endfor %}
        )
    ) as previous
    {%- else %} {{ stream.state }} as previous
    {%- endif %}
        on
            {%- for key in stream.key_columns %}
            {{ 'and ' if not loop.first }}current_rows.{{ adapter.quote(key) }} = previous.{{ adapter.quote(key) }}
            {%- endfor %}
    where current_rows.fingerprint is distinct from previous.fingerprint
{%- endmacro %}


{#-
    PL/pgSQL statements that bring the state of `stream` to the fingerprints in its changes
    table (keyed_incremental__changes_sql) and record its digest.
-#}
{% macro keyed_incremental__update_state_plpgsql(stream) -%}
    delete from {{ stream.state }} as previous
    using (
        select distinct {{ keyed_incremental__column_list(stream.key_columns) }}
        from {{ stream.changes }}
        where old_fingerprint is not null
    ) as changes
    where
        {%- for key in stream.key_columns %}
        {{ 'and ' if not loop.first }}previous.{{ adapter.quote(key) }} = changes.{{ adapter.quote(key) }}
        {%- endfor %};
    begin
        insert into {{ stream.state }} ({{ keyed_incremental__column_list(stream.key_columns) }}, fingerprint)
        select {{ keyed_incremental__column_list(stream.key_columns) }}, new_fingerprint
        from {{ stream.changes }}
        where new_fingerprint is not null;
    exception when unique_violation then
        raise exception
            'keyed_incremental_table: change stream {{ stream.name }} of {{ model.name }} holds more than one row for a key ({{ stream.key_columns | join(", ") }}) in {{ stream.relation.include(database=false) | replace("\"", "") }}: %',
            sqlerrm
            using errcode = 'unique_violation';
    end;
    -- The state's digest moved by what changed: its kept digest (the state's own, recorded
    -- with every write of the state) less the old fingerprints, plus the new ones.
    stream_digest := substring(
        obj_description({{ safe_mv__quote_literal(stream.state.include(database=false)) }}::regclass, 'pg_class')
        from {{ safe_mv__quote_literal(keyed_incremental__digest_pattern()) }}
    );
    if stream_digest is null then
        {{ keyed_incremental__record_digest_plpgsql(stream) | indent(8) }}
    else
        select
            (split_part(stream_digest, ':', 1)::bigint + count(new_fingerprint) - count(old_fingerprint))
            || ':' || (split_part(stream_digest, ':', 2)::numeric + coalesce(sum(new_fingerprint), 0) - coalesce(sum(old_fingerprint), 0))
        into stream_digest
        from {{ stream.changes }};
        {{ keyed_incremental__state_marker_plpgsql(stream, 'stream_digest') | indent(8) }}
    end if;
{%- endmacro %}


{#-
    The tables under each stream (the stream itself when it is stored, else the relations its
    views read, followed down to stored ones): {stream name: ["schema"."table", ...]}.
-#}
{% macro keyed_incremental__stream_tables(settings) %}
    {%- set query -%}
        with recursive

        walk (stream_name, relation_oid) as (

            select
                names.stream_name,
                to_regclass(names.relation_name)::oid
            from {{ keyed_incremental__stream_names_sql(settings, 'relation') }}

            union

            select walk.stream_name, depends.refobjid
            from walk
            {{ keyed_incremental__view_reads_join('walk') }}

        )

        select
            walk.stream_name,
            format('%I.%I', namespaces.nspname, relations.relname) as table_name
        from walk
        inner join pg_catalog.pg_class as relations
            on walk.relation_oid = relations.oid
        inner join pg_catalog.pg_namespace as namespaces
            on relations.relnamespace = namespaces.oid
        where relations.relkind in ('r', 'm', 'p')
        order by 1, 2
    {%- endset -%}
    {%- set tables = {} -%}
    {%- for stream in settings.streams -%}
        {%- do tables.update({stream.name: []}) -%}
    {%- endfor -%}
    {%- for row in run_query(query).rows -%}
        {%- do tables[row['stream_name']].append(row['table_name']) -%}
    {%- endfor -%}
    {{ return(tables) }}
{% endmacro %}


{#-
    PL/pgSQL: into the text variable `stream_activity`, what PostgreSQL's cumulative statistics
    count of the writes to `tables` (rows inserted, updated and deleted, and their files). It
    only tells where to look first: a writing session publishes its counts some seconds after
    its commit, so equal figures are checked with the stream's digest, and moved ones go
    straight to the row-by-row comparison with the state (the digest would differ).
-#}
{% macro keyed_incremental__stream_activity_plpgsql(tables) -%}
    {%- if tables -%}
    select
        sum(pg_stat_get_tuples_inserted(tables.oid) + pg_stat_get_tuples_updated(tables.oid) + pg_stat_get_tuples_deleted(tables.oid))
        || ':' || string_agg(pg_relation_filenode(tables.oid)::text, ',' order by tables.position)
    into stream_activity
    from unnest(array[
        {%- for table in tables %}
        {{ safe_mv__quote_literal(table) }}{{ ',' if not loop.last }}
        {%- endfor %}
    ]::regclass[]) with ordinality as tables (oid, position);
    {%- else -%}
    stream_activity := null;
    {%- endif -%}
{%- endmacro %}
