{{ config(meta={'dagster': {'ref': {'name': 'v_value_view_user_context', 'version': 1}}}) }}

-- v_value_view_user_context has exactly one row for every user of stg_vital__users, and no row
-- for anyone else. Fails with one row per user with zero or several rows, or per unknown user.

with

users as (

    select * from {{ ref('stg_vital__users') }}

),

user_context as (

    select * from {{ ref('v_value_view_user_context') }}

),

rows_per_user as (

    select
        users.user_id,
        count(user_context.user_id) as context_rows
    from users
    left join user_context
        on users.user_id = user_context.user_id
    group by users.user_id

),

problems as (

    select
        'user without exactly one context row' as problem,
        user_id,
        context_rows
    from rows_per_user
    where context_rows <> 1

    union all

    select
        'context row for an unknown user' as problem,
        user_context.user_id,
        1 as context_rows
    from user_context
    where not exists (
        select 1 from users
        where users.user_id = user_context.user_id
    )

)

select * from problems
