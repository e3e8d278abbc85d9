with

source as (

    select * from {{ source('vital', 'jtbd_roles') }}

),

renamed as (

    select
        -- keys
        id as jtbd_role_id,

        -- foreign keys
        tenant_id,
        jtbd_id,
        role_id,

        -- numbers
        time_share_pct,

        -- booleans
        is_primary,

        -- timestamps
        created_at

    from source
    where {{ exclude_quarantined('jtbd_roles') }}

)

select * from renamed
