{#-
    on-run-end: one line per quality test that found rows, naming the source table and column,
    what happened to the rows (rejected: kept out of the marts; flagged: kept and reported), the
    rule, up to five sample keys and where every row is stored. Returns no SQL.

        quality_orphan_jtbd_roles_role_id: 3 rows rejected in vital.jtbd_roles.role_id
        (role_id has no row in org_roles); sample id: 4f0c..., 9a1e..., 0b7d...;
        all rows: select * from "db"."value_view_quality"."quality_orphan_jtbd_roles_role_id"
-#}
{% macro quality_report(results) -%}
    {%- if execute -%}
        {%- set sources = {} -%}
        {%- for source_node in graph.sources.values() -%}
            {%- do sources.update({source_node.name: source_node.schema ~ "." ~ source_node.identifier}) -%}
        {%- endfor -%}
        {%- set reported = [] -%}
        {%- for result in results
            if result.node.resource_type == "test"
            and result.node.name.startswith("quality_")
            and result.status in ("warn", "fail")
            and result.node.relation_name -%}
            {%- set query -%}
                select
                    source_table,
                    column_name,
                    disposition,
                    description,
                    coalesce(row_id::text, bad_value, 'null') as row_key
                from {{ result.node.relation_name }}
                order by row_key
                limit 30
            {%- endset -%}
            {%- set sample = run_query(query) -%}
            {%- if sample.rows | length > 0 -%}
                {%- set first = sample.rows[0] -%}
                {%- do reported.append(result.node.name) -%}
                {%- if first[1] == "*" -%}
                {{ log(
                    result.node.name ~ ": " ~ result.failures ~ " source tables do not reconcile: "
                    ~ sample.columns["row_key"].values() | join("; ")
                    ~ "; all rows: select * from " ~ result.node.relation_name,
                    info=true
                ) }}
                {%- else -%}
                {{ log(
                    result.node.name ~ ": " ~ result.failures ~ " rows " ~ first[2] ~ " in "
                    ~ sources.get(first[0], first[0]) ~ "." ~ first[1] ~ " (" ~ first[3] ~ "); sample id: "
                    ~ (sample.columns["row_key"].values() | unique | list)[:3] | join(", ")
                    ~ "; all rows: select * from " ~ result.node.relation_name,
                    info=true
                ) }}
                {%- endif -%}
            {%- elif result.failures -%}
                {%- do reported.append(result.node.name) -%}
                {{ log(result.node.name ~ ": " ~ result.failures ~ " rows; see "
                    ~ result.node.relation_name, info=true) }}
            {%- endif -%}
        {%- endfor -%}
        {%- if reported | length > 0 -%}
            {{ log("value_view quality: " ~ reported | length ~ " checks found bad input (details above)", info=true) }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
