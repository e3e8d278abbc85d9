with

source as (

    select * from {{ source('vital', 'ai_opportunities') }}

),

renamed as (

    select
        -- keys
        id as ai_opportunity_id,

        -- foreign keys
        tenant_id,
        jtbd_id,

        -- descriptive
        opportunity_name,
        status,
        priority,

        -- numbers
        automation_potential,
        estimated_time_savings_hours,
        estimated_cost_savings_usd,

        -- timestamps
        created_at,
        updated_at

    from source
    where {{ exclude_quarantined('ai_opportunities') }}

)

select * from renamed
