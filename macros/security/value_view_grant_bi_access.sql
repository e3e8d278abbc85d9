{#-
    on-run-end: read-only BI access, re-asserted after every run.

    value_view_reader (all tenants)
      USAGE on each BI schema (the schemas of the mart nodes), SELECT on every BI-facing relation
      (the marts' `grants` config covers the versioned relations; the unsuffixed latest-version
      views are re-created by a post-hook and are granted here), and default privileges so a
      relation created later in a BI schema is readable from its first moment. Nothing else:
      no USAGE on the source, staging, intermediate, quarantine, security or refresh-log
      schemas, no CREATE anywhere.

    value_view_tenant_reader (per-tenant logins)
      USAGE on the tenant schema and SELECT on its views, nothing in the BI schemas.

    Tenant views: `value_view_tenant_views` (below) keeps one security_barrier view per BI-facing
    relation. Relations that are not built yet (a `--select` run) are skipped.
-#}
{% macro value_view_grant_bi_access() -%}
    {%- if execute -%}
        {%- set settings = value_view_security_settings() -%}
        {%- set reader = adapter.quote(settings.reader_role) -%}
        {%- set tenant_reader = adapter.quote(settings.tenant_reader_role) -%}
        {%- set relations = value_view_bi_relations() -%}
        {%- set bi_schemas = relations | map(attribute="schema") | unique | list -%}
        {%- if target.schema not in bi_schemas -%}
            {%- do bi_schemas.append(target.schema) -%}
        {%- endif -%}
        {%- set closed_schemas = [settings.security_schema, value_view_refresh_log_schema() | string] -%}
        {%- for node in graph.nodes.values() if node.resource_type in ("model", "seed", "snapshot") -%}
            {%- if node.schema not in bi_schemas
                and node.schema not in closed_schemas
                and node.schema != settings.tenant_schema -%}
                {%- do closed_schemas.append(node.schema) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- for source_node in graph.sources.values() -%}
            {%- if source_node.schema not in closed_schemas
                and source_node.schema not in bi_schemas
                and source_node.schema != settings.tenant_schema -%}
                {%- do closed_schemas.append(source_node.schema) -%}
            {%- endif -%}
        {%- endfor %}
        {%- for schema in bi_schemas %}
    create schema if not exists {{ adapter.quote(schema) }};
    revoke create on schema {{ adapter.quote(schema) }} from public;
    grant usage on schema {{ adapter.quote(schema) }} to {{ reader }};
    revoke all on schema {{ adapter.quote(schema) }} from {{ tenant_reader }};
    alter default privileges in schema {{ adapter.quote(schema) }} grant select on tables to {{ reader }};
        {%- endfor %}
    revoke all on schema {{ adapter.quote(settings.tenant_schema) }} from public, {{ reader }};
    grant usage on schema {{ adapter.quote(settings.tenant_schema) }} to {{ tenant_reader }};
    revoke create on schema public from public, {{ reader }}, {{ tenant_reader }};
    do $value_view_closed_schemas$
    declare
        closed_schema text;
    begin
        foreach closed_schema in array array[
            {%- for schema in closed_schemas %}
            {{ value_view_sql_literal(schema) }}{{ "," if not loop.last }}
            {%- endfor %}
        ]::text []
        loop
            if exists (select from pg_catalog.pg_namespace where nspname = closed_schema) then
                execute format(
                    'revoke all on schema %I from %I, %I',
                    closed_schema,
                    {{ value_view_sql_literal(settings.reader_role) }},
                    {{ value_view_sql_literal(settings.tenant_reader_role) }}
                );
            end if;
        end loop;
    end
    $value_view_closed_schemas$;
    do $value_view_reader_grants$
    declare
        bi_relation record;
    begin
        for bi_relation in
            select *
            from (
                values
                    ('', '')
                {%- for relation in relations %},
                    ({{ value_view_sql_literal(relation.schema) }}, {{ value_view_sql_literal(relation.relation) }})
                {%- endfor %}
            ) as relations (schema_name, relation_name)
            where relation_name <> ''
        loop
            if to_regclass(format('%I.%I', bi_relation.schema_name, bi_relation.relation_name)) is not null then
                execute format(
                    'grant select on %I.%I to %I',
                    bi_relation.schema_name,
                    bi_relation.relation_name,
                    {{ value_view_sql_literal(settings.reader_role) }}
                );
            end if;
        end loop;
    end
    $value_view_reader_grants$;
    {{ value_view_tenant_views(relations) }}
    {%- endif -%}
{%- endmacro %}
