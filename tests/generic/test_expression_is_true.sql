{#
    expression_is_true(expression)

    Rejects every row for which the SQL expression is false. As a column test the expression
    follows the column name (`expression: "is null"` tests `<column> is null`); as a model test
    it stands alone. A row where the expression is null passes (as in a `where` clause), so an
    expression that may meet nulls says how to treat them. Failing rows are returned whole.
#}
{% test expression_is_true(model, expression, column_name=none) %}

    with

    tested as (

        select * from {{ model }}

    ),

    failing as (

        select * from tested
        where not ({{ (column_name ~ ' ') if column_name else '' }}{{ expression }})

    )

    select * from failing

{% endtest %}
