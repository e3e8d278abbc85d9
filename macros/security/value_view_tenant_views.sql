{#-
    One tenant-safe view per BI-facing relation, in the tenant schema, under the same name:

        create view value_view_tenant.<relation> with (security_barrier = true) as
        select * from <bi schema>.<source relation>
        where tenant_id in (
            select tenant_id from value_view_security.tenant_logins where login = session_user
        );

    Materialized views cannot carry row-level security, so the filter lives in a view. The view
    runs with its owner's rights: tenant logins read neither the marts nor the mapping table
    directly. `session_user` is the login itself (SET ROLE cannot change it), and security_barrier
    keeps a caller's functions from seeing rows before the tenant filter has removed them. A login
    without a mapping row, or a row whose tenant_id is null, matches nothing.

    A view is re-created only when it is missing, reads another relation (the source was rebuilt
    under a new OID and not re-pointed) or the source's columns changed (a fingerprint in the
    view's comment); otherwise it is left alone, so BI readers are not locked out at each run.
    The unsuffixed name of a mart whose `last_refreshed` comes from the refresh log reads the
    versioned relation and adds the column the way its latest-version view does
    (value_view_last_refreshed), so no tenant view depends on the latest-version view.
    A relation without a tenant_id column gets no tenant view (and loses one it had): tenant
    logins then cannot read it at all. Views for relations that left the project are dropped.
    A view that is busy (lock_timeout) or has dependants is kept as it is and reported.
-#}
{% macro value_view_tenant_views(relations, drop_stale=true) -%}
    {%- set settings = value_view_security_settings() -%}
    do $value_view_tenant_views$
    declare
        tenant_schema constant text := {{ value_view_sql_literal(settings.tenant_schema) }};
        tenant_reader constant text := {{ value_view_sql_literal(settings.tenant_reader_role) }};
        security_schema constant text := {{ value_view_sql_literal(settings.security_schema) }};
        mapping_table constant text := {{ value_view_sql_literal(settings.mapping_table) }};
        bi_relation record;
        stale record;
        source_oid oid;
        view_oid oid;
        columns_fingerprint text;
        view_comment text;
        expected_views text[] := '{}';
    begin
        perform set_config('lock_timeout', '5s', true);
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
                            ', ' ~ value_view_last_refreshed({'schema': relation.schema, 'identifier': relation.source}) | trim
                            ~ ' as last_refreshed'
                        ) }}
                        {%- else %}
                        ''
                        {%- endif %}
                    )
                {%- endfor %}
            ) as relations (source_schema, source_name, view_name, extra_columns)
            where view_name <> ''
        loop
            expected_views := expected_views || bi_relation.view_name::text;
            source_oid := to_regclass(format('%I.%I', bi_relation.source_schema, bi_relation.source_name));
            view_oid := to_regclass(format('%I.%I', tenant_schema, bi_relation.view_name));
            begin
                if source_oid is null then
                    continue;  -- not built yet
                end if;
                if not exists (
                    select from pg_catalog.pg_attribute
                    where attrelid = source_oid and attname = 'tenant_id' and not attisdropped
                ) then
                    if view_oid is not null then
                        execute format('drop view %I.%I', tenant_schema, bi_relation.view_name);
                    end if;
                    raise warning 'value_view_tenant_views: %.% has no tenant_id column, so tenant logins cannot read it',
                        bi_relation.source_schema, bi_relation.source_name;
                    continue;
                end if;

                select md5(string_agg(
                    format('%I %s', attname, format_type(atttypid, atttypmod)), ', ' order by attnum
                ))
                into columns_fingerprint
                from pg_catalog.pg_attribute
                where attrelid = source_oid and attnum > 0 and not attisdropped;
                view_comment := format(
                    'Tenant-safe view of %I.%I%s: only the rows of the tenant mapped to session_user in %I.%I. columns %s',
                    bi_relation.source_schema, bi_relation.source_name,
                    case when bi_relation.extra_columns <> '' then ' with last_refreshed from the refresh log' else '' end,
                    security_schema, mapping_table, columns_fingerprint
                );

                if view_oid is null
                    or obj_description(view_oid, 'pg_class') is distinct from view_comment
                    or not exists (
                        select
                        from pg_catalog.pg_rewrite as rewrites
                        inner join pg_catalog.pg_depend as depends
                            on depends.objid = rewrites.oid
                        where
                            rewrites.ev_class = view_oid
                            and depends.classid = 'pg_catalog.pg_rewrite'::regclass
                            and depends.refclassid = 'pg_catalog.pg_class'::regclass
                            and depends.refobjid = source_oid
                    )
                then
                    if view_oid is not null then
                        execute format('drop view %I.%I', tenant_schema, bi_relation.view_name);
                    end if;
                    execute format(
                        'create view %I.%I with (security_barrier = true) as '
                        'select %I.*%s from %I.%I '
                        'where tenant_id in (select tenant_logins.tenant_id from %I.%I as tenant_logins '
                        'where tenant_logins.login = session_user)',
                        tenant_schema, bi_relation.view_name,
                        bi_relation.source_name, bi_relation.extra_columns,
                        bi_relation.source_schema, bi_relation.source_name,
                        security_schema, mapping_table
                    );
                    execute format('comment on view %I.%I is %L', tenant_schema, bi_relation.view_name, view_comment);
                end if;
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
        {%- endif %}
    end
    $value_view_tenant_views$;
{%- endmacro %}


{#-
    Post-hook form for one mart: re-creates the tenant views that read the relation just built.
    dbt's own view and table materializations drop the previous relation with CASCADE, which
    takes its tenant view along until the run's on-run-end hook re-creates it; as a post-hook on
    the marts (`+post-hook: "{{ value_view_tenant_views_for_this() }}"`) the gap closes as soon as
    the model is built. The safe materialized view swap re-points dependent views itself.
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
