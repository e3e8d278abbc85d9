with

source as (

    select * from {{ source('vital', 'user_preferences') }}

),

renamed as (

    select
        -- keys
        id as user_preference_id,

        -- foreign keys
        user_id,

        -- descriptive
        default_view,
        saved_filters,

        -- timestamps
        updated_at

    from source
    where {{ exclude_quarantined('user_preferences') }}

)

select * from renamed
