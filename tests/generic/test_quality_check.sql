{#
    quality_check(check, column=none)

    Declared on a quarantine model: rejects (reports) every row of the model that the rule
    (check, column) of quality_rules() caught, returning the source table, column, row id,
    tenant, offending value, disposition and description. A rule that is not in the catalogue
    (macros/quality/quality_tables.sql) fails the compilation, so a test cannot silently watch a
    rule that no longer runs; tests_py/test_bad_input.py checks that each test is named after its
    rule (quality_<check>_<table>[_<column>]).

    Severity warn: the build goes on, the rows are kept out of the marts (or flagged), and the
    failing rows are stored in schema <target>_quality under the test's name.
#}
{% test quality_check(model, check, column=none) -%}
    {{ config(severity="warn", store_failures=true, schema="quality", tags=["quality"]) }}
    {%- set table = model.identifier | replace("quarantine_", "", 1) -%}
    {%- set matching = [] -%}
    {%- for rule in (quality_rules(table) if execute else [{"check": check, "column": column}]) -%}
        {%- if rule.check == check and (column is none or rule.column == column) -%}
            {%- do matching.append(rule) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if matching | length == 0 -%}
        {{ exceptions.raise_compiler_error(
            "quality_check: no rule " ~ check ~ (" on " ~ column if column else "")
            ~ " for " ~ table ~ " in quality_tables()"
        ) }}
    {%- endif %}

    select
        source_table,
        column_name,
        row_id,
        tenant_id,
        bad_value,
        disposition,
        description
    from {{ model }}
    where
        check_name = {{ value_view_sql_literal(check) }}
        {%- if column is not none %}
        and column_name = {{ value_view_sql_literal(column) }}
        {%- endif %}
{%- endtest %}
