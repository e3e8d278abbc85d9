{#-
    Helpers of the `keyed_incremental_table` materialization: its settings, the change streams and
    their state tables, the definition fingerprint, and finding the keys that changed.

    A change stream is an upstream relation the model reads, with the key columns (columns of both
    the stream and the model) that tie each of its rows to the model rows it shapes. Its state
    table, `<model schema>_meta.<model>__<stream>`, holds the keys and a 64-bit fingerprint
    (keyed_incremental__fingerprint_sql: the columns' own hash functions) of every stream row as
    of the last build; the keys whose fingerprint changed, appeared or disappeared since are the
    keys to refresh.

    The state table's comment also keeps its digest: the row count and the sum of the
    fingerprints. A stream whose rows give the same digest is unchanged, which one pass over the
    stream tells without the join against its state (a change that kept the digest would need
    64-bit fingerprints to sum alike: the fingerprints themselves are trusted as far).
-#}

{#- The schema of the state tables: `<model schema>_meta`, readable by nobody but dbt's role. -#}
{% macro keyed_incremental__state_schema(relation) -%}
    {{ return(relation.schema ~ '_meta') }}
{%- endmacro %}


{#- A list of column names from a config value that may be one name or a list of them. -#}
{% macro keyed_incremental__names(value) -%}
    {%- set names = [] -%}
    {%- for name in ([value] if value is string else (value or [])) -%}
        {%- do names.append(name | string | trim | lower) -%}
    {%- endfor -%}
    {{ return(names) }}
{%- endmacro %}


{#- `names` quoted and comma-separated, each prefixed with `alias.` when one is given. -#}
{% macro keyed_incremental__column_list(names, alias=none) -%}
    {%- set quoted = [] -%}
    {%- for name in names -%}
        {%- do quoted.append((alias ~ '.' if alias else '') ~ adapter.quote(name)) -%}
    {%- endfor -%}
    {{ return(quoted | join(', ')) }}
{%- endmacro %}


{#- The relation of the dbt model called `name` (its latest version when it is versioned). -#}
{% macro keyed_incremental__model_relation(name) -%}
    {%- for node in graph.nodes.values()
        if node.resource_type in ['model', 'seed', 'snapshot']
        and node.name == name
        and (node.get('version') is none or node.get('version') == node.get('latest_version')) -%}
        {{ return(api.Relation.create(
            database=node.database, schema=node.schema, identifier=node.alias or node.name
        )) }}
    {%- endfor -%}
    {{ return(none) }}
{%- endmacro %}


{#- The relations of the model's direct parents (models, seeds, snapshots and sources). -#}
{% macro keyed_incremental__parent_relations() -%}
    {%- set relations = [] -%}
    {%- for unique_id in model.depends_on.nodes -%}
        {%- set node = graph.nodes.get(unique_id) or graph.sources.get(unique_id) -%}
        {%- if node and node.resource_type in ['model', 'seed', 'snapshot', 'source'] -%}
            {%- do relations.append(api.Relation.create(
                database=node.database,
                schema=node.schema,
                identifier=node.identifier if node.resource_type == 'source' else (node.alias or node.name)
            )) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(relations) }}
{%- endmacro %}


{#-
    The config, checked: the grain (`unique_key`, which must be a unique index in `indexes`), the
    change streams with their relations and state tables, and safe_materialized_view's settings
    (analyze, swap_lock_timeout, swap_attempts).
-#}
{% macro keyed_incremental__settings(relation, index_specs) %}
    {%- set prefix = 'keyed_incremental_table ' ~ model.name ~ ': ' -%}
    {%- set unique_key = keyed_incremental__unique_key(index_specs, prefix) -%}

    {%- set streams = [] -%}
    {%- set stream_names = [] -%}
    {%- set state_schema = keyed_incremental__state_schema(relation) -%}
    {%- for raw in config.get('change_streams') or [] -%}
        {%- set name = (raw.get('name') or '') | string | lower -%}
        {%- if not modules.re.fullmatch('[a-z][a-z0-9_]*', name) or name in stream_names -%}
            {%- do exceptions.raise_compiler_error(
                prefix ~ 'every change stream needs a unique `name` (lowercase letters, digits, _), got '
                ~ raw | tojson
            ) -%}
        {%- endif -%}
        {%- do stream_names.append(name) -%}
        {%- set keys = keyed_incremental__names(raw.get('keys')) -%}
        {%- if not keys -%}
            {%- do exceptions.raise_compiler_error(prefix ~ 'change stream ' ~ name ~ ' needs `keys`') -%}
        {%- endif -%}
        {%- set stream_relation = keyed_incremental__model_relation(raw.get('model')) -%}
        {%- if stream_relation is none -%}
            {%- do exceptions.raise_compiler_error(
                prefix ~ 'change stream ' ~ name ~ ' reads `model: ' ~ raw.get('model')
                ~ '`, which is not a model, seed or snapshot of the project'
            ) -%}
        {%- endif -%}
        {%- set state_identifier = relation.identifier ~ '__' ~ name -%}
        {%- if state_identifier | length > 63 -%}
            {%- do exceptions.raise_compiler_error(
                prefix ~ 'the state table name ' ~ state_identifier ~ ' is longer than 63 characters;'
                ~ ' shorten the name of change stream ' ~ name
            ) -%}
        {%- endif -%}
        {%- do streams.append({
            'name': name,
            'model': raw.get('model'),
            'relation': stream_relation,
            'key_columns': keys,
            'columns': keyed_incremental__names(raw.get('columns')) if raw.get('columns') is not none else none,
            'key_tables': keyed_incremental__names(raw.get('key_tables')),
            'state': api.Relation.create(
                database=relation.database, schema=state_schema, identifier=state_identifier, type='table'
            ),
            'changes': 'keyed_incremental__changes_' ~ name,
            'key_rows': 'keyed_incremental__keys_' ~ name,
            'captured': 'keyed_incremental__captured_' ~ name,
        }) -%}
    {%- endfor -%}
    {%- if not streams -%}
        {%- do exceptions.raise_compiler_error(
            prefix ~ '`change_streams` is required: the upstream relations the model reads, each with its keys'
        ) -%}
    {%- endif -%}

    {%- set settings = safe_mv__settings(index_specs) -%}
    {%- do settings.update({
        'unique_key': unique_key,
        'streams': streams,
        'state_schema': state_schema,
        'box_limit': config.get('key_filter_limit', 20000) | int,
        'parallel_workers': config.get('refresh_parallel_workers', 0) | int,
        'capture': config.get('change_capture', false) is true,
    }) -%}
    {{ return(settings) }}
{% endmacro %}


{#-
    A VALUES list of each stream's name and relation (`of`: 'relation', the stream's own, or
    'state', its state table), as `names (stream_name, relation_name)`.
-#}
{% macro keyed_incremental__stream_names_sql(settings, of) -%}
    (
        values
        {%- for stream in settings.streams %}
            ({{ safe_mv__quote_literal(stream.name) }}, {{ safe_mv__quote_literal(stream[of].include(database=false)) }}){{ ',' if not loop.last }}
        {%- endfor %}
    ) as names (stream_name, relation_name)
{%- endmacro %}


{#- The grain (`unique_key`), which must be declared as a unique btree index in `indexes`. -#}
{% macro keyed_incremental__unique_key(index_specs, prefix) %}
    {%- set unique_key = keyed_incremental__names(config.get('unique_key')) -%}
    {%- if not unique_key -%}
        {%- do exceptions.raise_compiler_error(prefix ~ '`unique_key` (the grain) is required') -%}
    {%- endif -%}
    {%- set grain_indexes = [] -%}
    {%- for spec in index_specs
        if spec.unique and spec.method == 'btree'
        and (spec.columns | map('lower') | sort | list) == (unique_key | sort | list) -%}
        {%- do grain_indexes.append(spec) -%}
    {%- endfor -%}
    {%- if not grain_indexes -%}
        {%- do exceptions.raise_compiler_error(
            prefix ~ 'declare the grain as a unique index: indexes: [{columns: '
            ~ unique_key | tojson ~ ', unique: true}]'
        ) -%}
    {%- endif -%}
    {{ return(unique_key) }}
{% endmacro %}


{#-
    The joins from a relation (`<alias>.relation_oid`) to the relations its view reads: its rewrite
    rule, then the rule's dependencies on pg_class entries (`depends.refobjid`).
-#}
{% macro keyed_incremental__view_reads_join(alias) -%}
    inner join pg_catalog.pg_rewrite as rewrites
                on {{ alias }}.relation_oid = rewrites.ev_class
            inner join pg_catalog.pg_depend as depends
                on
                    rewrites.oid = depends.objid
                    and depends.classid = 'pg_catalog.pg_rewrite'::regclass
                    and depends.refclassid = 'pg_catalog.pg_class'::regclass
                    and depends.refobjid <> {{ alias }}.relation_oid
{%- endmacro %}


{#-
    What the model reads, from the catalog: starting at its direct parents, through every view
    down to the change streams. Returns {rows, untracked, unread}: `rows` describe each relation
    (a view's definition, a stream's columns) for the fingerprint; `untracked` are tables or
    materialized views read outside any stream (their changes would go unnoticed); `unread` are
    streams the model does not read.
-#}
{% macro keyed_incremental__lineage(settings) %}
    {%- set parents = keyed_incremental__parent_relations() -%}
    {%- set query -%}
        with recursive

        streams as (

            select
                names.stream_name,
                to_regclass(names.relation_name)::oid as stream_oid
            from {{ keyed_incremental__stream_names_sql(settings, 'relation') }}

        ),

        lineage (relation_oid) as (

            select to_regclass(parents.relation_name)::oid
            from (
                values
                    (null::text)
                {%- for parent in parents %},
                    ({{ safe_mv__quote_literal(parent.include(database=false)) }})
                {%- endfor %}
            ) as parents (relation_name)
            where to_regclass(parents.relation_name) is not null

            union

            select depends.refobjid
            from lineage
            {{ keyed_incremental__view_reads_join('lineage') }}
            where lineage.relation_oid not in (
                select streams.stream_oid from streams where streams.stream_oid is not null
            )

        )

        select
            'relation' as row_kind,
            relations.oid::regclass::text as relation_name,
            relations.relkind::text as relkind,
            streams.stream_name,
            case
                when streams.stream_name is null and relations.relkind = 'v'
                    then pg_catalog.pg_get_viewdef(relations.oid)
            end as definition,
            (
                select string_agg(
                    format('%I %s', attributes.attname, format_type(attributes.atttypid, attributes.atttypmod)),
                    ', ' order by attributes.attnum
                )
                from pg_catalog.pg_attribute as attributes
                where
                    attributes.attrelid = relations.oid
                    and attributes.attnum > 0
                    and not attributes.attisdropped
            ) as relation_columns
        from lineage
        inner join pg_catalog.pg_class as relations
            on lineage.relation_oid = relations.oid
        left join streams
            on relations.oid = streams.stream_oid

        union all

        select
            case when streams.stream_oid is null then 'missing' else 'unread' end,
            streams.stream_name,
            null,
            streams.stream_name,
            null,
            null
        from streams
        where
            streams.stream_oid is null
            or streams.stream_oid not in (select lineage.relation_oid from lineage)

        order by 1, 2
    {%- endset -%}
    {%- set result = {'rows': [], 'untracked': [], 'unread': [], 'missing': []} -%}
    {%- for row in run_query(query).rows -%}
        {%- if row['row_kind'] == 'missing' -%}
            {%- do result.missing.append(row['stream_name']) -%}
        {%- elif row['row_kind'] == 'unread' -%}
            {%- do result.unread.append(row['stream_name']) -%}
        {%- else -%}
            {%- do result.rows.append(
                row['relation_name'] ~ ' ' ~ row['relkind']
                ~ (' stream ' ~ row['stream_name'] ~ ' (' ~ row['relation_columns'] ~ ')' if row['stream_name'] else '')
                ~ ('\n' ~ row['definition'] if row['definition'] else '')
            ) -%}
            {%- if row['stream_name'] is none and row['relkind'] != 'v' -%}
                {%- do result.untracked.append(row['relation_name']) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}

    {%- set prefix = 'keyed_incremental_table ' ~ model.name ~ ': ' -%}
    {%- if result.missing -%}
        {%- do exceptions.raise_compiler_error(
            prefix ~ 'the relations of change streams ' ~ result.missing | join(', ')
            ~ ' do not exist; build them first'
        ) -%}
    {%- endif -%}
    {%- if result.untracked -%}
        {%- do exceptions.raise_compiler_error(
            prefix ~ 'the model reads ' ~ result.untracked | join(', ')
            ~ ' outside its change streams, so a refresh would miss their changes.'
            ~ ' Add a change stream for each (or for a view in between).'
        ) -%}
    {%- endif -%}
    {%- if result.unread -%}
        {%- do exceptions.raise_compiler_error(
            prefix ~ 'change streams ' ~ result.unread | join(', ')
            ~ ' name relations the model does not read (through views) from its parents'
        ) -%}
    {%- endif -%}
    {{ return(result) }}
{% endmacro %}


{#-
    md5 of everything that shapes the table and its state: the compiled SQL, the indexes, the
    grain, the streams, the definitions of the views between the model and its streams, and the
    streams' columns. A change rebuilds the table and its state aside.
-#}
{% macro keyed_incremental__fingerprint(compiled_sql, index_specs, settings, lineage) %}
    {%- set lines = ['keyed_incremental_table/2', compiled_sql | trim, 'indexes:'] -%}
    {%- for spec in index_specs | sort(attribute='key') -%}
        {%- do lines.append(spec.key ~ ' as ' ~ spec.name) -%}
    {%- endfor -%}
    {%- do lines.append('unique_key: ' ~ settings.unique_key | join(', ')) -%}
    {%- for stream in settings.streams -%}
        {%- do lines.append(
            'stream ' ~ stream.name ~ ': ' ~ stream.relation.include(database=false)
            ~ ' keys ' ~ stream.key_columns | join(', ')
            ~ ' columns ' ~ (stream.columns | join(', ') if stream.columns is not none else '*')
        ) -%}
    {%- endfor -%}
    {%- do lines.append('lineage:') -%}
    {%- do lines.extend(lineage.rows) -%}
    {{ return(local_md5(lines | join('\n'))) }}
{% endmacro %}


{#-
    The fingerprint of a stream row: each hashed column (the keys and `columns`, or every column)
    hashed by the extended hash function of its type's default hash operator class, seeded with
    its position, a null as the position itself, the hashes combined with XOR. A column whose
    type has none is hashed as a one-column record (hash_record_extended, which finds the hash
    function row by row and costs more). Cached in the stream.
-#}
{% macro keyed_incremental__fingerprint_sql(stream) -%}
    {%- if stream.get('fingerprint_sql') is none -%}
        {%- set query -%}
            select
                attributes.attname::text as column_name,
                (
                    select procedures.amproc::regproc::text
                    from pg_catalog.pg_opclass as classes
                    inner join pg_catalog.pg_am as methods
                        on classes.opcmethod = methods.oid
                    inner join pg_catalog.pg_amproc as procedures
                        on
                            classes.opcfamily = procedures.amprocfamily
                            and procedures.amprocnum = 2
                            and procedures.amproclefttype = classes.opcintype
                            and procedures.amprocrighttype = classes.opcintype
                    where
                        methods.amname = 'hash'
                        and classes.opcdefault
                        and classes.opcintype = attributes.atttypid
                ) as hash_function
            from pg_catalog.pg_attribute as attributes
            where
                attributes.attrelid = {{ safe_mv__quote_literal(stream.relation.include(database=false)) }}::regclass
                and attributes.attnum > 0
                and not attributes.attisdropped
            order by attributes.attnum
        {%- endset -%}
        {%- set functions = {} -%}
        {%- set all_columns = [] -%}
        {%- for row in run_query(query).rows -%}
            {%- do functions.update({row['column_name']: row['hash_function']}) -%}
            {%- do all_columns.append(row['column_name']) -%}
        {%- endfor -%}
        {%- set hashed = all_columns if stream.columns is none else stream.key_columns + stream.columns -%}
        {%- set terms = [] -%}
        {%- for column in hashed -%}
            {%- set value = 'stream_rows.' ~ adapter.quote(column) -%}
            {%- if functions.get(column) -%}
                {%- set hash = functions[column] ~ '(' ~ value ~ ', ' ~ loop.index ~ ')' -%}
            {%- else -%}
                {%- set hash = 'hash_record_extended(row(' ~ value ~ '), ' ~ loop.index ~ ')' -%}
            {%- endif -%}
            {%- do terms.append('coalesce(' ~ hash ~ ', ' ~ loop.index ~ ')') -%}
        {%- endfor -%}
        {%- do stream.update({'fingerprint_sql': terms | join('\n        # ') if terms else '0::bigint'}) -%}
    {%- endif -%}
    {{ return(stream.fingerprint_sql) }}
{%- endmacro %}


{#- The stream's rows that can match model rows (no null key), with their fingerprint. -#}
{% macro keyed_incremental__stream_rows_sql(stream) -%}
    select
        {%- for key in stream.key_columns %}
        stream_rows.{{ adapter.quote(key) }},
        {%- endfor %}
        {{ keyed_incremental__fingerprint_sql(stream) }} as fingerprint
    from {{ stream.relation }} as stream_rows
    where
        {%- for key in stream.key_columns %}
        {{ 'and ' if not loop.first }}stream_rows.{{ adapter.quote(key) }} is not null
        {%- endfor %}
{%- endmacro %}


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
    passing the filters put in place of the comment `/* key filters */` (` and ...` terms).
-#}
{% macro keyed_incremental__changes_sql(stream, captured=none) -%}
    select
        {%- for key in stream.key_columns %}
        coalesce(current_rows.{{ adapter.quote(key) }}, previous.{{ adapter.quote(key) }}) as {{ adapter.quote(key) }},
        {%- endfor %}
        previous.fingerprint as old_fingerprint,
        current_rows.fingerprint as new_fingerprint
    from (
        {{ keyed_incremental__stream_rows_sql(stream) | indent(8) }}
        {%- if captured %}
        /* key filters */
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
