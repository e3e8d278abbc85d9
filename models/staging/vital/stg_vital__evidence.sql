with

source as (

    select * from {{ source('vital', 'evidence') }}

),

renamed as (

    select
        -- keys
        id as evidence_id,

        -- foreign keys
        tenant_id,
        product_id,
        disease_id,

        -- descriptive
        evidence_type,
        title,
        evidence_level,

        -- dates and timestamps
        published_at,
        created_at

    from source
    where {{ exclude_quarantined('evidence') }}

)

select * from renamed
