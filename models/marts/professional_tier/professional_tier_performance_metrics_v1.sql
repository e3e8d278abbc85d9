{#-
    Professional tier performance dashboard (second specification document): per tenant, hour
    and subscription tier, the live evaluations created in the 7 days before the refresh, with
    their average professional data size, processing time (created to last update), health and
    confidence. Hours are UTC (the warehouse's time zone).
-#}

with

evaluations as (

    select * from {{ ref('stg_evaluations__business_evaluations') }}

),

recent_evaluations as (

    select * from evaluations
    where created_at > current_timestamp - interval '7 days'

),

hourly as (

    select
        date_trunc('hour', created_at) as hour,
        subscription_tier,
        count(*) as evaluation_count,
        round(avg(pg_column_size(professional_data)), 2) as avg_data_size_bytes,
        round(avg(extract(epoch from updated_at - created_at)), 2) as avg_processing_time_seconds,
        count(*) filter (where professional_data is not null) as professional_data_count,
        round(avg(health_score), 2) as avg_health_score,
        round(avg(confidence_score), 2) as avg_confidence_score,
        tenant_id

    from recent_evaluations
    group by date_trunc('hour', created_at), subscription_tier, tenant_id

)

select * from hourly
