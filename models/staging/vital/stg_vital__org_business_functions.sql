with

source as (

    select * from {{ source('vital', 'org_business_functions') }}

),

renamed as (

    select
        -- keys
        id as function_id,

        -- foreign keys
        tenant_id,
        industry_id,

        -- descriptive
        function_name,

        -- timestamps
        created_at

    from source
    where {{ exclude_quarantined('org_business_functions') }}

)

select * from renamed
