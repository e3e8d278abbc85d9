with

source as (

    select * from {{ source('evaluations', 'professional_data_audit') }}

),

renamed as (

    select
        -- keys
        id as audit_id,

        -- foreign keys
        evaluation_id,
        user_id,

        -- descriptive
        change_type,
        changed_fields,
        session_id,
        ip_address,

        -- timestamps
        "timestamp" as audited_at

    from source
    where {{ exclude_quarantined('professional_data_audit') }}

)

select * from renamed
