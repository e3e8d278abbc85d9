{#-
    ODI opportunity score: importance + max(importance - satisfaction, 0).
    With importance and satisfaction on 0-10 the score runs from 0 to 20.
-#}
{% macro odi_opportunity(importance, satisfaction) -%}
    ({{ importance }} + greatest({{ importance }} - {{ satisfaction }}, 0))
{%- endmacro %}
