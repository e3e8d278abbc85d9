with

source as (

    select * from {{ source('vital', 'personas') }}

),

renamed as (

    select
        -- keys
        id as persona_id,

        -- foreign keys
        tenant_id,
        role_id,

        -- descriptive
        persona_name,
        archetype::text as archetype,
        validation_status,

        -- numbers
        ai_maturity_score,
        work_complexity_score,

        -- timestamps
        created_at,
        updated_at

    from source
    where {{ exclude_quarantined('personas') }}

)

select * from renamed
