with

source as (

    select * from {{ source('vital', 'org_departments') }}

),

renamed as (

    select
        -- keys
        id as department_id,

        -- foreign keys
        tenant_id,
        function_id,

        -- descriptive
        department_name,

        -- timestamps
        created_at

    from source
    where {{ exclude_quarantined('org_departments') }}

)

select * from renamed
