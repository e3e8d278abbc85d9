{#-
    The contract check of `safe_materialized_view`: the columns PostgreSQL reports for the built
    relation (pg_attribute / format_type) against the model's YAML columns and their data_type.
-#}

{% macro safe_mv__type_aliases() %}
    {{ return({
        'int': 'integer', 'int4': 'integer', 'integer': 'integer', 'serial': 'integer', 'serial4': 'integer',
        'int8': 'bigint', 'bigint': 'bigint', 'bigserial': 'bigint', 'serial8': 'bigint',
        'int2': 'smallint', 'smallint': 'smallint', 'smallserial': 'smallint', 'serial2': 'smallint',
        'float': 'double precision', 'float8': 'double precision', 'double': 'double precision',
        'double precision': 'double precision',
        'float4': 'real', 'real': 'real',
        'decimal': 'numeric', 'numeric': 'numeric',
        'varchar': 'character varying', 'character varying': 'character varying',
        'char': 'character', 'character': 'character', 'bpchar': 'character',
        'bool': 'boolean', 'boolean': 'boolean',
        'timestamptz': 'timestamp with time zone',
        'timestamp with time zone': 'timestamp with time zone',
        'timestamp': 'timestamp without time zone',
        'timestamp without time zone': 'timestamp without time zone',
        'timetz': 'time with time zone', 'time with time zone': 'time with time zone',
        'time': 'time without time zone', 'time without time zone': 'time without time zone',
        'varbit': 'bit varying', 'bit varying': 'bit varying',
        'string': 'text',
    }) }}
{% endmacro %}


{#-
    A type name reduced to {base, modifier, is_array}: aliases resolved ('int4' -> 'integer',
    'timestamptz' -> 'timestamp with time zone'), the modifier split off ('numeric(4,1)' -> '4,1'),
    both array spellings recognised ('text[]' and '_text').
-#}
{% macro safe_mv__normalize_type(data_type) %}
    {%- set text = (data_type | string | lower).split() | join(' ') -%}
    {%- set is_array = false -%}
    {%- if text.endswith('[]') -%}
        {%- set is_array = true -%}
        {%- set text = modules.re.sub('( ?\\[\\])+$', '', text) -%}
    {%- elif text.startswith('_') -%}
        {%- set is_array = true -%}
        {%- set text = text[1:] -%}
    {%- endif -%}
    {%- set found = modules.re.search('[(]([^)]*)[)]', text) -%}
    {%- set modifier = found.group(1).replace(' ', '') if found else '' -%}
    {%- set base = modules.re.sub(' ?[(][^)]*[)]', '', text) | trim -%}
    {{ return({
        'base': safe_mv__type_aliases().get(base, base),
        'modifier': modifier,
        'is_array': is_array,
    }) }}
{% endmacro %}


{#- True when the YAML type accepts the actual one; a YAML type without modifier accepts any. -#}
{% macro safe_mv__types_match(declared_type, actual_type) %}
    {%- set declared = safe_mv__normalize_type(declared_type) -%}
    {%- set actual = safe_mv__normalize_type(actual_type) -%}
    {{ return(
        declared.base == actual.base
        and declared.is_array == actual.is_array
        and (declared.modifier == '' or declared.modifier == actual.modifier)
    ) }}
{% endmacro %}


{#- Every difference between the YAML columns and `columns` (from safe_mv__relation_columns). -#}
{% macro safe_mv__contract_problems(columns) %}
    {%- set actual_types = {} -%}
    {%- for column in columns -%}
        {%- do actual_types.update({column.name: column.data_type}) -%}
    {%- endfor -%}
    {%- set problems = [] -%}
    {%- set declared_names = [] -%}
    {%- for name, column in model.columns.items() -%}
        {%- set column_name = name if column.get('quote') else name | lower -%}
        {%- set declared_type = column.get('data_type') -%}
        {%- do declared_names.append(column_name) -%}
        {%- if column_name not in actual_types -%}
            {%- do problems.append(
                'column `' ~ column_name ~ '` is missing: declared in the YAML'
                ~ (' as ' ~ declared_type if declared_type else '') ~ ' but not in the relation'
            ) -%}
        {%- elif declared_type and not safe_mv__types_match(declared_type, actual_types[column_name]) -%}
            {%- do problems.append(
                'column `' ~ column_name ~ '` has type `' ~ actual_types[column_name]
                ~ '` but the YAML declares `' ~ declared_type ~ '`'
            ) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for column in columns if column.name not in declared_names -%}
        {%- do problems.append(
            'column `' ~ column.name ~ '` (' ~ column.data_type ~ ') is extra: in the relation but not in the YAML'
        ) -%}
    {%- endfor -%}
    {{ return(problems) }}
{% endmacro %}


{#-
    Enforced contract: any difference fails the build (the caller runs this before the swap, so the
    old relation stays in place). Otherwise, when the YAML declares data types, differences warn.
-#}
{% macro safe_mv__check_contract(relation, columns, checked_what) %}
    {%- set enforced = config.get('contract').enforced -%}
    {%- set typed_columns = model.columns.values() | selectattr('data_type') | list -%}
    {%- if not enforced and not typed_columns -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set problems = safe_mv__contract_problems(columns) -%}
    {%- if problems and enforced -%}
        {%- do exceptions.raise_compiler_error(
            'safe_materialized_view: the enforced contract of ' ~ model.name ~ ' does not match '
            ~ checked_what ~ ' (' ~ relation ~ '); '
            ~ this ~ ' was left as it was.\n  - ' ~ problems | join('\n  - ')
        ) -%}
    {%- elif problems -%}
        {%- do exceptions.warn(
            'safe_materialized_view: the YAML columns of ' ~ model.name ~ ' drift from '
            ~ checked_what ~ ' (' ~ relation ~ '):\n  - ' ~ problems | join('\n  - ')
        ) -%}
    {%- endif -%}
    {{ return(problems) }}
{% endmacro %}
