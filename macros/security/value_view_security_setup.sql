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
      `last_refreshed`;
    - the write paths PUBLIC has by default, closed in the warehouse database
      (value_view_security_seal, below);
    - the function that says what a login holds beyond its tenant
      (value_view_login_privileges_function, macros/security/value_view_login_privileges.sql).

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

    {{ value_view_security_seal() }};

    {{ value_view_login_privileges_function() }};
{%- endmacro %}

{#-
    The same objects, created now: `dbt run-operation value_view_security_setup_now` (a hook runs the
    SQL a macro returns; an operation runs only what the macro itself executes).
-#}
{% macro value_view_security_setup_now() -%}
    {%- do run_query(value_view_security_setup()) -%}
{%- endmacro %}

{#-
    Part of value_view_security_setup: closes, in the warehouse database, the write paths
    PostgreSQL opens to every role through PUBLIC, so that no BI login (tenant login or
    value_view_reader member) can store anything, whatever `default_transaction_read_only` says:

    - TEMPORARY on the database: revoked from PUBLIC and granted to the role dbt runs as (its
      materializations use temporary tables); without it no temporary table, view or function;
    - CREATE on the database (schemas, publications) and on schema public: revoked from PUBLIC
      (PostgreSQL 15+ no longer grants the latter);
    - the server-side large-object functions (lo_create, lo_creat, lo_from_bytea, lo_import,
      lo_put, lowrite, lo_open, lo_unlink, ... every `lo_*`, loread and lowrite in pg_catalog):
      EXECUTE revoked from PUBLIC. Large objects and function privileges belong to a database,
      so this holds in the warehouse database only (docs/bi_access.md: other databases).

    Each step needs the database's ownership or a superuser. Where the role dbt runs as has
    neither, PostgreSQL leaves the privilege as it is, and value_view_security_report says which
    write paths stay open, at the end of every run.
-#}
{% macro value_view_security_seal() -%}
    do $value_view_security_seal$
    declare
        large_object_function regprocedure;
    begin
        begin
            execute format('grant temporary on database %I to %I', current_database(), current_user);
            execute format('revoke temporary, create on database %I from public', current_database());
        exception when insufficient_privilege then
            null;  -- not the owner: the security report names what stays open
        end;
        if exists (select from pg_catalog.pg_namespace where nspname = 'public') then
            begin
                revoke create on schema public from public;
            exception when insufficient_privilege then
                null;
            end;
        end if;
        for large_object_function in
            select functions.oid::regprocedure
            from pg_catalog.pg_proc as functions
            where
                functions.pronamespace = 'pg_catalog'::regnamespace
                and (functions.proname like 'lo\_%' or functions.proname in ('loread', 'lowrite'))
                and pg_catalog.has_function_privilege('public', functions.oid, 'EXECUTE')
        loop
            begin
                execute format('revoke execute on function %s from public', large_object_function);
            exception when insufficient_privilege then
                null;
            end;
        end loop;
    end
    $value_view_security_seal$
{%- endmacro %}
