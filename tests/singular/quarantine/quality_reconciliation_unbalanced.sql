{{ config(severity='warn', store_failures=true, schema='quality', tags=['quality']) }}

{#-
    Reports each source table whose staging model does not hold exactly the source rows minus the
    rejected and the soft-deleted ones (quality_reconciliation.unaccounted_rows <> 0), shaped like
    the quality_check tests so the run's quality report can print it.
-#}

with

reconciliation as (

    select * from {{ ref('quality_reconciliation') }}

),

unbalanced as (

    select
        source_table,
        '*'::text as column_name,
        null::uuid as row_id,
        null::uuid as tenant_id,
        source_table || ': ' || unaccounted_rows::text || ' unaccounted rows' as bad_value,
        'unbalanced'::text as disposition,
        format(
            'source %s <> staged %s + rejected %s + soft-deleted %s',
            source_rows, staged_rows, rejected_rows, soft_deleted_rows
        ) as description

    from reconciliation
    where not is_balanced

)

select * from unbalanced
