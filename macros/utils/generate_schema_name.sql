{#-
    Custom schemas are used verbatim for the BI-facing schema and prefixed for the others:
    marts land in `value_view` (the contract with BI tools), staging in `value_view_staging`,
    intermediate models in `value_view_intermediate`, seeds in `value_view_reference`.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema | trim }}
    {%- elif custom_schema_name | trim == target.schema | trim -%}
        {{ custom_schema_name | trim }}
    {%- else -%}
        {{ target.schema | trim }}_{{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
