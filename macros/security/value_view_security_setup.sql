{#-
    on-run-start: the objects BI access rests on, created idempotently before any model is built
    (the marts' `grants` config names value_view_reader, so the role must exist first).

    - the group roles value_view_reader and value_view_tenant_reader (NOLOGIN; cluster-wide, so
      they are created once and then left alone: an existing role is never altered). Creating
      them needs CREATEROLE; where the dbt user lacks it, a DBA creates the two roles once;
    - the BI schema, the tenant schema and the security schema;
    - the login -> tenant mapping table, readable by nobody but its owner: tenant views read it
      with their owner's rights, so tenant logins never see it. It is created once and then
      left alone; its owner must be the role dbt runs as (or grant that role SELECT on it);
    - the refresh log (value_view_refresh_log_setup, macros/utils/refresh_log.sql), readable by
      nobody but its owner in the same way: the latest-version and tenant views read it for
      `last_refreshed`.

    orchestration/lib/tenancy.py `ensure_security_objects` runs this macro (dbt run-operation) for the
    `tenant-login` command, which may run before the first build.
-#}
{% macro value_view_security_setup() -%}
    {%- set settings = value_view_security_settings() -%}
    {%- set mapping = adapter.quote(settings.security_schema) ~ "." ~ adapter.quote(settings.mapping_table) -%}
    do $value_view_security_setup$
    declare
        group_role record;
    begin
        for group_role in
            select *
            from (
                values
                    (
                        {{ value_view_sql_literal(settings.reader_role) }},
                        'Value View BI readers: SELECT on the BI-facing relations of every tenant.'
                    ),
                    (
                        {{ value_view_sql_literal(settings.tenant_reader_role) }},
                        'Value View tenant logins: SELECT on the tenant-filtered views only.'
                    )
            ) as roles (role_name, role_comment)
        loop
            if not exists (select from pg_catalog.pg_roles where rolname = group_role.role_name) then
                begin
                    execute format('create role %I nologin', group_role.role_name);
                    execute format('comment on role %I is %L', group_role.role_name, group_role.role_comment);
                exception when duplicate_object or unique_violation then
                    null;  -- created by a concurrent run
                end;
            end if;
        end loop;
    end
    $value_view_security_setup$;

    create schema if not exists {{ adapter.quote(target.schema) }};
    create schema if not exists {{ adapter.quote(settings.tenant_schema) }};
    create schema if not exists {{ adapter.quote(settings.security_schema) }};

    do $value_view_tenant_logins$
    begin
        if to_regclass({{ value_view_sql_literal(mapping) }}) is null then
            create table {{ mapping }} (
                login name primary key,
                tenant_id uuid not null,
                created_at timestamptz not null default now()
            );
            create index tenant_logins_tenant_id on {{ mapping }} (tenant_id);
            comment on table {{ mapping }} is
                'Value View: the tenant each BI login may read (value-view tenant-login add|remove|list).';
        end if;
    exception when duplicate_table then
        null;  -- created by a concurrent run
    end
    $value_view_tenant_logins$;

    revoke all on schema {{ adapter.quote(settings.security_schema) }} from public;
    revoke all on table {{ mapping }} from public;

    {{ value_view_refresh_log_setup() }};
{%- endmacro %}

{#-
    The same objects, created now: `dbt run-operation value_view_security_setup_now` (a hook runs the
    SQL a macro returns; an operation runs only what the macro itself executes).
-#}
{% macro value_view_security_setup_now() -%}
    {%- do run_query(value_view_security_setup()) -%}
{%- endmacro %}
