{#-
    safe_materialized_view: a PostgreSQL materialized view that BI tools can read while dbt works.

    * unchanged definition -> REFRESH ... CONCURRENTLY when the view is populated and has a unique
      index on plain columns, a plain REFRESH otherwise (logged with the reason), then ANALYZE;
    * new relation, changed definition (md5 fingerprint of the compiled SQL and the index set,
      kept in the relation's COMMENT), --full-refresh, or a relation of another kind -> build the
      new view and its indexes under a temporary name, ANALYZE it, check the contract on it, then
      swap it in with one short DO block that also re-points dependent views. Any failure rolls
      back and leaves the old relation readable.

    Config keys: indexes, refresh_method, analyze, swap_lock_timeout, swap_attempts, grants,
    persist_docs, contract (see safe_materialized_view.yml and docs/materialized_views.md).
-#}
{% materialization safe_materialized_view, adapter='postgres' %}

    {%- set started_at = modules.datetime.datetime.now() -%}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set target_relation = this.incorporate(type='materialized_view') -%}
    {%- set intermediate_relation = make_intermediate_relation(target_relation, '__vv_new') -%}
    {%- set backup_relation = make_backup_relation(target_relation, 'materialized_view', '__vv_old') -%}
    {%- set index_specs = safe_mv__index_specs(target_relation) -%}
    {%- set settings = safe_mv__settings(index_specs) -%}
    {%- set fingerprint = safe_mv__fingerprint(sql, index_specs) -%}
    {%- set grant_config = config.get('grants') -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}

    {#- One transaction from the first statement below to `adapter.commit()`: leftovers of an
        interrupted run are dropped, then the relation is refreshed in place or built aside and
        swapped in. -#}
    {{ safe_mv__drop_leftover(intermediate_relation) }}
    {{ safe_mv__drop_leftover(backup_relation) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {%- set existing = safe_mv__describe(target_relation) -%}
    {%- set rebuild_reason = safe_mv__rebuild_reason(existing, fingerprint) -%}

    {%- if rebuild_reason is none -%}
        {%- set outcome = safe_mv__refresh_in_place(target_relation, existing, fingerprint, settings) -%}
        {% do apply_grants(target_relation, grant_config, should_revoke=should_revoke(existing_relation, full_refresh_mode=True)) %}
    {%- else -%}
        {%- set outcome = safe_mv__build_and_swap(
            target_relation, intermediate_relation, backup_relation, sql, index_specs, fingerprint,
            settings, rebuild_reason, grant_config
        ) -%}
    {%- endif -%}

    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {{ adapter.commit() }}

    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ log(
        'safe_materialized_view ' ~ target_relation ~ ': ' ~ outcome
        ~ ' (total ' ~ safe_mv__seconds_since(started_at) ~ 's)',
        info=true
    ) }}

    {{ return({'relations': [target_relation]}) }}

{% endmaterialization %}


{#- none when an in-place refresh is enough, else why the relation is built aside and swapped in. -#}
{% macro safe_mv__rebuild_reason(existing, fingerprint) %}
    {%- if existing is none -%}
        {{ return('created') }}
    {%- elif existing.relkind != 'm' -%}
        {{ return('rebuilt (replacing a ' ~ existing.kind ~ ')') }}
    {%- elif should_full_refresh() -%}
        {{ return('rebuilt (--full-refresh)') }}
    {%- elif existing.fingerprint is none -%}
        {{ return('rebuilt (no fingerprint on the existing relation)') }}
    {%- elif existing.fingerprint != fingerprint -%}
        {{ return('rebuilt (fingerprint changed: ' ~ existing.fingerprint ~ ' -> ' ~ fingerprint ~ ')') }}
    {%- endif -%}
    {{ return(none) }}
{% endmacro %}


{#-
    The statistics target of a concurrent refresh. REFRESH ... CONCURRENTLY ANALYZEs its copy of
    the new rows before it diffs them, only so that the planner knows how many there are; at the
    server's default target (100) that samples 30,000 rows of every column, which costs a wide view
    as much as the diff itself (value realization at scale 10: 333 ms of a 0.9 s refresh). The
    smallest target gives the planner the same row count. orchestration/lib/maintained.py
    (REFRESH_STATISTICS_TARGET) refreshes with the same.
-#}
{% macro safe_mv__refresh_statistics_target() -%}
    {{ return(1) }}
{%- endmacro %}


{#-
    The parallel workers (max_parallel_workers_per_gather) of a refresh's query, of every
    relation this project maintains. A view's query joins every persona x job pair and keeps a
    few thousand rows; a parallel plan sends all the pairs through one Gather to the leader, which
    costs more than the worker saves (scale 10, two cores: the JTBD summary 0.95-1.0 s without
    workers against 1.0-1.24 s with one, role workload 0.74 s against 0.85-0.98 s), and a worker
    takes a core from the dashboards' readers while it runs. orchestration/lib/maintained.py
    (REFRESH_PARALLEL_WORKERS) refreshes with the same.
-#}
{% macro safe_mv__refresh_parallel_workers() -%}
    {{ return(0) }}
{%- endmacro %}


{#- Refresh the unchanged relation in place (concurrently when possible), then ANALYZE. -#}
{% macro safe_mv__refresh_in_place(relation, existing, fingerprint, settings) %}
    {%- set columns = safe_mv__relation_columns(relation) -%}
    {%- do safe_mv__check_contract(relation, columns, 'the existing relation') -%}

    {%- set concurrently = false -%}
    {%- if settings.refresh_method == 'plain' -%}
        {%- set why_plain = "refresh_method='plain'" -%}
    {%- elif not existing.is_populated -%}
        {%- set why_plain = 'the view is not populated yet, which CONCURRENTLY needs' -%}
    {%- elif existing.unique_index is none -%}
        {%- if settings.refresh_method == 'concurrent' -%}
            {%- do exceptions.raise_compiler_error(
                "safe_materialized_view: refresh_method='concurrent' but " ~ relation
                ~ ' has no unique index on plain columns (no expression, no WHERE)'
            ) -%}
        {%- endif -%}
        {%- set why_plain = 'no unique index on plain columns' -%}
    {%- else -%}
        {%- set concurrently = true -%}
    {%- endif -%}

    {%- set refresh_started_at = modules.datetime.datetime.now() -%}
    {%- call statement('refresh_parallel_workers') -%}
        set local max_parallel_workers_per_gather = {{ safe_mv__refresh_parallel_workers() }}
    {%- endcall -%}
    {%- if concurrently -%}
        {%- call statement('refresh_statistics_target') -%}
            set local default_statistics_target = {{ safe_mv__refresh_statistics_target() }}
        {%- endcall -%}
    {%- endif -%}
    {%- call statement('main') -%}
        refresh materialized view {{ 'concurrently ' if concurrently }}{{ relation }}
    {%- endcall -%}
    {#- Back to the server's settings before the view's own ANALYZE below. -#}
    {%- call statement('default_parallel_workers') -%}
        set local max_parallel_workers_per_gather to default
    {%- endcall -%}
    {%- if concurrently -%}
        {%- call statement('default_statistics_target') -%}
            set local default_statistics_target to default
        {%- endcall -%}
    {%- endif -%}
    {%- set refresh_seconds = safe_mv__seconds_since(refresh_started_at) -%}
    {%- call statement('record_refresh') -%}
        {{ value_view_record_refresh(relation) }}
    {%- endcall -%}

    {%- if settings.analyze -%}
        {%- call statement('analyze') -%}
            analyze {{ relation }}
        {%- endcall -%}
    {%- endif -%}

    {%- do safe_mv__persist_docs(relation, fingerprint, columns, existing.comment) -%}

    {%- if concurrently -%}
        {%- set outcome = 'refreshed concurrently (unique index ' ~ existing.unique_index ~ ')' -%}
    {%- else -%}
        {%- set outcome = 'refreshed plain (' ~ why_plain ~ ')' -%}
    {%- endif -%}
    {{ return(outcome ~ ' in ' ~ refresh_seconds ~ 's' ~ (', analyzed' if settings.analyze else '')) }}
{% endmacro %}


{#- Build the new relation under a temporary name, check it, then swap it in. -#}
{% macro safe_mv__build_and_swap(
    target_relation, intermediate_relation, backup_relation, compiled_sql, index_specs, fingerprint,
    settings, rebuild_reason, grant_config
) %}
    {%- set build_started_at = modules.datetime.datetime.now() -%}
    {%- call statement('build_parallel_workers') -%}
        set local max_parallel_workers_per_gather = {{ safe_mv__refresh_parallel_workers() }}
    {%- endcall -%}
    {%- call statement('main') -%}
        create materialized view {{ intermediate_relation }} as
        {{ compiled_sql }}
    {%- endcall -%}
    {%- call statement('build_default_parallel_workers') -%}
        set local max_parallel_workers_per_gather to default
    {%- endcall -%}

    {%- set columns = safe_mv__relation_columns(intermediate_relation) -%}
    {%- do safe_mv__check_contract(intermediate_relation, columns, 'the newly built relation') -%}

    {%- for spec in index_specs -%}
        {%- call statement('create_index') -%}
            create {{ 'unique ' if spec.unique }}index "{{ spec.temp_name }}"
            on {{ intermediate_relation }} using {{ spec.method }} ({{ spec.columns | join(', ') }})
        {%- endcall -%}
    {%- endfor -%}

    {%- if settings.analyze -%}
        {%- call statement('analyze') -%}
            analyze {{ intermediate_relation }}
        {%- endcall -%}
    {%- endif -%}

    {%- do safe_mv__persist_docs(intermediate_relation, fingerprint, columns) -%}
    {%- do apply_grants(intermediate_relation, grant_config, should_revoke=false) -%}
    {%- set build_seconds = safe_mv__seconds_since(build_started_at) -%}

    {%- set swap_started_at = modules.datetime.datetime.now() -%}
    {%- call statement('swap') -%}
        {{ safe_mv__swap_sql(
            target_relation, intermediate_relation, backup_relation, index_specs, settings,
            value_view_latest_version_view(target_relation)
        ) }}
    {%- endcall -%}
    {%- call statement('record_refresh') -%}
        {{ value_view_record_refresh(target_relation) }}
    {%- endcall -%}

    {{ return(
        rebuild_reason ~ ': built aside in ' ~ build_seconds ~ 's'
        ~ (' and analyzed' if settings.analyze else '')
        ~ ', swapped in ' ~ safe_mv__seconds_since(swap_started_at) ~ 's'
    ) }}
{% endmacro %}
