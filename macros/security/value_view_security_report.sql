{#-
    on-run-end, after value_view_grant_bi_access: prints what a BI login would trip over.

    - a built BI-facing relation without a tenant view (no tenant_id column, or its view was busy);
    - a mapped tenant login that holds or reads more than its tenant, as
      `<security schema>.login_privileges` says (an attribute, another group, SELECT outside the
      tenant schema through any grant, an owned object, a grant naming it, a policy);
    - write paths BI logins still have in this database (defaults the role dbt runs as could not
      revoke from PUBLIC: value_view_security_seal), once, and a tenant login's own write paths.
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
        {%- set privileges = adapter.quote(settings.security_schema) ~ ".login_privileges" -%}
        {%- set logins_query -%}
            with

            mapped_logins as (

                select tenant_logins.login
                from {{ adapter.quote(settings.security_schema) }}.{{ adapter.quote(settings.mapping_table) }} as tenant_logins
                inner join pg_catalog.pg_roles as roles on tenant_logins.login = roles.rolname

            ),

            group_writes as (

                select privileges.detail
                from {{ privileges }}({{ value_view_sql_literal(settings.reader_role) }}) as privileges
                where privileges.kind = 'writes'

            ),

            login_privileges as (

                select
                    mapped_logins.login::text as login,
                    privileges.kind,
                    privileges.detail
                from mapped_logins
                cross join lateral {{ privileges }}(mapped_logins.login) as privileges
                where
                    privileges.kind <> 'writes'
                    or privileges.detail not in (select group_writes.detail from group_writes)

                union all

                select
                    '' as login,
                    'writes' as kind,
                    group_writes.detail
                from group_writes

            )

            select
                login_privileges.login,
                login_privileges.kind = 'writes' as is_write,
                string_agg(
                    login_privileges.detail,
                    '; '
                    order by
                        array_position(
                            array['attribute', 'membership', 'reads', 'owns', 'granted', 'policy'],
                            login_privileges.kind
                        ),
                        login_privileges.detail
                ) as details
            from login_privileges
            group by 1, 2
            order by 1, 2
        {%- endset -%}
        {%- for row in run_query(logins_query).rows -%}
            {%- if row[0] == "" -%}
                {{ log("value_view security: BI logins can still write in this database: " ~ row[2]
                    ~ " (the role dbt runs as could not revoke these defaults from PUBLIC; the database owner or a superuser can: value_view_security_seal)", info=true) }}
            {%- elif row[1] -%}
                {{ log("value_view security: tenant login " ~ row[0] ~ " can write: " ~ row[2], info=true) }}
            {%- else -%}
                {{ log("value_view security: tenant login " ~ row[0] ~ " can read beyond its tenant: " ~ row[2], info=true) }}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
