{#-
    Per source table: source rows = staged rows + rejected rows + soft-deleted rows.

    staged_rows counts the table's staging model (what the marts read); rejected_rows the live
    source rows that exclude_quarantined() keeps out; soft_deleted_rows the rows staging drops
    for their deleted_at; flagged_rows the live rows kept with a flagged finding only.
    unaccounted_rows is staged minus expected: above zero, rejected rows reach the marts (the
    staging model does not apply exclude_quarantined); below zero, staging drops rows that
    nobody accounts for. The counts come from quality_reconciliation_counts().
-#}

with

counted as (

    {{ quality_reconciliation_counts() }}

),

reconciled as (

    select
        source_table,
        source_rows,
        staged_rows,
        rejected_rows,
        soft_deleted_rows,
        flagged_rows,
        source_rows - rejected_rows - soft_deleted_rows as expected_staged_rows,
        staged_rows - (source_rows - rejected_rows - soft_deleted_rows) as unaccounted_rows,
        staged_rows + rejected_rows + soft_deleted_rows = source_rows as is_balanced

    from counted

)

select * from reconciled
