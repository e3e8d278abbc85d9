{#
    unique_combination(combination_of_columns)

    Model-level test for a grain of several columns: rejects every combination of the listed
    columns that occurs on more than one row, returning the combination and how many rows carry
    it. Rows where any of the columns is null are compared like any other value (null = null), so
    pair the test with not_null on each column where the grain must be complete.
#}
{% test unique_combination(model, combination_of_columns) %}

    {%- if not combination_of_columns or combination_of_columns | length < 2 -%}
        {{ exceptions.raise_compiler_error(
            "unique_combination needs at least two columns in combination_of_columns;"
            ~ " use the built-in unique test for a single column"
        ) }}
    {%- endif -%}

    with

    combinations as (

        select
            {% for column in combination_of_columns -%}
                {{ column }},
            {% endfor -%}
            count(*) as rows_count

        from {{ model }}
        group by {{ combination_of_columns | join(', ') }}

    ),

    duplicated as (

        select * from combinations
        where rows_count > 1

    )

    select * from duplicated

{% endtest %}
