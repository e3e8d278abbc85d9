{#-
    Helpers of the `safe_materialized_view` materialization: settings, index specs, the definition
    fingerprint, what the catalog says about the current relation, and docs persisted as comments.
-#}

{% macro safe_mv__quote_literal(value) -%}
    '{{ (value | string).replace("'", "''") }}'
{%- endmacro %}


{% macro safe_mv__settings(index_specs) %}
    {%- set refresh_method = config.get('refresh_method', 'auto') -%}
    {%- if refresh_method not in ['auto', 'concurrent', 'plain'] -%}
        {%- do exceptions.raise_compiler_error(
            "safe_materialized_view: refresh_method must be 'auto', 'concurrent' or 'plain', got '"
            ~ refresh_method ~ "'"
        ) -%}
    {%- endif -%}
    {%- if refresh_method == 'concurrent' and not (index_specs | selectattr('concurrent_capable') | list) -%}
        {%- do exceptions.raise_compiler_error(
            "safe_materialized_view: refresh_method='concurrent' needs a unique index on plain columns;"
            ~ " add one to `indexes`, e.g. {'columns': ['id'], 'unique': true}"
        ) -%}
    {%- endif -%}

    {%- set analyze = config.get('analyze', true) -%}
    {%- if analyze not in [true, false] -%}
        {%- do exceptions.raise_compiler_error(
            "safe_materialized_view: analyze must be true or false, got '" ~ analyze ~ "'"
        ) -%}
    {%- endif -%}

    {%- set swap_lock_timeout = config.get('swap_lock_timeout', '500ms') | string | trim -%}
    {%- if not modules.re.fullmatch('[0-9]+ ?(ms|s|min)?', swap_lock_timeout) -%}
        {%- do exceptions.raise_compiler_error(
            "safe_materialized_view: swap_lock_timeout must look like '500ms', '2s' or '1min', got '"
            ~ swap_lock_timeout ~ "'"
        ) -%}
    {%- endif -%}

    {%- set swap_attempts = config.get('swap_attempts', 20) -%}
    {%- if swap_attempts is not number or swap_attempts < 1 -%}
        {%- do exceptions.raise_compiler_error(
            "safe_materialized_view: swap_attempts must be a whole number of at least 1, got '"
            ~ swap_attempts ~ "'"
        ) -%}
    {%- endif -%}

    {{ return({
        'refresh_method': refresh_method,
        'analyze': analyze,
        'swap_lock_timeout': swap_lock_timeout,
        'swap_attempts': swap_attempts | int,
    }) }}
{% endmacro %}


{#-
    A stable index name: the same definition on the same model always gets the same name. `hashed`
    (or a readable name over 55 characters) replaces the columns with a digest of the definition.
-#}
{% macro safe_mv__index_name(relation, columns, unique, method, hashed=false) %}
    {%- set suffix = ('_' ~ method if method != 'btree' else '') ~ ('_uidx' if unique else '_idx') -%}
    {%- set column_part = modules.re.sub('[^a-z0-9_]+', '_', columns | join('_') | lower) | trim('_') -%}
    {%- set readable = relation.identifier ~ '__' ~ column_part ~ suffix -%}
    {%- if readable | length <= 55 and not hashed -%}
        {{ return(readable) }}
    {%- endif -%}
    {%- set digest = local_md5(relation.identifier ~ '|' ~ columns | join(',') ~ '|' ~ unique ~ '|' ~ method) -%}
    {{ return(relation.identifier[:40] ~ '__' ~ digest[:8] ~ suffix[-5:]) }}
{% endmacro %}


{#- The `indexes` config (dbt-postgres format) as specs with stable and temporary names. -#}
{% macro safe_mv__index_specs(relation) %}
    {%- set specs = [] -%}
    {%- set seen = [] -%}
    {%- set names = [] -%}
    {%- for raw_index in config.get('indexes', default=[]) or [] -%}
        {%- set index = adapter.parse_index(raw_index) -%}
        {%- set method = (index.type or 'btree') | lower -%}
        {%- set key = ('unique ' if index.unique else '') ~ method ~ ' (' ~ index.columns | join(', ') ~ ')' -%}
        {%- if key not in seen -%}
            {%- do seen.append(key) -%}
            {%- set name = safe_mv__index_name(relation, index.columns, index.unique, method) -%}
            {%- if name in names -%}
                {%- set name = safe_mv__index_name(relation, index.columns, index.unique, method, hashed=true) -%}
            {%- endif -%}
            {%- do names.append(name) -%}
            {%- set plain_columns = [] -%}
            {%- for column in index.columns if modules.re.fullmatch('"?[A-Za-z_][A-Za-z0-9_$ ]*"?', column | trim) -%}
                {%- do plain_columns.append(column) -%}
            {%- endfor -%}
            {%- do specs.append({
                'key': key,
                'name': name,
                'temp_name': name ~ '__vv_new',
                'columns': index.columns,
                'unique': index.unique,
                'method': method,
                'concurrent_capable': index.unique and method == 'btree' and plain_columns | length == index.columns | length,
            }) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(specs) }}
{% endmacro %}


{#- md5 of everything that shapes the relation: the compiled SQL and the index set. -#}
{% macro safe_mv__fingerprint(compiled_sql, index_specs) %}
    {%- set lines = ['safe_materialized_view/1', compiled_sql | trim, 'indexes:'] -%}
    {%- for spec in index_specs | sort(attribute='key') -%}
        {%- do lines.append(spec.key ~ ' as ' ~ spec.name) -%}
    {%- endfor -%}
    {{ return(local_md5(lines | join('\n'))) }}
{% endmacro %}


{% macro safe_mv__fingerprint_marker(fingerprint) -%}
    [value_view:fingerprint={{ fingerprint }}]
{%- endmacro %}


{% macro safe_mv__relation_comment(fingerprint) %}
    {%- set marker = safe_mv__fingerprint_marker(fingerprint) -%}
    {%- if config.persist_relation_docs() and model.description -%}
        {{ return(model.description | trim ~ '\n\n' ~ marker) }}
    {%- endif -%}
    {{ return(marker) }}
{% endmacro %}


{#- What the catalog says about `relation`: kind, populated, comment, fingerprint, unique index. -#}
{% macro safe_mv__describe(relation) %}
    {%- set query -%}
        select
            relations.relkind::text as relkind,
            relations.relispopulated as is_populated,
            coalesce(obj_description(relations.oid, 'pg_class'), '') as relation_comment,
            (
                select index_relations.relname::text
                from pg_index as indexes
                inner join pg_class as index_relations on index_relations.oid = indexes.indexrelid
                where
                    indexes.indrelid = relations.oid
                    and indexes.indisunique
                    and indexes.indisvalid
                    and indexes.indpred is null
                    and indexes.indexprs is null
                order by index_relations.relname
                limit 1
            ) as unique_index
        from pg_class as relations
        inner join pg_namespace as namespaces on namespaces.oid = relations.relnamespace
        where
            namespaces.nspname = {{ safe_mv__quote_literal(relation.schema) }}
            and relations.relname = {{ safe_mv__quote_literal(relation.identifier) }}
    {%- endset -%}
    {%- set rows = run_query(query).rows -%}
    {%- if rows | length == 0 -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set row = rows[0] -%}
    {%- set found = modules.re.search('\\[value_view:fingerprint=([0-9a-f]{32})\\]', row['relation_comment']) -%}
    {{ return({
        'relkind': row['relkind'],
        'kind': {'m': 'materialized view', 'v': 'view', 'r': 'table', 'p': 'table'}.get(row['relkind'], 'relation'),
        'is_populated': row['is_populated'],
        'comment': row['relation_comment'],
        'fingerprint': found.group(1) if found else none,
        'unique_index': row['unique_index'],
    }) }}
{% endmacro %}


{#- Columns as PostgreSQL sees them (information_schema leaves materialized views out). -#}
{% macro safe_mv__relation_columns(relation) %}
    {%- set query -%}
        select
            attributes.attname::text as column_name,
            format_type(attributes.atttypid, attributes.atttypmod) as data_type,
            coalesce(col_description(attributes.attrelid, attributes.attnum), '') as column_comment
        from pg_attribute as attributes
        where
            attributes.attrelid = {{ safe_mv__quote_literal(relation.include(database=False)) }}::regclass
            and attributes.attnum > 0
            and not attributes.attisdropped
        order by attributes.attnum
    {%- endset -%}
    {%- set columns = [] -%}
    {%- for row in run_query(query).rows -%}
        {%- do columns.append({
            'name': row['column_name'],
            'data_type': row['data_type'],
            'comment': row['column_comment'],
        }) -%}
    {%- endfor -%}
    {{ return(columns) }}
{% endmacro %}


{#-
    The relation comment (description + fingerprint marker) and, with persist_docs, the column
    comments; only those that differ from what the relation has are written.
-#}
{% macro safe_mv__persist_docs(relation, fingerprint, columns, current_comment=none) %}
    {%- set comment = safe_mv__relation_comment(fingerprint) -%}
    {%- set statements = [] -%}
    {%- if comment != current_comment -%}
        {%- do statements.append(
            'comment on materialized view ' ~ relation ~ ' is ' ~ postgres_escape_comment(comment)
        ) -%}
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


{#- Drop a relation left by an interrupted run; never cascades. -#}
{% macro safe_mv__drop_leftover(relation) %}
    {%- set leftover = safe_mv__describe(relation) -%}
    {%- if leftover is not none -%}
        {{ log('safe_materialized_view: dropping leftover ' ~ leftover.kind ~ ' ' ~ relation, info=true) }}
        {%- call statement('drop_leftover') -%}
            drop {{ leftover.kind }} {{ relation }}
        {%- endcall -%}
    {%- endif -%}
{% endmacro %}


{% macro safe_mv__seconds_since(started_at) %}
    {{ return('%.2f' | format((modules.datetime.datetime.now() - started_at).total_seconds())) }}
{% endmacro %}
