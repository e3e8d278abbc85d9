with

source as (

    select * from {{ source('vital', 'jtbd_ai_suitability') }}

),

renamed as (

    select
        -- keys
        id as ai_suitability_id,

        -- foreign keys
        jtbd_id,

        -- descriptive
        recommended_service_layer,

        -- numbers
        overall_score,
        data_readiness_score,
        risk_score,

        -- timestamps
        assessed_at

    from source
    where {{ exclude_quarantined('jtbd_ai_suitability') }}

)

select * from renamed
