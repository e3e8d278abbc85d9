{#-
    Closes what a tenant login could learn about the marts' sizes from the statistics, in the
    current database: the row and page estimates of pg_class (reltuples, relpages, relallvisible,
    relallfrozen), the per-relation statistics functions behind pg_stat_*_tables,
    pg_statio_*_tables and pg_stat_*_indexes (pg_stat_get_*(oid)), and the size functions
    (pg_relation_size, pg_table_size, pg_indexes_size, pg_total_relation_size).

    PostgreSQL grants them to PUBLIC, and a privilege granted to PUBLIC cannot be withheld from
    one group, so they are revoked from PUBLIC and granted back to pg_monitor (monitoring) and to
    value_view_reader (which reads every tenant anyway); superusers keep everything. Every other
    column of pg_class stays readable by PUBLIC, so catalog introspection (psql's \d, JDBC and
    SQLAlchemy metadata, information_schema) still works. Changing the catalog's privileges needs
    a superuser: run by another user, the macro says so and changes nothing. Idempotent.
-#}
{% macro value_view_tenant_channels() -%}
    {%- set settings = value_view_security_settings() -%}
    do $value_view_tenant_channels$
    declare
        reader constant text := {{ value_view_sql_literal(settings.reader_role) }};
        counted_columns constant text[] := array['reltuples', 'relpages', 'relallvisible', 'relallfrozen'];
        readable_columns text;
        statistics_function regprocedure;
    begin
        if not (select rolsuper from pg_catalog.pg_roles where rolname = current_user) then
            raise notice 'value_view_tenant_channels: % is not a superuser; pg_class.reltuples, pg_stat_* and the size functions stay readable by every login', current_user;
            return;
        end if;

        select string_agg(quote_ident(attname), ', ' order by attnum)
        into readable_columns
        from pg_catalog.pg_attribute
        where
            attrelid = 'pg_catalog.pg_class'::regclass
            and attnum > 0
            and not attisdropped
            and attname <> all(counted_columns);
        if has_table_privilege('public', 'pg_catalog.pg_class', 'select') then
            revoke select on pg_catalog.pg_class from public;
            execute format('grant select (%s) on pg_catalog.pg_class to public', readable_columns);
        end if;
        execute format('grant select on pg_catalog.pg_class to pg_monitor, %I', reader);

        for statistics_function in
            select functions.oid::regprocedure
            from pg_catalog.pg_proc as functions
            where
                functions.pronamespace = 'pg_catalog'::regnamespace
                and (
                    (functions.proname like 'pg\_stat\_get\_%' and functions.proargtypes = '26'::oidvector)
                    or functions.proname in ('pg_relation_size', 'pg_table_size', 'pg_indexes_size', 'pg_total_relation_size')
                )
        loop
            execute format('revoke execute on function %s from public', statistics_function);
            execute format('grant execute on function %s to pg_monitor, %I', statistics_function, reader);
        end loop;
    end
    $value_view_tenant_channels$;
{%- endmacro %}
