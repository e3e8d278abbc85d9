with

source as (

    select * from {{ source('vital', 'tenants') }}

),

renamed as (

    select
        -- keys
        id as tenant_id,

        -- descriptive
        tenant_name,
        slug,

        -- timestamps
        created_at

    from source
    where {{ exclude_quarantined('tenants') }}

)

select * from renamed
