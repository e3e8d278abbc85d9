with

source as (

    select * from {{ source('vital', 'diseases') }}

),

renamed as (

    select
        -- keys
        id as disease_id,

        -- foreign keys
        tenant_id,
        therapeutic_area_id,

        -- descriptive
        disease_name,
        icd10_code,

        -- timestamps
        created_at

    from source
    where {{ exclude_quarantined('diseases') }}

)

select * from renamed
