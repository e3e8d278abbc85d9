with

source as (

    select * from {{ source('vital', 'therapeutic_areas') }}

),

renamed as (

    select
        -- keys
        id as therapeutic_area_id,

        -- foreign keys
        tenant_id,

        -- descriptive
        code as therapeutic_area_code,
        name as therapeutic_area_name,

        -- timestamps
        created_at

    from source
    where {{ exclude_quarantined('therapeutic_areas') }}

)

select * from renamed
