{#-
    Whether `relation` (a ref or source) is built in the warehouse. True while dbt parses (nothing
    is queried then). A model that reads a relation another command builds (a snapshot, which
    `dbt run` does not take) falls back to an empty input until it exists; a unit test overrides
    this macro, since its fixtures are never built.
-#}
{% macro value_view_relation_exists(relation) -%}
    {%- if not execute -%}
        {{ return(true) }}
    {%- endif -%}
    {{ return(adapter.get_relation(
        database=relation.database, schema=relation.schema, identifier=relation.identifier
    ) is not none) }}
{%- endmacro %}
