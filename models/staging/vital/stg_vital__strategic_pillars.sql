with

source as (

    select * from {{ source('vital', 'strategic_pillars') }}

),

renamed as (

    select
        -- keys
        id as pillar_id,

        -- descriptive
        code as pillar_code,
        name as pillar_name,
        description,
        okr,
        theme,

        -- timestamps
        created_at

    from source
    where {{ exclude_quarantined('strategic_pillars') }}

)

select * from renamed
