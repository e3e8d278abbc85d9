with

source as (

    select * from {{ source('vital', 'ref_opportunities') }}

),

renamed as (

    select
        -- keys
        id as ref_opportunity_id,

        -- foreign keys
        tenant_id,
        target_jtbd_id as jtbd_id,
        primary_value_driver_id as value_driver_id,

        -- descriptive
        opportunity_name,

        -- numbers
        priority_rank,

        -- timestamps
        created_at

    from source
    where {{ exclude_quarantined('ref_opportunities') }}

)

select * from renamed
