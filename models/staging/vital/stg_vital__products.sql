with

source as (

    select * from {{ source('vital', 'products') }}

),

renamed as (

    select
        -- keys
        id as product_id,

        -- foreign keys
        tenant_id,
        therapeutic_area_id,

        -- descriptive
        product_name,
        lifecycle_stage,

        -- timestamps
        created_at

    from source
    where {{ exclude_quarantined('products') }}

)

select * from renamed
