{#-
    The one definition of what a login holds beyond its tenant: the function
    `<security schema>.login_privileges(login name) returns table (kind text, detail text)`, kept
    by the on-run-start setup. `value-view tenant-login add` refuses an existing role for which it
    returns any row but `writes`, `tenant-login list` shows its rows, and the security report
    flags every mapped login it returns rows for. Kinds:

    attribute   SUPERUSER, CREATEROLE, CREATEDB, REPLICATION or BYPASSRLS
    membership  a group other than the tenant reader group
    reads       SELECT on relations outside the tenant schema (per schema; through any grant,
                PUBLIC's included)
    owns        an object it owns, in any database (pg_shdepend)
    granted     objects whose privileges name it, in any database, but CONNECT on a database
    policy      a row-level security policy that names it
    writes      what it may change or create in this database: relations, sequences, schemas,
                the database itself (CREATE, TEMPORARY) and the large-object functions (through
                PUBLIC's defaults too: what value_view_security_seal could not revoke)

    Only the role dbt runs as may call it (the schema is closed to everyone else).
-#}
{% macro value_view_login_privileges_function() -%}
    {%- set settings = value_view_security_settings() -%}
    {%- set function = adapter.quote(settings.security_schema) ~ ".login_privileges" -%}
    create or replace function {{ function }}(login name)
    returns table (kind text, detail text)
    language sql
    stable
    set search_path = pg_catalog, pg_temp
    as $login_privileges$
        with

        login_role as (

            select
                roles.oid,
                roles.rolsuper,
                roles.rolcreaterole,
                roles.rolcreatedb,
                roles.rolreplication,
                roles.rolbypassrls
            from pg_catalog.pg_roles as roles
            where roles.rolname = login

        ),

        this_database as (

            select databases.oid, databases.datname
            from pg_catalog.pg_database as databases
            where databases.datname = current_database()

        ),

        user_relations as (

            select
                relations.oid,
                relations.relkind,
                relations.relname,
                namespaces.nspname
            from pg_catalog.pg_class as relations
            inner join pg_catalog.pg_namespace as namespaces on relations.relnamespace = namespaces.oid
            where
                relations.relkind in ('r', 'v', 'm', 'p', 'f', 'S')
                and namespaces.nspname not in ('pg_catalog', 'information_schema')
                and namespaces.nspname not like 'pg\_toast%'
                and namespaces.nspname not like 'pg\_temp\_%'

        ),

        attributes as (

            select
                'attribute' as kind,
                flags.attribute as detail
            from login_role
            cross join lateral (
                values
                    ('SUPERUSER', login_role.rolsuper),
                    ('CREATEROLE', login_role.rolcreaterole),
                    ('CREATEDB', login_role.rolcreatedb),
                    ('REPLICATION', login_role.rolreplication),
                    ('BYPASSRLS', login_role.rolbypassrls)
            ) as flags (attribute, is_set)
            where flags.is_set

        ),

        memberships as (

            select
                'membership' as kind,
                'member of ' || groups.rolname as detail
            from login_role
            inner join pg_catalog.pg_auth_members as members on login_role.oid = members.member
            inner join pg_catalog.pg_roles as groups on members.roleid = groups.oid
            where groups.rolname <> {{ value_view_sql_literal(settings.tenant_reader_role) }}

        ),

        dependencies as (

            select
                case dependencies.deptype when 'o' then 'owns' when 'a' then 'granted' else 'policy' end as kind,
                case
                    when dependencies.dbid in (0, this_database.oid)
                        then pg_catalog.pg_describe_object(dependencies.classid, dependencies.objid, dependencies.objsubid)
                    else 'an object in database ' || coalesce(other_databases.datname::text, dependencies.dbid::text)
                end as object_name
            from login_role
            cross join this_database
            inner join pg_catalog.pg_shdepend as dependencies
                on
                    dependencies.refclassid = 'pg_catalog.pg_authid'::regclass
                    and login_role.oid = dependencies.refobjid
            left join pg_catalog.pg_database as other_databases on dependencies.dbid = other_databases.oid
            where
                dependencies.deptype in ('o', 'a', 'r')
                and not (
                    dependencies.deptype = 'a'
                    and dependencies.classid = 'pg_catalog.pg_database'::regclass
                    and not exists (
                        select
                        from pg_catalog.pg_database as granted_databases
                        cross join lateral pg_catalog.aclexplode(granted_databases.datacl) as grants
                        where
                            granted_databases.oid = dependencies.objid
                            and grants.grantee = login_role.oid
                            and grants.privilege_type <> 'CONNECT'
                    )
                )

        ),

        holdings as (

            select
                dependencies.kind,
                case dependencies.kind when 'owns' then 'owns ' else 'named in ' end
                || dependencies.object_name as detail
            from dependencies
            where dependencies.kind in ('owns', 'policy')

            union all

            select
                'granted' as kind,
                format(
                    'privileges on %s object%s (%s)',
                    count(*),
                    case when count(*) > 1 then 's' else '' end,
                    array_to_string((array_agg(dependencies.object_name order by dependencies.object_name))[1:3], ', ')
                    || case when count(*) > 3 then ', ...' else '' end
                ) as detail
            from dependencies
            where dependencies.kind = 'granted'
            having count(*) > 0

        ),

        readable as (

            select
                'reads' as kind,
                format(
                    'SELECT on %s relation%s in schema %s (%s)',
                    count(*),
                    case when count(*) > 1 then 's' else '' end,
                    user_relations.nspname,
                    array_to_string((array_agg(user_relations.relname::text order by user_relations.relname))[1:3], ', ')
                    || case when count(*) > 3 then ', ...' else '' end
                ) as detail
            from login_role
            cross join user_relations
            where
                user_relations.relkind <> 'S'
                and user_relations.nspname <> {{ value_view_sql_literal(settings.tenant_schema) }}
                and pg_catalog.has_schema_privilege(login_role.oid, user_relations.nspname, 'USAGE')
                and pg_catalog.has_any_column_privilege(login_role.oid, user_relations.oid, 'SELECT')
            group by user_relations.nspname

        ),

        changeable as (

            select
                'writes' as kind,
                format(
                    'may change %s relation%s in schema %s (%s)',
                    count(*),
                    case when count(*) > 1 then 's' else '' end,
                    user_relations.nspname,
                    array_to_string((array_agg(user_relations.relname::text order by user_relations.relname))[1:3], ', ')
                    || case when count(*) > 3 then ', ...' else '' end
                ) as detail
            from login_role
            cross join user_relations
            where
                case
                    when user_relations.relkind = 'S'
                        then pg_catalog.has_sequence_privilege(login_role.oid, user_relations.oid, 'USAGE, UPDATE')
                    else pg_catalog.has_table_privilege(
                        login_role.oid,
                        user_relations.oid,
                        'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER'
                        || case when current_setting('server_version_num')::int >= 170000 then ', MAINTAIN' else '' end
                    )
                end
            group by user_relations.nspname

        ),

        creatable_schemas as (

            select
                'writes' as kind,
                'CREATE on schema ' || namespaces.nspname as detail
            from login_role
            cross join pg_catalog.pg_namespace as namespaces
            where
                namespaces.nspname not like 'pg\_toast%'
                and namespaces.nspname not like 'pg\_temp\_%'
                and pg_catalog.has_schema_privilege(login_role.oid, namespaces.oid, 'CREATE')

        ),

        database_writes as (

            select
                'writes' as kind,
                privileges.privilege || ' on database ' || this_database.datname as detail
            from login_role
            cross join this_database
            cross join (values ('CREATE'), ('TEMPORARY')) as privileges (privilege)
            where pg_catalog.has_database_privilege(login_role.oid, this_database.oid, privileges.privilege)

        ),

        large_object_functions as (

            select
                'writes' as kind,
                format(
                    'EXECUTE on %s large-object function%s (%s)',
                    count(*),
                    case when count(*) > 1 then 's' else '' end,
                    array_to_string((array_agg(distinct functions.proname::text))[1:3], ', ')
                    || case when count(*) > 3 then ', ...' else '' end
                ) as detail
            from login_role
            cross join pg_catalog.pg_proc as functions
            where
                functions.pronamespace = 'pg_catalog'::regnamespace
                and (functions.proname like 'lo\_%' or functions.proname in ('loread', 'lowrite'))
                and pg_catalog.has_function_privilege(login_role.oid, functions.oid, 'EXECUTE')
            having count(*) > 0

        )

        select * from attributes
        union all
        select * from memberships
        union all
        select * from readable
        union all
        select * from holdings
        union all
        select * from changeable
        union all
        select * from creatable_schemas
        union all
        select * from database_writes
        union all
        select * from large_object_functions
    $login_privileges$;
    revoke all on function {{ function }}(name) from public
{%- endmacro %}
