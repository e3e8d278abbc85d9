{#-
    quality_rules(table): the named checks of one source table, derived from quality_tables().

    Each rule: {table, source, check, column, test_name, disposition, description, ...}.
    disposition is `rejected` (the row is kept out of staging, hence out of the marts) or
    `flagged` (the row stays; the finding is reported). Checks, in the order they run:

      null_key          a key column is null                                   (per table)
      duplicate_key     the same id on several rows: every copy is rejected    (per table)
      duplicate         a code repeated within its scope: later copies rejected
      orphan            a foreign key with no parent row
      cross_tenant      a foreign key to a parent row of another tenant (the row's tenant is
                        its tenant_id, or its parent's for a table with tenant_via)
      parent_deleted    a live row under a soft-deleted parent                  (flagged)
      missing           a required column (not a key) is null
      range             a number outside its range (scores 0-10, opportunity 0-20, ...)
      nonfinite         NaN or an infinite number or timestamp
      too_long          text longer than its bound (names reach btree indexes)
      bad_enum          a value outside the accepted set
      malformed_json    a JSON document without the expected shape
      oversized         professional data over 512 KB of JSON text              (flagged)
      future_timestamp  a timestamp later than now plus var quality_future_tolerance
      unpublished_persona  a persona reference to a persona not published       (flagged)
-#}
{% macro quality_rules(table) -%}
    {%- set tables = quality_tables() -%}
    {%- if table not in tables -%}
        {{ exceptions.raise_compiler_error("quality_rules: no catalogue entry for source table " ~ table) }}
    {%- endif -%}
    {%- set spec = tables[table] -%}
    {%- set keys = spec.get("keys", []) -%}
    {%- set parents = spec.get("parents", {}) -%}
    {%- set flagged = spec.get("flagged", []) -%}
    {%- set tenant_scoped = "tenant_id" in keys -%}
    {%- set tenant_via = spec.get("tenant_via", [none])[0] -%}
    {%- set rules = [] -%}

    {%- for column in keys -%}
        {%- do rules.append({"check": "null_key", "column": column,
            "description": column ~ " is null"}) -%}
    {%- endfor -%}
    {%- do rules.append({"check": "duplicate_key", "column": "id",
        "description": "the same id is on more than one row; every copy is rejected"}) -%}
    {%- for unique in spec.get("unique", []) -%}
        {%- set scope = (" within " ~ unique.within | join(", ")) if unique.within else "" -%}
        {%- do rules.append({"check": "duplicate", "column": unique.column, "within": unique.within,
            "order": spec.get("order", ["created_at", "id"]),
            "description": unique.column ~ " repeats" ~ scope ~ "; the first row by "
                ~ spec.get("order", ["created_at", "id"]) | join(", ") ~ " is kept"}) -%}
    {%- endfor -%}
    {%- for column, parent in parents.items() -%}
        {%- do rules.append({"check": "orphan", "column": column, "parent": parent,
            "description": column ~ " has no row in " ~ parent}) -%}
    {%- endfor -%}
    {%- for column, parent in parents.items() -%}
        {%- if (tenant_scoped or tenant_via is not none)
            and column not in ("tenant_id", tenant_via)
            and "tenant_id" in tables[parent].get("keys", []) -%}
            {%- do rules.append({"check": "cross_tenant", "column": column, "parent": parent,
                "description": column ~ " points at a " ~ parent ~ " row of another tenant"}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for column, parent in parents.items() -%}
        {%- if tables[parent].get("soft_delete", false) -%}
            {%- do rules.append({"check": "parent_deleted", "column": column, "parent": parent,
                "disposition": "flagged",
                "description": column ~ " points at a soft-deleted " ~ parent ~ " row"}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for column in spec.get("required", []) -%}
        {%- do rules.append({"check": "missing", "column": column,
            "description": column ~ " is null"}) -%}
    {%- endfor -%}
    {%- for column, bounds in spec.get("ranges", {}).items() -%}
        {%- set low = bounds[0] -%}
        {%- set high = bounds[1] -%}
        {%- do rules.append({"check": "range", "column": column, "min": low, "max": high,
            "description": column ~ (
                " outside " ~ low ~ "-" ~ high if low is not none and high is not none
                else (" below " ~ low if low is not none else " above " ~ high)
            )}) -%}
    {%- endfor -%}
    {%- set finite = [] -%}
    {%- for column in spec.get("ranges", {}).keys() | list + spec.get("finite", []) + spec.get("timestamps", []) -%}
        {%- if column not in finite -%}
            {%- do finite.append(column) -%}
            {#- rejected even where the column's other checks flag: readers such as psycopg
                cannot decode an infinite timestamp, and NaN passes every comparison -#}
            {%- do rules.append({"check": "nonfinite", "column": column,
                "disposition": "rejected",
                "description": column ~ " is NaN or infinite"}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for column, limit in spec.get("text", {}).items() -%}
        {%- do rules.append({"check": "too_long", "column": column, "limit": limit,
            "description": column ~ " is longer than " ~ limit ~ " characters"}) -%}
    {%- endfor -%}
    {%- for column, values in spec.get("enums", {}).items() -%}
        {%- do rules.append({"check": "bad_enum", "column": column, "values": values,
            "description": column ~ " is not one of " ~ values | join(", ")}) -%}
    {%- endfor -%}
    {%- for column, predicate in spec.get("json", {}).items() -%}
        {%- do rules.append({"check": "malformed_json", "column": column, "predicate": predicate,
            "description": column ~ " does not have the expected JSON shape"}) -%}
    {%- endfor -%}
    {%- for column, limit in spec.get("oversized", {}).items() -%}
        {%- do rules.append({"check": "oversized", "column": column, "limit": limit,
            "disposition": "flagged",
            "description": column ~ " is over " ~ (limit // 1024) ~ " KB of JSON text"}) -%}
    {%- endfor -%}
    {%- for column in spec.get("timestamps", []) -%}
        {%- do rules.append({"check": "future_timestamp", "column": column,
            "description": column ~ " is in the future"}) -%}
    {%- endfor -%}
    {%- for column in spec.get("published", []) -%}
        {%- do rules.append({"check": "unpublished_persona", "column": column, "parent": "personas",
            "disposition": "flagged",
            "description": column ~ " points at a persona that is not published"}) -%}
    {%- endfor -%}

    {%- for rule in rules -%}
        {%- do rule.update({"table": table, "source": spec.source}) -%}
        {%- if "disposition" not in rule -%}
            {%- do rule.update({"disposition": "flagged" if rule.column in flagged else "rejected"}) -%}
        {%- endif -%}
        {%- if rule.check in ("null_key", "duplicate_key") -%}
            {%- do rule.update({"test_name": "quality_" ~ rule.check ~ "_" ~ table}) -%}
        {%- else -%}
            {%- do rule.update({"test_name": "quality_" ~ rule.check ~ "_" ~ table ~ "_" ~ rule.column}) -%}
        {%- endif -%}
        {%- if rule.test_name | length > 63 -%}
            {{ exceptions.raise_compiler_error(
                "quality_rules: " ~ rule.test_name ~ " is longer than PostgreSQL's 63-byte names"
            ) }}
        {%- endif -%}
    {%- endfor -%}
    {%- do return(rules) -%}
{%- endmacro %}


{#- Every rule of the catalogue, table by table. -#}
{% macro quality_all_rules() -%}
    {%- set rules = [] -%}
    {%- for table in quality_tables() -%}
        {%- do rules.extend(quality_rules(table)) -%}
    {%- endfor -%}
    {%- do return(rules) -%}
{%- endmacro %}
