{#-
    jsonb_number(document, key): the member `key` of a JSONB object as numeric when it is a JSON
    number, else null, so a malformed payload (a string, an object, a missing key) never breaks
    the cast.
-#}
{% macro jsonb_number(document, key) -%}
    case
        when jsonb_typeof({{ document }} -> '{{ key }}') = 'number'
            then ({{ document }} ->> '{{ key }}')::numeric
    end
{%- endmacro %}
