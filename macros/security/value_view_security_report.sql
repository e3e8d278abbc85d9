{#-
    on-run-end, after value_view_grant_bi_access: prints what a BI login would trip over.

    - a built BI-facing relation without a tenant view (no tenant_id column, or its view was busy);
    - a mapped tenant login that can read more than its tenant: superuser, BYPASSRLS, or a member
      of any role other than the tenant reader group (for example value_view_reader).
    Returns no SQL.
-#}
{% macro value_view_security_report() -%}
    {%- if execute -%}
        {%- set settings = value_view_security_settings() -%}
        {%- set relations = value_view_bi_relations() -%}
        {%- if relations | length > 0 -%}
            {%- set query -%}
                with

                bi_relations as (

                    select *
                    from (
                        values
                        {%- for relation in relations %}
                            (
                                {{ value_view_sql_literal(relation.schema) }},
                                {{ value_view_sql_literal(relation.relation) }}
                            ){{ "," if not loop.last }}
                        {%- endfor %}
                    ) as relations (schema_name, relation_name)

                )

                select bi_relations.schema_name || '.' || bi_relations.relation_name as relation
                from bi_relations
                where
                    to_regclass(format('%I.%I', bi_relations.schema_name, bi_relations.relation_name)) is not null
                    and to_regclass(format(
                        '%I.%I', {{ value_view_sql_literal(settings.tenant_schema) }}, bi_relations.relation_name
                    )) is null
                order by 1
            {%- endset -%}
            {%- set uncovered = run_query(query).columns[0].values() -%}
            {%- for relation in uncovered -%}
                {{ log("value_view security: " ~ relation ~ " has no tenant view in "
                    ~ settings.tenant_schema ~ " (tenant logins cannot read it)", info=true) }}
            {%- endfor -%}
            {%- if uncovered | length == 0 -%}
                {{ log("value_view security: " ~ relations | length ~ " BI-facing relations, each with a tenant view in "
                    ~ settings.tenant_schema, info=true) }}
            {%- endif -%}
        {%- endif -%}
        {%- set logins_query -%}
            select
                tenant_logins.login::text,
                roles.rolsuper or roles.rolbypassrls as is_privileged,
                coalesce((
                    select string_agg(groups.rolname, ', ' order by groups.rolname)
                    from pg_catalog.pg_auth_members as members
                    inner join pg_catalog.pg_roles as groups on groups.oid = members.roleid
                    where
                        members.member = roles.oid
                        and groups.rolname <> {{ value_view_sql_literal(settings.tenant_reader_role) }}
                ), '') as other_groups
            from {{ adapter.quote(settings.security_schema) }}.{{ adapter.quote(settings.mapping_table) }} as tenant_logins
            inner join pg_catalog.pg_roles as roles on roles.rolname = tenant_logins.login
            order by 1
        {%- endset -%}
        {%- for row in run_query(logins_query).rows -%}
            {%- if row[1] or row[2] -%}
                {{ log("value_view security: tenant login " ~ row[0] ~ " can read beyond its tenant ("
                    ~ ("superuser or BYPASSRLS" if row[1] else "member of " ~ row[2]) ~ ")", info=true) }}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
