{#- Not a dbt analysis: `value-view bench` compiles this file inline. It shares its name with
    the mart query in analyses/benchmarks/, which dbt allows only when this node is disabled. -#}
{{ config(enabled=false) }}

-- Raw twin of bench_odi_trends: the tenant's job trends computed on read from the score history
-- (odi_scores_snapshot) and the VITAL source tables - the published personas whose role performs
-- each live job, every version of their scores, each job's average at every moment a score
-- changed - filtered, ordered and limited like the mart query.

with

score_history as (

    select * from {{ ref('odi_scores_snapshot') }} as versions
    where {{ exclude_quarantined('jtbd_odi_scores', relation='versions') }}

),

pairs as (

    select
        personas.tenant_id,
        personas.id as persona_id,
        personas.persona_name,
        jobs.id as jtbd_id,
        jobs.code as jtbd_code

    from {{ source('vital', 'personas') }} as personas
    inner join {{ source('vital', 'jtbd_roles') }} as jtbd_roles
        on personas.role_id = jtbd_roles.role_id
    inner join {{ source('vital', 'jtbd') }} as jobs
        on
            jtbd_roles.jtbd_id = jobs.id
            and personas.tenant_id = jobs.tenant_id
    where
        personas.validation_status = 'published'
        and jobs.deleted_at is null
        and personas.tenant_id = 'f7aa6fd4-0af9-4706-8b31-034f1f7accda'

),

checkpoints as (

    select
        current_timestamp as measured_at,
        date_trunc('day', current_timestamp, 'UTC') - interval '7 days' as days_7_ago,
        date_trunc('day', current_timestamp, 'UTC') - interval '30 days' as days_30_ago,
        date_trunc('day', current_timestamp, 'UTC') - interval '90 days' as days_90_ago

),

pair_versions as (

    select
        pairs.tenant_id,
        pairs.jtbd_id,
        pairs.persona_id,
        score_history.importance_score,
        score_history.satisfaction_score,
        {{ odi_opportunity('score_history.importance_score', 'score_history.satisfaction_score') }}
            as opportunity_score,
        score_history.dbt_valid_from as valid_from,
        score_history.dbt_valid_to as valid_to

    from score_history
    inner join pairs
        on
            score_history.persona_id = pairs.persona_id
            and score_history.jtbd_id = pairs.jtbd_id
            and score_history.tenant_id = pairs.tenant_id

),

job_moments as (

    select distinct
        tenant_id,
        jtbd_id,
        valid_from as moment

    from pair_versions

),

job_versions as (

    select
        job_moments.tenant_id,
        job_moments.jtbd_id,
        job_moments.moment as valid_from,
        lead(job_moments.moment) over (
            partition by job_moments.jtbd_id order by job_moments.moment
        ) as valid_to,
        avg(pair_versions.importance_score) as importance_score,
        avg(pair_versions.satisfaction_score) as satisfaction_score,
        avg(pair_versions.opportunity_score) as opportunity_score

    from job_moments
    inner join pair_versions
        on
            job_moments.jtbd_id = pair_versions.jtbd_id
            and job_moments.moment >= pair_versions.valid_from
            and (pair_versions.valid_to is null or job_moments.moment < pair_versions.valid_to)
    group by job_moments.tenant_id, job_moments.jtbd_id, job_moments.moment

),

all_versions as (

    select
        'persona_jtbd' as grain,
        tenant_id,
        jtbd_id,
        persona_id,
        opportunity_score,
        {{ odi_classification('opportunity_score', 'importance_score', 'satisfaction_score') }}
            as opportunity_classification,
        valid_from,
        valid_to

    from pair_versions

    union all

    select
        'jtbd' as grain,
        tenant_id,
        jtbd_id,
        null::uuid as persona_id,
        opportunity_score,
        {{ odi_classification('opportunity_score', 'importance_score', 'satisfaction_score') }}
            as opportunity_classification,
        valid_from,
        valid_to

    from job_versions

),

band_changes as (

    select
        grain,
        jtbd_id,
        persona_id,
        valid_from,
        opportunity_classification,
        lag(opportunity_classification) over (
            partition by grain, jtbd_id, persona_id order by valid_from
        ) as previous_classification

    from all_versions

),

first_crossings as (

    select distinct on (grain, jtbd_id, persona_id)
        grain,
        jtbd_id,
        persona_id,
        valid_from as crossed_at,
        previous_classification as crossed_from,
        opportunity_classification as crossed_to

    from band_changes
    where
        opportunity_classification is distinct from previous_classification
        and previous_classification is not null
    order by grain, jtbd_id, persona_id, valid_from

),

version_spans as (

    select
        all_versions.*,
        all_versions.valid_from <= checkpoints.days_7_ago
        and coalesce(all_versions.valid_to, 'infinity') > checkpoints.days_7_ago as is_7_days_ago,
        all_versions.valid_from <= checkpoints.days_30_ago
        and coalesce(all_versions.valid_to, 'infinity') > checkpoints.days_30_ago
            as is_30_days_ago,
        all_versions.valid_from <= checkpoints.days_90_ago
        and coalesce(all_versions.valid_to, 'infinity') > checkpoints.days_90_ago
            as is_90_days_ago

    from all_versions
    cross join checkpoints

),

trend_points as (

    select
        grain,
        tenant_id,
        jtbd_id,
        persona_id,
        min(valid_from) as history_starts_at,
        max(opportunity_score) filter (where valid_to is null) as opportunity_score,
        max(opportunity_classification) filter (
            where valid_to is null
        ) as opportunity_classification,
        max(opportunity_score) filter (where is_7_days_ago) as score_7_days_ago,
        max(opportunity_score) filter (where is_30_days_ago) as score_30_days_ago,
        max(opportunity_score) filter (where is_90_days_ago) as score_90_days_ago

    from version_spans
    group by grain, tenant_id, jtbd_id, persona_id

),

job_codes as (

    select distinct
        jtbd_id,
        jtbd_code

    from pairs

),

persona_names as (

    select distinct
        persona_id,
        persona_name

    from pairs

),

odi_trends as (

    select
        trend_points.grain
        || ':' || trend_points.jtbd_id::text
        || ':' || coalesce(trend_points.persona_id::text, 'all') as trend_id,
        trend_points.grain,
        trend_points.tenant_id,
        trend_points.jtbd_id,
        job_codes.jtbd_code,
        trend_points.persona_id,
        persona_names.persona_name,
        round(trend_points.opportunity_score, 2)::numeric(5, 2) as opportunity_score,
        trend_points.opportunity_classification,
        round(trend_points.score_7_days_ago, 2)::numeric(5, 2) as score_7_days_ago,
        round(trend_points.score_30_days_ago, 2)::numeric(5, 2) as score_30_days_ago,
        round(trend_points.score_90_days_ago, 2)::numeric(5, 2) as score_90_days_ago,
        round(trend_points.opportunity_score - trend_points.score_7_days_ago, 2)::numeric(5, 2)
            as change_7_days,
        round(trend_points.opportunity_score - trend_points.score_30_days_ago, 2)::numeric(5, 2)
            as change_30_days,
        round(trend_points.opportunity_score - trend_points.score_90_days_ago, 2)::numeric(5, 2)
            as change_90_days,
        (first_crossings.crossed_at at time zone 'UTC')::date as first_band_crossed_on,
        first_crossings.crossed_from as first_band_crossed_from,
        first_crossings.crossed_to as first_band_crossed_to,
        trend_points.history_starts_at,
        current_timestamp as last_refreshed

    from trend_points
    inner join job_codes
        on trend_points.jtbd_id = job_codes.jtbd_id
    left join persona_names
        on trend_points.persona_id = persona_names.persona_id
    left join first_crossings
        on
            trend_points.grain = first_crossings.grain
            and trend_points.jtbd_id = first_crossings.jtbd_id
            and trend_points.persona_id is not distinct from first_crossings.persona_id
    where trend_points.opportunity_score is not null

)

select * from odi_trends
where
    grain = 'jtbd'
    and change_30_days is not null
order by change_30_days desc, jtbd_code asc
limit 1000
