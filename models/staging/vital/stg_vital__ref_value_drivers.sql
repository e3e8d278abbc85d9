with

source as (

    select * from {{ source('vital', 'ref_value_drivers') }}

),

renamed as (

    select
        -- keys
        id as value_driver_id,

        -- descriptive
        code as value_driver_code,
        name as value_driver_name,
        value_category,
        description

    from source
    where {{ exclude_quarantined('ref_value_drivers') }}

)

select * from renamed
