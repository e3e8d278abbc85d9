with

source as (

    select * from {{ source('vital', 'users') }}

),

renamed as (

    select
        -- keys
        id as user_id,

        -- foreign keys
        tenant_id,
        role_id,
        persona_id,

        -- descriptive
        email,
        display_name,

        -- timestamps
        created_at,
        last_login_at

    from source
    where {{ exclude_quarantined('users') }}

)

select * from renamed
