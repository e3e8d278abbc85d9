with

source as (

    select * from {{ source('vital', 'jtbd_category_mappings') }}

),

renamed as (

    select
        -- keys
        id as jtbd_category_mapping_id,

        -- foreign keys
        jtbd_id,
        pillar_id,

        -- numbers
        alignment_weight,

        -- timestamps
        created_at

    from source
    where {{ exclude_quarantined('jtbd_category_mappings') }}

)

select * from renamed
