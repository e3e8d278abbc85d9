with

source as (

    select * from {{ source('vital', 'industries') }}

),

renamed as (

    select
        -- keys
        id as industry_id,

        -- foreign keys
        tenant_id,

        -- descriptive
        industry_name,

        -- timestamps
        created_at

    from source
    where {{ exclude_quarantined('industries') }}

)

select * from renamed
