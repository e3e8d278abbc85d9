{#-
    value_view_sql_literal(value): the value as a single-quoted SQL string literal (quotes doubled),
    for the SQL text the quality and security macros write.
-#}
{% macro value_view_sql_literal(value) -%}
    '{{ value | string | replace("'", "''") }}'
{%- endmacro %}
