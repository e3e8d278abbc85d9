{#-
    How `dbt seed` empties an existing seed table on Postgres, keeping the views that read it.

    dbt's own `reset_csv_table` drops the table with CASCADE under `--full-refresh` (taking every
    view built on the seed with it, and the marts and tenant views built on those) and truncates
    it otherwise (ACCESS EXCLUSIVE until the load commits). Here:

    * `--full-refresh`: the table is created aside (`<name>__vv_new`, the columns dbt infers from
      the CSV and `column_types`) and swapped in by keyed_incremental_table's swap block, which
      re-points the dependent views and drops the old table without CASCADE; dbt then loads the
      rows into it, in the same transaction;
    * otherwise: `delete from`, so readers keep the previous rows until the load commits.
-#}
{% macro postgres__reset_csv_table(model, full_refresh, old_relation, agate_table) %}
    {%- if not full_refresh -%}
        {%- set sql = 'delete from ' ~ old_relation.render() -%}
        {%- call statement('_') -%}
            {{ sql }}
        {%- endcall -%}
        {{ return(sql) }}
    {%- endif -%}

    {%- set target_relation = old_relation.incorporate(type='table') -%}
    {%- set new_relation = make_intermediate_relation(target_relation, '__vv_new') -%}
    {%- set backup_relation = make_backup_relation(target_relation, 'table', '__vv_old') -%}
    {%- set column_override = model['config'].get('column_types', {}) -%}
    {%- set quote_seed_column = model['config'].get('quote_columns', None) -%}
    {%- set sql -%}
        drop table if exists {{ new_relation.render() }};
        drop table if exists {{ backup_relation.render() }};
        create table {{ new_relation.render() }} (
            {%- for col_name in agate_table.column_names -%}
                {%- set inferred_type = adapter.convert_type(agate_table, loop.index0) -%}
                {{ adapter.quote_seed_column(col_name | string, quote_seed_column) }} {{ column_override.get(col_name, inferred_type) }}
                {%- if not loop.last %}, {% endif -%}
            {%- endfor -%}
        );
        {{ keyed_incremental__swap_sql(target_relation, new_relation, backup_relation, [], safe_mv__settings([]), label='seed') }}
    {%- endset -%}
    {%- call statement('_') -%}
        {{ sql }}
    {%- endcall -%}
    {{ return(sql) }}
{% endmacro %}
