{#-
    One row per user: who they are in the ontology (tenant, role and its department, function and
    industry, persona and archetype) and the filter state they saved, ready to preset the filter
    panel. A user without a role of their own takes their persona's role.
-#}

with

users as (

    select * from {{ ref('stg_vital__users') }}

),

tenants as (

    select * from {{ ref('stg_vital__tenants') }}

),

personas as (

    select * from {{ ref('stg_vital__personas') }}

),

roles as (

    select * from {{ ref('stg_vital__org_roles') }}

),

departments as (

    select * from {{ ref('stg_vital__org_departments') }}

),

business_functions as (

    select * from {{ ref('stg_vital__org_business_functions') }}

),

industries as (

    select * from {{ ref('stg_vital__industries') }}

),

preferences as (

    select * from {{ ref('int_user_saved_filters_unpacked') }}

),

user_context as (

    select
        users.user_id,
        users.tenant_id,
        tenants.tenant_name,
        users.display_name,
        industries.industry_id,
        industries.industry_name,
        business_functions.function_id,
        business_functions.function_name,
        departments.department_id,
        departments.department_name,
        roles.role_id,
        roles.role_name,
        personas.persona_id,
        personas.persona_name,
        personas.archetype,
        preferences.default_view,
        preferences.saved_industry_id,
        preferences.saved_function_id,
        preferences.saved_department_id,
        preferences.saved_role_id,
        preferences.saved_persona_id,
        preferences.saved_archetype,
        preferences.saved_complexity,
        preferences.saved_frequency,
        preferences.saved_min_opportunity_score,
        preferences.saved_strategic_pillars,
        preferences.saved_service_layers,
        preferences.saved_filters,
        preferences.user_id is not null as has_preferences,
        users.last_login_at,
        preferences.updated_at as preferences_updated_at

    from users
    inner join tenants
        on users.tenant_id = tenants.tenant_id
    left join personas
        on users.persona_id = personas.persona_id
    left join roles
        on coalesce(users.role_id, personas.role_id) = roles.role_id
    left join departments
        on roles.department_id = departments.department_id
    left join business_functions
        on departments.function_id = business_functions.function_id
    left join industries
        on business_functions.industry_id = industries.industry_id
    left join preferences
        on users.user_id = preferences.user_id

)

select * from user_context
