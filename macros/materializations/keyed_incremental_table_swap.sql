{#-
    The swap of `keyed_incremental_table`: safe_materialized_view's swap (safe_mv__swap_sql) for a
    new relation that is a table, replacing a table, a materialized view or a view. One DO block,
    so it is atomic even on an autocommit connection. It

    1. takes ACCESS EXCLUSIVE on the dependent views, then on the current relation, under a short
       lock_timeout and retrying, so a long-running reader delays the swap instead of every other
       reader queueing behind it. Views first, in the order readers lock them (view, then the
       relation it reads), so a reader of a dependent view can never deadlock with the swap;
    2. captures the definition of each dependent view (pg_depend / pg_rewrite) while it still
       names the current relation, with only pg_catalog on the search_path so every name is
       schema-qualified;
    3. copies the privileges of the current relation onto the new one, so readers keep access;
    4. renames current -> backup and new -> target, re-creates each dependent view from its
       captured definition (views bind to OIDs, so this re-points them at the new relation), drops
       the backup (RESTRICT: anything else depending on it rolls the whole swap back), and renames
       the new indexes to their stable names.

    `label` names the materialization in its messages: the project's `incremental` and `seed`
    full refreshes swap their tables in with the same block. `latest_view` (from
    value_view_latest_version_view) is re-created with its current definition after the dependent
    views, so columns the rebuilt table added show through it at once.
-#}
{% macro keyed_incremental__swap_sql(target_relation, intermediate_relation, backup_relation, index_specs, settings, label='keyed_incremental_table', latest_view=none) %}
do $keyed_incremental_swap$
declare
    target_schema constant text := {{ safe_mv__quote_literal(target_relation.schema) }};
    target_name constant text := {{ safe_mv__quote_literal(target_relation.identifier) }};
    new_name constant text := {{ safe_mv__quote_literal(intermediate_relation.identifier) }};
    backup_name constant text := {{ safe_mv__quote_literal(backup_relation.identifier) }};
    swap_lock_timeout constant text := {{ safe_mv__quote_literal(settings.swap_lock_timeout) }};
    max_attempts constant integer := {{ settings.swap_attempts }};
    saved_lock_timeout constant text := current_setting('lock_timeout');
    saved_search_path constant text := current_setting('search_path');
    new_oid oid;
    new_owner oid;
    old_oid oid;
    old_kind "char";
    old_keyword text;
    dependents oid[];
    dependents_when_locked oid[];
    dependent record;
    privilege record;
    view_names text[] := '{}';
    view_statements text[] := '{}';
    failure_detail text;
    attempt integer := 0;
begin
    select relations.oid, relations.relowner into new_oid, new_owner
    from pg_class as relations
    inner join pg_namespace as namespaces on namespaces.oid = relations.relnamespace
    where namespaces.nspname = target_schema and relations.relname = new_name;
    if new_oid is null then
        raise exception '{{ label }}: %.% was not built', target_schema, new_name;
    end if;

    <<acquire>>
    loop
        begin
            perform set_config('lock_timeout', swap_lock_timeout, true);
            old_oid := null;
            select relations.oid, relations.relkind into old_oid, old_kind
            from pg_class as relations
            inner join pg_namespace as namespaces on namespaces.oid = relations.relnamespace
            where namespaces.nspname = target_schema and relations.relname = target_name;
            exit acquire when old_oid is null;

            select coalesce(array_agg(distinct rewrites.ev_class order by rewrites.ev_class), '{}')
            into dependents
            from pg_depend as depends
            inner join pg_rewrite as rewrites on rewrites.oid = depends.objid
            where
                depends.classid = 'pg_rewrite'::regclass
                and depends.refclassid = 'pg_class'::regclass
                and depends.refobjid = old_oid
                and rewrites.ev_class <> old_oid;

            for dependent in
                select format('%I.%I', namespaces.nspname, relations.relname) as qualified_name
                from pg_class as relations
                inner join pg_namespace as namespaces on namespaces.oid = relations.relnamespace
                where relations.oid = any(dependents) and relations.relkind <> 'v'
            loop
                raise exception
                    '{{ label }}: % depends on %.% and is not a plain view, so it cannot be re-pointed at a rebuilt relation',
                    dependent.qualified_name, target_schema, target_name
                    using errcode = 'dependent_objects_still_exist';
            end loop;

            -- ALTER ... OWNER TO <its current owner> changes nothing but takes ACCESS EXCLUSIVE on
            -- that relation alone (on a view, LOCK TABLE would also lock every relation it reads).
            for dependent in
                select
                    format('%I.%I', namespaces.nspname, relations.relname) as qualified_name,
                    pg_get_userbyid(relations.relowner) as owner_name
                from pg_class as relations
                inner join pg_namespace as namespaces on namespaces.oid = relations.relnamespace
                where relations.oid = any(dependents)
                order by relations.oid
            loop
                execute format('alter view %s owner to %I', dependent.qualified_name, dependent.owner_name);
            end loop;
            old_keyword := case old_kind
                when 'm' then 'materialized view'
                when 'v' then 'view'
                when 'f' then 'foreign table'
                else 'table'
            end;
            execute format('alter %s %I.%I owner to %I', old_keyword, target_schema, target_name,
                (select pg_get_userbyid(relowner) from pg_class where oid = old_oid));

            select coalesce(array_agg(distinct rewrites.ev_class order by rewrites.ev_class), '{}')
            into dependents_when_locked
            from pg_depend as depends
            inner join pg_rewrite as rewrites on rewrites.oid = depends.objid
            where
                depends.classid = 'pg_rewrite'::regclass
                and depends.refclassid = 'pg_class'::regclass
                and depends.refobjid = old_oid
                and rewrites.ev_class <> old_oid;
            if dependents_when_locked is distinct from dependents then
                raise exception '{{ label }}: dependent views changed while locking'
                    using errcode = 'lock_not_available';
            end if;
            exit acquire;
        exception when lock_not_available then
            attempt := attempt + 1;
            if attempt >= max_attempts then
                raise exception
                    '{{ label }}: could not lock %.% and its dependent views in % attempts (lock_timeout %); long-running queries held them, so the old relation was left in place',
                    target_schema, target_name, max_attempts, swap_lock_timeout
                    using errcode = 'lock_not_available';
            end if;
            perform pg_sleep(least(0.05 * attempt * attempt, 2.0));
        end;
    end loop;
    perform set_config('lock_timeout', saved_lock_timeout, true);

    if old_oid is not null then
        perform set_config('search_path', 'pg_catalog', true);
        for dependent in
            select
                format('%I.%I', namespaces.nspname, relations.relname) as qualified_name,
                relations.reloptions,
                regexp_replace(pg_get_viewdef(relations.oid), ';\s*$', '') as definition
            from pg_class as relations
            inner join pg_namespace as namespaces on namespaces.oid = relations.relnamespace
            where relations.oid = any(dependents)
            order by relations.oid
        loop
            view_names := view_names || dependent.qualified_name;
            view_statements := view_statements || format(
                'create or replace view %s%s as %s',
                dependent.qualified_name,
                case
                    when dependent.reloptions is null then ''
                    else format(' with (%s)', array_to_string(dependent.reloptions, ', '))
                end,
                dependent.definition
            );
        end loop;

        for privilege in
            select
                acl.privilege_type,
                acl.is_grantable,
                case when acl.grantee = 0 then 'public' else quote_ident(pg_get_userbyid(acl.grantee)) end as grantee
            from pg_class as relations
            cross join lateral aclexplode(relations.relacl) as acl
            where relations.oid = old_oid and acl.grantee <> new_owner
        loop
            execute format(
                'grant %s on table %s to %s%s',
                privilege.privilege_type,
                new_oid::regclass,
                privilege.grantee,
                case when privilege.is_grantable then ' with grant option' else '' end
            );
        end loop;

        execute format('alter %s %I.%I rename to %I', old_keyword, target_schema, target_name, backup_name);
    end if;

    execute format('alter table %I.%I rename to %I', target_schema, new_name, target_name);

    if old_oid is not null then
        for position in 1 .. coalesce(array_length(view_statements, 1), 0) loop
            begin
                execute view_statements[position];
            exception when others then
                raise exception
                    '{{ label }}: dependent view % cannot be re-pointed at the rebuilt %.%: %',
                    view_names[position], target_schema, target_name, sqlerrm
                    using errcode = sqlstate;
            end;
        end loop;
        {%- if latest_view %}
        if to_regclass({{ safe_mv__quote_literal(latest_view.relation) }}) is not null then
            begin
                execute {{ safe_mv__quote_literal('create or replace view ' ~ latest_view.relation ~ ' as ' ~ latest_view.definition) }};
            exception when invalid_table_definition then
                null;  -- columns it cannot take: the model's post-hook replaces it
            end;
        end if;
        {%- endif %}

        begin
            execute format('drop %s %I.%I', old_keyword, target_schema, backup_name);
        exception when dependent_objects_still_exist then
            get stacked diagnostics failure_detail = pg_exception_detail;
            raise exception
                '{{ label }}: objects other than views depend on %.%, so it cannot be replaced: %',
                target_schema, target_name, failure_detail
                using errcode = 'dependent_objects_still_exist';
        end;
    end if;
    perform set_config('search_path', saved_search_path, true);

    {%- for spec in index_specs %}
    execute format('alter index %I.%I rename to %I', target_schema, {{ safe_mv__quote_literal(spec.temp_name) }}, {{ safe_mv__quote_literal(spec.name) }});
    {%- endfor %}
end
$keyed_incremental_swap$
{% endmacro %}
