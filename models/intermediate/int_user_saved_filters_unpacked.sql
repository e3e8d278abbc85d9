{#-
    One row per user preference: the saved filter state (`saved_filters` jsonb, keyed like the
    front end's FilterState) unpacked into typed columns. A key that is absent, null or of the
    wrong JSON type (or an id that is not a uuid) gives null; list keys give text arrays (empty
    when saved as []). `tenant_id` is not unpacked: a user only ever sees their own tenant.
-#}

{%- set uuid_pattern = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' -%}

with

preferences as (

    select * from {{ ref('stg_vital__user_preferences') }}

),

unpacked as (

    select
        user_preference_id,
        user_id,
        default_view,
        saved_filters,
        case
            when (saved_filters ->> 'industry_id') ~* '{{ uuid_pattern }}'
                then (saved_filters ->> 'industry_id')::uuid
        end as saved_industry_id,
        case
            when (saved_filters ->> 'function_id') ~* '{{ uuid_pattern }}'
                then (saved_filters ->> 'function_id')::uuid
        end as saved_function_id,
        case
            when (saved_filters ->> 'department_id') ~* '{{ uuid_pattern }}'
                then (saved_filters ->> 'department_id')::uuid
        end as saved_department_id,
        case
            when (saved_filters ->> 'role_id') ~* '{{ uuid_pattern }}'
                then (saved_filters ->> 'role_id')::uuid
        end as saved_role_id,
        case
            when (saved_filters ->> 'persona_id') ~* '{{ uuid_pattern }}'
                then (saved_filters ->> 'persona_id')::uuid
        end as saved_persona_id,
        case
            when jsonb_typeof(saved_filters -> 'archetype') = 'string'
                then saved_filters ->> 'archetype'
        end as saved_archetype,
        case
            when jsonb_typeof(saved_filters -> 'complexity') = 'array'
                then array(select jsonb_array_elements_text(saved_filters -> 'complexity'))
        end as saved_complexity,
        case
            when jsonb_typeof(saved_filters -> 'frequency') = 'array'
                then array(select jsonb_array_elements_text(saved_filters -> 'frequency'))
        end as saved_frequency,
        -- the cast cannot fail: a reader's filter on this column may be evaluated before the
        -- quarantine's anti-join removes a score out of 0-20 (malformed_json)
        case
            when
                jsonb_typeof(saved_filters -> 'min_opportunity_score') = 'number'
                and (saved_filters -> 'min_opportunity_score')::numeric between 0 and 20
                then (saved_filters ->> 'min_opportunity_score')::numeric(4, 2)
        end as saved_min_opportunity_score,
        case
            when jsonb_typeof(saved_filters -> 'strategic_pillars') = 'array'
                then array(select jsonb_array_elements_text(saved_filters -> 'strategic_pillars'))
        end as saved_strategic_pillars,
        case
            when jsonb_typeof(saved_filters -> 'service_layers') = 'array'
                then array(select jsonb_array_elements_text(saved_filters -> 'service_layers'))
        end as saved_service_layers,
        updated_at

    from preferences

)

select * from unpacked
