{#-
    One tenant-safe view per BI-facing relation, in the tenant schema, under the same name, over a
    set-returning function of the security schema that holds the tenant filter:

        create function value_view_security.<relation>()
        returns table (<the source's columns>)
        language plpgsql stable security definer
        set search_path = pg_catalog, pg_temp
        set enable_seqscan = on ...                  -- every planner switch, at its default
        as $$ begin return query select * from <bi schema>.<source relation>
              where tenant_id = (select tenant_id from value_view_security.tenant_logins
                                 where login = session_user); end $$;

        create view value_view_tenant.<relation> with (security_barrier = true) as
        select <column>[::<declared type>] ... from value_view_security.<relation>();

    A tenant login's EXPLAIN (ANALYZE) of the view shows one Function Scan whose row count is its
    own tenant's: the scan of the mart runs inside the function, which the caller's plan does not
    show, and the caller's conditions (leakproof or not) apply only to the rows the function
    returns. A function with SECURITY DEFINER and SET clauses is never inlined, and its SET
    clauses fix the planner switches it runs under, whatever the login set in its session. The
    session's tenant is looked up once (an InitPlan), so the mart's index on tenant_id serves
    the scan. PL/pgSQL hands the rows back in one call (a tuplestore), so the SET clauses are
    applied once per query, not once per row. The function runs with its owner's rights: tenant logins read neither the marts
    nor the mapping table directly, and may only execute these functions (which return their
    own rows, like the view). `session_user` is the login itself (SET ROLE cannot change it). A
    login without a mapping row, or a row whose tenant_id is null, matches nothing. The body is
    text whose names are resolved when it is planned, and a rebuilt mart invalidates the plan,
    so a mart rebuilt under a new OID is read at once.

    The view and its function are re-created only when one is missing or the source's columns
    or the planner switches changed (a fingerprint in both comments); otherwise they are left
    alone, so BI readers are not locked out at each run. The unsuffixed name of a mart whose
    `last_refreshed` comes from the refresh log reads the versioned relation and adds the column
    the way its latest-version view does (value_view_last_refreshed). A relation without a
    tenant_id column gets no tenant view (and loses one it had): tenant logins then cannot read
    it at all. Views and functions of relations that left the project are dropped. A view that
    is busy (lock_timeout) or has dependants is kept as it is and reported.
-#}
{% macro value_view_tenant_views(relations, drop_stale=true) -%}
    {%- set settings = value_view_security_settings() -%}
    do $value_view_tenant_views$
    declare
        tenant_schema constant text := {{ value_view_sql_literal(settings.tenant_schema) }};
        tenant_reader constant text := {{ value_view_sql_literal(settings.tenant_reader_role) }};
        security_schema constant text := {{ value_view_sql_literal(settings.security_schema) }};
        mapping_table constant text := {{ value_view_sql_literal(settings.mapping_table) }};
        function_marker constant text := 'Rows of the tenant mapped to session_user';
        planner_settings text;
        bi_relation record;
        stale record;
        source_oid oid;
        view_oid oid;
        function_oid oid;
        return_columns text;
        view_columns text;
        extra_type text;
        function_body text;
        fingerprint text;
        view_comment text;
        function_comment text;
        expected_views text[] := '{}';
    begin
        perform set_config('lock_timeout', '5s', true);
        -- Every planner switch at its built-in default: a login's `set enable_indexscan = off`
        -- does not reach the function.
        select string_agg(format(' set %I = %L', settings.name, settings.boot_val), '' order by settings.name)
        into planner_settings
        from pg_catalog.pg_settings as settings
        where settings.name like 'enable\_%' and settings.vartype = 'bool' and settings.context = 'user';
        planner_settings := ' set search_path = pg_catalog, pg_temp' || coalesce(planner_settings, '');

        for bi_relation in
            select *
            from (
                values
                    ('', '', '', '')
                {%- for relation in relations %},
                    (
                        {{ value_view_sql_literal(relation.schema) }},
                        {{ value_view_sql_literal(relation.source) }},
                        {{ value_view_sql_literal(relation.relation) }},
                        {%- if relation.adds_last_refreshed %}
                        {{ value_view_sql_literal(
                            value_view_last_refreshed({'schema': relation.schema, 'identifier': relation.source}) | trim
                        ) }}
                        {%- else %}
                        ''
                        {%- endif %}
                    )
                {%- endfor %}
            ) as relations (source_schema, source_name, view_name, last_refreshed)
            where view_name <> ''
        loop
            expected_views := expected_views || bi_relation.view_name::text;
            source_oid := to_regclass(format('%I.%I', bi_relation.source_schema, bi_relation.source_name));
            view_oid := to_regclass(format('%I.%I', tenant_schema, bi_relation.view_name));
            function_oid := to_regprocedure(format('%I.%I()', security_schema, bi_relation.view_name));
            begin
                if source_oid is null then
                    continue;  -- not built yet
                end if;
                if not exists (
                    select from pg_catalog.pg_attribute
                    where attrelid = source_oid and attname = 'tenant_id' and not attisdropped
                ) then
                    execute format('drop view if exists %I.%I', tenant_schema, bi_relation.view_name);
                    execute format('drop function if exists %I.%I()', security_schema, bi_relation.view_name);
                    raise warning 'value_view_tenant_views: %.% has no tenant_id column, so tenant logins cannot read it',
                        bi_relation.source_schema, bi_relation.source_name;
                    continue;
                end if;

                select
                    string_agg(format('%I %s', attname, format_type(atttypid, null)), ', ' order by attnum),
                    string_agg(
                        case
                            when atttypmod = -1 then format('%I', attname)
                            else format('%I::%s as %I', attname, format_type(atttypid, atttypmod), attname)
                        end,
                        ', ' order by attnum
                    )
                into return_columns, view_columns
                from pg_catalog.pg_attribute
                where attrelid = source_oid and attnum > 0 and not attisdropped;
                if bi_relation.last_refreshed <> '' then
                    execute format('select pg_catalog.pg_typeof(%s)::text', bi_relation.last_refreshed) into extra_type;
                    return_columns := return_columns || ', last_refreshed ' || extra_type;
                    view_columns := view_columns || ', last_refreshed';
                end if;
                function_body := format(
                    E'#variable_conflict use_column\nbegin\n    return query select %I.*%s from %I.%I where %I.tenant_id = (select tenant_logins.tenant_id from %I.%I as tenant_logins where tenant_logins.login = session_user);\nend',
                    bi_relation.source_name,
                    case when bi_relation.last_refreshed <> '' then ', ' || bi_relation.last_refreshed else '' end,
                    bi_relation.source_schema, bi_relation.source_name, bi_relation.source_name,
                    security_schema, mapping_table
                );
                fingerprint := md5(return_columns || planner_settings || function_body);
                function_comment := format(
                    '%s in %I.%I, from %I.%I%s. fingerprint %s',
                    function_marker, security_schema, mapping_table,
                    bi_relation.source_schema, bi_relation.source_name,
                    case when bi_relation.last_refreshed <> '' then ' with last_refreshed from the refresh log' else '' end,
                    fingerprint
                );
                view_comment := format(
                    'Tenant-safe view of %I.%I%s: only the rows of the tenant mapped to session_user in %I.%I, read through %I.%I(). fingerprint %s',
                    bi_relation.source_schema, bi_relation.source_name,
                    case when bi_relation.last_refreshed <> '' then ' with last_refreshed from the refresh log' else '' end,
                    security_schema, mapping_table, security_schema, bi_relation.view_name, fingerprint
                );

                if view_oid is null
                    or function_oid is null
                    or obj_description(view_oid, 'pg_class') is distinct from view_comment
                    or obj_description(function_oid, 'pg_proc') is distinct from function_comment
                then
                    execute format('drop view if exists %I.%I', tenant_schema, bi_relation.view_name);
                    execute format('drop function if exists %I.%I()', security_schema, bi_relation.view_name);
                    execute format(
                        'create function %I.%I() returns table (%s) language plpgsql stable security definer%s as %L',
                        security_schema, bi_relation.view_name, return_columns, planner_settings, function_body
                    );
                    execute format('comment on function %I.%I() is %L', security_schema, bi_relation.view_name, function_comment);
                    execute format('revoke all on function %I.%I() from public', security_schema, bi_relation.view_name);
                    execute format(
                        'create view %I.%I with (security_barrier = true) as select %s from %I.%I() as %I',
                        tenant_schema, bi_relation.view_name, view_columns,
                        security_schema, bi_relation.view_name, bi_relation.view_name
                    );
                    execute format('comment on view %I.%I is %L', tenant_schema, bi_relation.view_name, view_comment);
                end if;
                -- The view calls the function with the caller's EXECUTE privilege.
                execute format('grant execute on function %I.%I() to %I', security_schema, bi_relation.view_name, tenant_reader);
                execute format('grant select on %I.%I to %I', tenant_schema, bi_relation.view_name, tenant_reader);
            exception when lock_not_available or dependent_objects_still_exist then
                raise warning 'value_view_tenant_views: kept %.% as it was: %',
                    tenant_schema, bi_relation.view_name, sqlerrm;
            end;
        end loop;

        {%- if drop_stale %}
        for stale in
            select relations.relname
            from pg_catalog.pg_class as relations
            inner join pg_catalog.pg_namespace as namespaces on namespaces.oid = relations.relnamespace
            where
                namespaces.nspname = tenant_schema
                and relations.relkind = 'v'
                and relations.relname <> all(expected_views)
        loop
            begin
                execute format('drop view %I.%I', tenant_schema, stale.relname);
            exception when lock_not_available or dependent_objects_still_exist then
                raise warning 'value_view_tenant_views: could not drop %.%: %', tenant_schema, stale.relname, sqlerrm;
            end;
        end loop;
        for stale in
            select functions.proname
            from pg_catalog.pg_proc as functions
            inner join pg_catalog.pg_namespace as namespaces on namespaces.oid = functions.pronamespace
            where
                namespaces.nspname = security_schema
                and functions.pronargs = 0
                and functions.proname <> all(expected_views)
                and starts_with(coalesce(obj_description(functions.oid, 'pg_proc'), ''), function_marker)
        loop
            begin
                execute format('drop function %I.%I()', security_schema, stale.proname);
            exception when lock_not_available or dependent_objects_still_exist then
                raise warning 'value_view_tenant_views: could not drop %.%(): %', security_schema, stale.proname, sqlerrm;
            end;
        end loop;
        {%- endif %}
    end
    $value_view_tenant_views$;
{%- endmacro %}


{#-
    Post-hook form for one mart: brings the tenant views of the relation just built up to date.
    The tenant view depends on its function, not on the mart, so dbt's own view and table
    materializations (which drop the previous relation with CASCADE) leave it in place, and the
    function reads the new relation by name at its next call; the post-hook (`+post-hook: "{{
    value_view_tenant_views_for_this() }}"`) re-creates the view and function at once when the
    mart's columns changed, instead of at the run's on-run-end hook.
-#}
{% macro value_view_tenant_views_for_this() -%}
    {%- set relations = [] -%}
    {%- for relation in value_view_bi_relations() -%}
        {%- if relation.schema == this.schema and relation.source == this.identifier -%}
            {%- do relations.append(relation) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if relations | length > 0 -%}
        {{ value_view_tenant_views(relations, drop_stale=false) }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
