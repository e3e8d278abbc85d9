with

source as (

    select * from {{ source('vital', 'org_roles') }}

),

renamed as (

    select
        -- keys
        id as role_id,

        -- foreign keys
        tenant_id,
        department_id,

        -- descriptive
        role_name,
        seniority,

        -- numbers
        headcount,

        -- timestamps
        created_at

    from source
    where {{ exclude_quarantined('org_roles') }}

)

select * from renamed
