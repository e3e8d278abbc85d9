{#-
    Names of the objects that carry BI access, in one place. orchestration/lib/tenancy.py uses the same
    names (the BI schema is the profile's target schema, `value_view`, in every target).

    reader_role         NOLOGIN group role: SELECT on the BI-facing relations, all tenants
    tenant_reader_role  NOLOGIN group role of the per-tenant logins: SELECT on tenant_schema only
    tenant_schema       one security_barrier view per BI-facing relation, same names
    security_schema     holds the login -> tenant mapping; no BI role can read it
-#}
{% macro value_view_security_settings() -%}
    {%- do return({
        "reader_role": "value_view_reader",
        "tenant_reader_role": "value_view_tenant_reader",
        "tenant_schema": target.schema ~ "_tenant",
        "security_schema": target.schema ~ "_security",
        "mapping_table": "tenant_logins",
    }) -%}
{%- endmacro %}


{#-
    The BI-facing relations, derived from the graph: every enabled, non-ephemeral model of this
    project under models/marts/. A versioned mart contributes its versioned relation
    (`<name>_v<N>`) and, for its latest version, the unsuffixed name that the post-hook
    `create_latest_version_view` keeps as a view over it. Each entry:
    {schema, relation (what exists in the schema), source (the relation holding the rows),
    adds_last_refreshed (the unsuffixed view of a mart whose `meta.last_refreshed` is
    `refresh_log` adds the column from the refresh log: value_view_last_refreshed_from_log)}.
-#}
{% macro value_view_bi_relations() -%}
    {%- set relations = [] -%}
    {%- if execute -%}
        {%- for node in graph.nodes.values() | sort(attribute="unique_id") -%}
            {%- if node.resource_type == "model"
                and node.package_name == project_name
                and node.fqn | length > 2
                and node.fqn[1] == "marts"
                and node.config.enabled
                and node.config.materialized != "ephemeral" -%}
                {%- do relations.append({
                    "schema": node.schema,
                    "relation": node.alias,
                    "source": node.alias,
                    "adds_last_refreshed": false,
                }) -%}
                {%- if node.version is not none
                    and node.latest_version is not none
                    and node.version | string == node.latest_version | string
                    and node.name != node.alias -%}
                    {%- do relations.append({
                        "schema": node.schema,
                        "relation": node.name,
                        "source": node.alias,
                        "adds_last_refreshed": value_view_last_refreshed_from_log(node.config.meta),
                    }) -%}
                {%- endif -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- do return(relations) -%}
{%- endmacro %}
