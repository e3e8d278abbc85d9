with

source as (

    select * from {{ source('vital', 'jtbd') }}

),

renamed as (

    select
        -- keys
        id as jtbd_id,

        -- foreign keys
        tenant_id,

        -- descriptive
        code as jtbd_code,
        name as jtbd_name,
        job_statement,
        complexity,
        frequency,
        status,

        -- timestamps
        created_at,
        updated_at

    from source
    where
        deleted_at is null
        and {{ exclude_quarantined('jtbd') }}

)

select * from renamed
