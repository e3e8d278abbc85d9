with

source as (

    select * from {{ source('vital', 'jtbd_odi_scores') }}

),

renamed as (

    select
        -- keys
        id as odi_score_id,

        -- foreign keys
        tenant_id,
        jtbd_id,
        persona_id,

        -- descriptive
        opportunity_classification,

        -- numbers
        importance_score,
        satisfaction_score,
        opportunity_score,
        respondent_count,

        -- timestamps
        scored_at

    from source
    where {{ exclude_quarantined('jtbd_odi_scores') }}

)

select * from renamed
