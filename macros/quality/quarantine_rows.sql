{#-
    quarantine_rows(table): the body of models/quarantine/quarantine_<table>.sql. One branch per
    rule of quality_rules(table), each selecting the offending source rows with

        source_table, row_id (the source id), tenant_id (null for tables without one),
        check_name, column_name, bad_value (text, at most 200 characters), disposition
        (rejected | flagged), test_name (the dbt test that reports it) and description.

    Only live rows are checked: a soft-deleted row is staging's to drop, not quarantine's. A row
    breaking several rules appears once per rule. A row with a null id never enters staging, so
    it does not hold a code: the duplicate rule ranks only rows that have an id. Each branch
    carries its check and column as constants, so a test that filters on them plans only its own
    branch.
-#}
{% macro quarantine_rows(table) -%}
    {%- set tables = quality_tables() -%}
    {%- set spec = tables[table] -%}
    {%- set rules = quality_rules(table) -%}
    {%- set tenant_scoped = "tenant_id" in spec.get("keys", []) -%}
    {%- set tolerance = var("quality_future_tolerance", "1 hour") -%}
    {#- The row's tenant: its tenant_id, or the tenant of the parent chain named by tenant_via. -#}
    {%- set tenant_chain = [] -%}
    {%- set walk = namespace(table=table, alias="checked") -%}
    {%- for step in range(5) -%}
        {%- set via = tables[walk.table].get("tenant_via") -%}
        {%- if via and "tenant_id" not in tables[walk.table].get("keys", []) -%}
            {%- set alias = "tenant_parent_" ~ loop.index -%}
            {%- do tenant_chain.append({"table": via[1], "alias": alias,
                "on": alias ~ ".id = " ~ walk.alias ~ "." ~ quality_quote(via[0])}) -%}
            {%- set walk.table = via[1] -%}
            {%- set walk.alias = alias -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set row_tenant = walk.alias ~ ".tenant_id" -%}
with

checks as (
    {% for rule in rules %}
    {%- set column = quality_quote(rule.column) -%}
    {%- set live = "checked.deleted_at is null" if spec.get("soft_delete", false) else "true" %}
    {%- if not loop.first %}
    union all
    {% endif %}
    select
        {{ value_view_sql_literal(table) }}::text as source_table,
        checked.id as row_id,
        {{ "checked.tenant_id" if tenant_scoped else "null::uuid" }} as tenant_id,
        {{ value_view_sql_literal(rule.check) }}::text as check_name,
        {{ value_view_sql_literal(rule.column) }}::text as column_name,
        left(
            {%- if rule.check == "null_key" %} null::text
            {%- elif rule.check == "duplicate" %} concat_ws(' / '
                {%- for scope in rule.within %}, checked.{{ quality_quote(scope) }}::text{% endfor -%}
                , checked.{{ column }}::text)
            {%- elif rule.check == "cross_tenant" %} checked.{{ column }}::text || ' (tenant ' || parents.tenant_id::text || ', the row''s ' || {{ row_tenant }}::text || ')'
            {%- elif rule.check == "parent_deleted" %} checked.{{ column }}::text || ' (deleted ' || parents.deleted_at::text || ')'
            {%- elif rule.check == "bad_enum" %} coalesce(checked.{{ column }}::text, 'null')
            {%- elif rule.check == "too_long" %} char_length(checked.{{ column }}::text)::text || ' characters: ' || checked.{{ column }}::text
            {%- elif rule.check == "oversized" %} octet_length(checked.{{ column }}::text)::text || ' bytes'
            {%- elif rule.check == "unpublished_persona" %} checked.{{ column }}::text || ' (' || coalesce(parents.validation_status::text, 'null') || ')'
            {%- else %} checked.{{ column }}::text
            {%- endif %}, 200
        ) as bad_value,
        {{ value_view_sql_literal(rule.disposition) }}::text as disposition,
        {{ value_view_sql_literal(rule.test_name) }}::text as test_name,
        {{ value_view_sql_literal(rule.description) }}::text as description
    {%- if rule.check == "duplicate_key" %}
    from (
        select
            candidates.*,
            count(*) over (partition by candidates.id) as copies
        from {{ source(spec.source, table) }} as candidates
    ) as checked
    where {{ live }} and checked.id is not null and checked.copies > 1
    {%- elif rule.check == "duplicate" %}
    from (
        select
            candidates.*,
            row_number() over (
                partition by
                {%- for scope in rule.within %} candidates.{{ quality_quote(scope) }},{% endfor %} candidates.{{ column }}
                order by
                {%- for key in rule.order %} candidates.{{ quality_quote(key) }}{{ "," if not loop.last }}{% endfor %}
            ) as copy_number
        from {{ source(spec.source, table) }} as candidates
        where
            {{ live | replace("checked.", "candidates.") }}
            and candidates.id is not null
            and candidates.{{ column }} is not null
            {%- for scope in rule.within %}
            and candidates.{{ quality_quote(scope) }} is not null
            {%- endfor %}
    ) as checked
    where checked.copy_number > 1
    {%- elif rule.check in ("cross_tenant", "parent_deleted", "unpublished_persona") %}
    from {{ source(spec.source, table) }} as checked
    {%- if rule.check == "cross_tenant" %}
    {%- for link in tenant_chain %}
    inner join {{ source(tables[link.table].source, link.table) }} as {{ link.alias }}
        on {{ link.on }}
    {%- endfor %}
    {%- endif %}
    inner join {{ source(tables[rule.parent].source, rule.parent) }} as parents
        on checked.{{ column }} = parents.id
    where
        {{ live }}
        {%- if rule.check == "cross_tenant" %}
        and {{ row_tenant }} <> parents.tenant_id
        {%- elif rule.check == "parent_deleted" %}
        and parents.deleted_at is not null
        {%- else %}
        and parents.validation_status is distinct from 'published'
        {%- endif %}
    {%- else %}
    from {{ source(spec.source, table) }} as checked
    where
        {{ live }}
        {%- if rule.check == "null_key" %}
        and checked.{{ column }} is null
        {%- elif rule.check == "orphan" %}
        and checked.{{ column }} is not null
        and not exists (
            select 1 from {{ source(tables[rule.parent].source, rule.parent) }} as parents
            where parents.id = checked.{{ column }}
        )
        {%- elif rule.check == "missing" %}
        and checked.{{ column }} is null
        {%- elif rule.check == "nonfinite" %}
        and lower(checked.{{ column }}::text) in ('nan', 'infinity', '-infinity')
        {%- elif rule.check == "too_long" %}
        and char_length(checked.{{ column }}::text) > {{ rule.limit }}
        {%- elif rule.check == "range" %}
        and lower(checked.{{ column }}::text) not in ('nan', 'infinity', '-infinity')
        and (
            false
            {%- if rule.min is not none %}
            or checked.{{ column }} < {{ rule.min }}
            {%- endif %}
            {%- if rule.max is not none %}
            or checked.{{ column }} > {{ rule.max }}
            {%- endif %}
        )
        {%- elif rule.check == "bad_enum" %}
        and (
            checked.{{ column }} is null
            or checked.{{ column }}::text not in (
                {%- for value in rule["values"] %}{{ value_view_sql_literal(value) }}{{ ", " if not loop.last }}{% endfor -%}
            )
        )
        {%- elif rule.check == "malformed_json" %}
        and ({{ rule.predicate | replace("$json", "checked." ~ column) }})
        {%- elif rule.check == "oversized" %}
        and octet_length(checked.{{ column }}::text) > {{ rule.limit }}
        {%- elif rule.check == "future_timestamp" %}
        and checked.{{ column }} > now() + interval {{ value_view_sql_literal(tolerance) }}
        and checked.{{ column }} <> 'infinity'
        {%- endif %}
    {%- endif %}
    {% endfor %}
)

select * from checks
{%- endmacro %}


{#- A column reference, quoted (source columns include reserved words such as "timestamp"). -#}
{% macro quality_quote(column) -%}
    "{{ column | replace('"', '""') }}"
{%- endmacro %}
