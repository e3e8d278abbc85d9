with

source as (

    select * from {{ source('vital', 'jtbd_outcomes') }}

),

renamed as (

    select
        -- keys
        id as outcome_id,

        -- foreign keys
        jtbd_id,

        -- descriptive
        outcome_statement,

        -- numbers
        importance_score,
        satisfaction_score,
        opportunity_score,

        -- timestamps
        created_at

    from source
    where {{ exclude_quarantined('jtbd_outcomes') }}

)

select * from renamed
