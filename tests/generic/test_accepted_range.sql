{#
    accepted_range(min_value=none, max_value=none, inclusive=true)

    Rejects every row whose column value lies outside [min_value, max_value]
    (or outside (min_value, max_value) when inclusive is false). Either bound may
    be omitted to test one side only; at least one must be given. Null values
    pass: pair the test with not_null where a value is required.
    Failing rows are returned with the offending value, so `dbt test --store-failures`
    shows exactly which values broke the range.
#}
{% test accepted_range(model, column_name, min_value=none, max_value=none, inclusive=true) %}

    {%- if min_value is none and max_value is none -%}
        {{ exceptions.raise_compiler_error(
            "accepted_range on " ~ column_name ~ " needs min_value, max_value or both"
        ) }}
    {%- endif -%}

    {%- set lower_operator = '>=' if inclusive else '>' -%}
    {%- set upper_operator = '<=' if inclusive else '<' -%}

    with

    tested as (

        select {{ column_name }} as tested_value
        from {{ model }}
        where {{ column_name }} is not null

    ),

    out_of_range as (

        select tested_value
        from tested
        where not (
            true
            {%- if min_value is not none %}
                and tested_value {{ lower_operator }} {{ min_value }}
            {%- endif %}
            {%- if max_value is not none %}
                and tested_value {{ upper_operator }} {{ max_value }}
            {%- endif %}
        )

    )

    select * from out_of_range

{% endtest %}
