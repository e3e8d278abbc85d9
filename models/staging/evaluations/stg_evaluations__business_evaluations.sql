with

source as (

    select * from {{ source('evaluations', 'business_evaluations') }}

),

renamed as (

    select
        -- keys
        id as evaluation_id,

        -- foreign keys
        tenant_id,
        user_id,

        -- descriptive
        subscription_tier,
        status,
        analysis_depth,
        business_data,
        professional_data,
        valuations,
        opportunities,

        -- numbers
        health_score,
        confidence_score,
        data_version,

        -- timestamps
        created_at,
        updated_at

    from source
    where
        deleted_at is null
        and {{ exclude_quarantined('business_evaluations') }}

)

select * from renamed
