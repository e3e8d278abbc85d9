{#-
    Helpers of the `keyed_incremental_table` materialization: its settings, the change streams,
    the lineage and the definition fingerprint. The state tables, their digests and finding the
    keys that changed are in keyed_incremental_table_state.sql.

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
        'parallel_workers': config.get('refresh_parallel_workers', safe_mv__refresh_parallel_workers()) | int,
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
