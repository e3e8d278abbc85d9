with

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

published_personas as (

    select * from personas
    where validation_status = 'published'

),

personas_in_organisation as (

    select
        published_personas.persona_id,
        published_personas.tenant_id,
        business_functions.industry_id,
        business_functions.function_id,
        departments.department_id,
        roles.role_id,
        published_personas.persona_name,
        published_personas.archetype,
        roles.role_name,
        departments.department_name,
        business_functions.function_name,
        published_personas.ai_maturity_score,
        published_personas.work_complexity_score

    from published_personas
    inner join roles
        on published_personas.role_id = roles.role_id
    inner join departments
        on roles.department_id = departments.department_id
    inner join business_functions
        on departments.function_id = business_functions.function_id

)

select * from personas_in_organisation
