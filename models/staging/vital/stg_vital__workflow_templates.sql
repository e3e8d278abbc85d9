with

source as (

    select * from {{ source('vital', 'workflow_templates') }}

),

renamed as (

    select
        -- keys
        id as workflow_id,

        -- foreign keys
        tenant_id,
        jtbd_id,

        -- descriptive
        name as workflow_name,
        status,
        automation_level,

        -- numbers
        estimated_duration_hours,

        -- timestamps
        created_at,
        updated_at

    from source
    where
        deleted_at is null
        and {{ exclude_quarantined('workflow_templates') }}

)

select * from renamed
