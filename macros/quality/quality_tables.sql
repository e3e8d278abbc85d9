{#-
    The bad-input catalogue: for each source table, what a good row looks like.
    quality_rules() turns these facts into named checks, the quarantine models run them, and
    the tests in models/quarantine/_quarantine__models.yml report them (one test per rule, named
    quality_<check>_<table>[_<column>]; a test naming a rule that is not here fails to compile).

    Per table:
      source        dbt source name (vital or evaluations)
      keys          columns that must not be null (the primary key and required foreign keys)
      parents       foreign key column -> parent table (also checked across tenants when both
                    rows have a tenant, and against soft-deleted parents)
      tenant_via    [foreign key, parent table] for a table without tenant_id: the row's tenant
                    is its parent's (followed up the parents' own tenant_via), so its other
                    foreign keys are checked across tenants too
      required      columns, other than keys, that must not be null (the columns the marts show
                    or compute with; an enumeration's null is its bad_enum finding instead)
      text          column -> most characters (names and codes reach the marts' btree indexes,
                    whose entries hold at most 2,704 bytes)
      unique        [{column, within}]: later rows of a duplicated code (by order) are rejected
      order         how "later" is decided for duplicates (default created_at, id)
      ranges        column -> [min, max] (either may be none); upper bounds keep sums within
                    the marts' numeric types. Each range column, each timestamp and each
                    column of `finite` is also checked for NaN and infinite values
      finite        further numeric or timestamp columns that must be finite
      enums         column -> accepted values
      json          column -> SQL predicate that is true for a malformed value ($json = column)
      oversized     column -> largest JSON text size in bytes (flagged, not rejected)
      timestamps    columns that must not lie in the future
      published     persona foreign keys that should point at a published persona (flagged)
      flagged       columns whose checks flag instead of reject (the marts recompute them)
      soft_delete   the table has deleted_at: soft-deleted rows are staging's, not quarantine's

    Every source table has an entry, those no mart reads yet (therapeutic_areas, products,
    diseases, evidence) too: one bad row of theirs must not fail their staging tests either.
-#}
{% macro quality_tables() -%}
    {#- The numbers the marts read from professional_data, with the magnitude each may have
        (the marts hold money as numeric(15, 2), rates as numeric(6, 4), NPS as numeric(5, 1)). -#}
    {%- set professional_number_paths = {
        "financialMetrics,annualRevenue": [-1e12, 1e12],
        "financialMetrics,netProfit": [-1e12, 1e12],
        "financialMetrics,ebitda": [-1e12, 1e12],
        "customerAnalytics,customerLifetimeValue": [0, 1e12],
        "customerAnalytics,churnRate": [0, 1],
        "customerAnalytics,retentionRate": [0, 1],
        "customerAnalytics,nps": [-100, 100],
    } -%}
    {%- set professional_data_malformed -%}
        $json is not null and (
            jsonb_typeof($json) <> 'object'
            or coalesce(jsonb_typeof($json -> 'financialMetrics'), 'object') <> 'object'
            or coalesce(jsonb_typeof($json -> 'customerAnalytics'), 'object') <> 'object'
            {%- for path, bounds in professional_number_paths.items() %}
            {%- set value = "$json #> '{" ~ path ~ "}'" %}
            or coalesce(jsonb_typeof({{ value }}), 'null') not in ('number', 'null')
            or (
                jsonb_typeof({{ value }}) = 'number'
                and ({{ value }})::numeric not between {{ bounds[0] }} and {{ bounds[1] }}
            )
            {%- endfor %}
        )
    {%- endset -%}
    {%- set saved_filters_malformed -%}
        jsonb_typeof($json) is distinct from 'object'
        {%- for key in ["complexity", "frequency", "strategic_pillars", "service_layers"] %}
        or coalesce(jsonb_typeof($json -> '{{ key }}'), 'array') <> 'array'
        {%- endfor %}
        or coalesce(jsonb_typeof($json -> 'min_opportunity_score'), 'number') <> 'number'
        or (
            jsonb_typeof($json -> 'min_opportunity_score') = 'number'
            and ($json -> 'min_opportunity_score')::numeric not between 0 and 20
        )
    {%- endset -%}
    {%- do return({
        "tenants": {
            "source": "vital",
            "keys": ["id"],
            "required": ["tenant_name", "slug"],
            "text": {"tenant_name": 255, "slug": 255},
            "unique": [{"column": "slug", "within": []}],
        },
        "industries": {
            "source": "vital",
            "keys": ["id", "tenant_id"],
            "parents": {"tenant_id": "tenants"},
            "required": ["industry_name"],
            "text": {"industry_name": 255},
        },
        "therapeutic_areas": {
            "source": "vital",
            "keys": ["id", "tenant_id"],
            "parents": {"tenant_id": "tenants"},
            "required": ["code", "name"],
            "text": {"code": 255, "name": 255},
            "unique": [{"column": "code", "within": ["tenant_id"]}],
        },
        "products": {
            "source": "vital",
            "keys": ["id", "tenant_id", "therapeutic_area_id"],
            "parents": {"tenant_id": "tenants", "therapeutic_area_id": "therapeutic_areas"},
            "required": ["product_name"],
            "text": {"product_name": 255},
            "enums": {
                "lifecycle_stage": [
                    "preclinical", "phase_1", "phase_2", "phase_3", "launched", "mature",
                ],
            },
        },
        "diseases": {
            "source": "vital",
            "keys": ["id", "tenant_id", "therapeutic_area_id"],
            "parents": {"tenant_id": "tenants", "therapeutic_area_id": "therapeutic_areas"},
            "required": ["disease_name", "icd10_code"],
            "text": {"disease_name": 255, "icd10_code": 255},
        },
        "evidence": {
            "source": "vital",
            "keys": ["id", "tenant_id"],
            "parents": {
                "tenant_id": "tenants", "product_id": "products", "disease_id": "diseases",
            },
            "required": ["title", "published_at"],
            "text": {"title": 1000},
            "finite": ["published_at"],
            "enums": {
                "evidence_type": [
                    "rct", "real_world", "meta_analysis", "guideline", "label", "publication",
                ],
                "evidence_level": ["A", "B", "C", "D"],
            },
        },
        "org_business_functions": {
            "source": "vital",
            "keys": ["id", "tenant_id", "industry_id"],
            "parents": {"tenant_id": "tenants", "industry_id": "industries"},
            "required": ["function_name"],
            "text": {"function_name": 255},
        },
        "org_departments": {
            "source": "vital",
            "keys": ["id", "tenant_id", "function_id"],
            "parents": {"tenant_id": "tenants", "function_id": "org_business_functions"},
            "required": ["department_name"],
            "text": {"department_name": 255},
        },
        "org_roles": {
            "source": "vital",
            "keys": ["id", "tenant_id", "department_id"],
            "parents": {"tenant_id": "tenants", "department_id": "org_departments"},
            "required": ["role_name", "headcount"],
            "text": {"role_name": 255},
            "ranges": {"headcount": [0, none]},
            "enums": {
                "seniority": [
                    "associate", "specialist", "manager", "senior_manager", "director", "executive",
                ],
            },
        },
        "personas": {
            "source": "vital",
            "keys": ["id", "tenant_id", "role_id"],
            "parents": {"tenant_id": "tenants", "role_id": "org_roles"},
            "required": ["persona_name", "ai_maturity_score", "work_complexity_score"],
            "text": {"persona_name": 255},
            "ranges": {"ai_maturity_score": [0, 10], "work_complexity_score": [0, 10]},
            "enums": {
                "archetype": ["AUTOMATOR", "ORCHESTRATOR", "LEARNER", "SKEPTIC"],
                "validation_status": ["draft", "in_review", "published", "archived"],
            },
        },
        "strategic_pillars": {
            "source": "vital",
            "keys": ["id"],
            "required": ["name"],
            "text": {"name": 255},
            "unique": [{"column": "code", "within": []}],
            "enums": {"code": ["SP01", "SP02", "SP03", "SP04", "SP05", "SP06", "SP07"]},
        },
        "jtbd": {
            "source": "vital",
            "keys": ["id", "tenant_id"],
            "parents": {"tenant_id": "tenants"},
            "required": ["code", "name"],
            "text": {"code": 255, "name": 255},
            "unique": [{"column": "code", "within": ["tenant_id"]}],
            "enums": {
                "complexity": ["low", "medium", "high", "very_high"],
                "frequency": ["daily", "weekly", "monthly", "quarterly", "annually"],
                "status": ["draft", "active", "retired"],
            },
            "soft_delete": true,
        },
        "jtbd_roles": {
            "source": "vital",
            "keys": ["id", "tenant_id", "jtbd_id", "role_id"],
            "parents": {"tenant_id": "tenants", "jtbd_id": "jtbd", "role_id": "org_roles"},
            "unique": [{"column": "role_id", "within": ["jtbd_id"]}],
            "ranges": {"time_share_pct": [0, 100]},
        },
        "jtbd_category_mappings": {
            "source": "vital",
            "keys": ["id", "jtbd_id", "pillar_id"],
            "parents": {"jtbd_id": "jtbd", "pillar_id": "strategic_pillars"},
            "required": ["alignment_weight"],
            "unique": [{"column": "pillar_id", "within": ["jtbd_id"]}],
            "ranges": {"alignment_weight": [0, 1]},
        },
        "jtbd_outcomes": {
            "source": "vital",
            "keys": ["id", "jtbd_id"],
            "parents": {"jtbd_id": "jtbd"},
            "required": ["importance_score", "satisfaction_score"],
            "ranges": {
                "importance_score": [0, 10],
                "satisfaction_score": [0, 10],
                "opportunity_score": [0, 20],
            },
        },
        "jtbd_odi_scores": {
            "source": "vital",
            "keys": ["id", "tenant_id", "jtbd_id", "persona_id"],
            "parents": {"tenant_id": "tenants", "jtbd_id": "jtbd", "persona_id": "personas"},
            "required": ["importance_score", "satisfaction_score", "opportunity_score"],
            "unique": [{"column": "persona_id", "within": ["jtbd_id"]}],
            "order": ["scored_at", "id"],
            "ranges": {
                "importance_score": [0, 10],
                "satisfaction_score": [0, 10],
                "opportunity_score": [0, 20],
                "respondent_count": [0, none],
            },
            "enums": {
                "opportunity_classification": [
                    "highly_underserved", "underserved", "appropriately_served", "overserved",
                ],
            },
            "flagged": ["opportunity_score", "opportunity_classification"],
            "timestamps": ["scored_at"],
            "published": ["persona_id"],
        },
        "jtbd_ai_suitability": {
            "source": "vital",
            "keys": ["id", "jtbd_id"],
            "parents": {"jtbd_id": "jtbd"},
            "required": ["overall_score", "data_readiness_score", "risk_score"],
            "unique": [{"column": "jtbd_id", "within": []}],
            "order": ["assessed_at", "id"],
            "ranges": {
                "overall_score": [0, 1],
                "data_readiness_score": [0, 1],
                "risk_score": [0, 1],
            },
            "enums": {
                "recommended_service_layer": ["ask_me", "ask_expert", "ask_panel", "workflow"],
            },
            "timestamps": ["assessed_at"],
        },
        "ref_value_drivers": {
            "source": "vital",
            "keys": ["id"],
            "required": ["code", "name"],
            "text": {"code": 255, "name": 255},
            "unique": [{"column": "code", "within": []}],
            "order": ["id"],
            "enums": {"value_category": ["time", "cost", "quality", "risk", "strategic_impact"]},
        },
        "ai_opportunities": {
            "source": "vital",
            "keys": ["id", "tenant_id", "jtbd_id"],
            "parents": {"tenant_id": "tenants", "jtbd_id": "jtbd"},
            "required": [
                "opportunity_name",
                "automation_potential",
                "estimated_time_savings_hours",
                "estimated_cost_savings_usd",
            ],
            "text": {"opportunity_name": 255},
            "ranges": {
                "automation_potential": [0, 1],
                "estimated_time_savings_hours": [0, 100000],
                "estimated_cost_savings_usd": [0, 1000000000],
            },
            "enums": {
                "status": [
                    "identified", "evaluating", "approved", "in_progress", "delivered", "rejected",
                ],
                "priority": ["low", "medium", "high", "critical"],
            },
            "timestamps": ["updated_at"],
        },
        "ref_opportunities": {
            "source": "vital",
            "keys": ["id", "tenant_id", "target_jtbd_id"],
            "parents": {
                "tenant_id": "tenants",
                "target_jtbd_id": "jtbd",
                "primary_value_driver_id": "ref_value_drivers",
            },
            "ranges": {"priority_rank": [1, none]},
        },
        "workflow_templates": {
            "source": "vital",
            "keys": ["id", "tenant_id", "jtbd_id"],
            "parents": {"tenant_id": "tenants", "jtbd_id": "jtbd"},
            "required": ["name", "estimated_duration_hours"],
            "text": {"name": 255},
            "ranges": {"estimated_duration_hours": [0, 100000]},
            "enums": {
                "status": ["draft", "active", "deprecated"],
                "automation_level": ["manual", "assisted", "semi_automated", "automated"],
            },
            "soft_delete": true,
        },
        "workflow_stages": {
            "source": "vital",
            "keys": ["id", "workflow_template_id"],
            "parents": {"workflow_template_id": "workflow_templates"},
            "tenant_via": ["workflow_template_id", "workflow_templates"],
            "required": ["stage_number", "estimated_duration_hours"],
            "unique": [{"column": "stage_number", "within": ["workflow_template_id"]}],
            "ranges": {"stage_number": [1, none], "estimated_duration_hours": [0, 100000]},
        },
        "workflow_tasks": {
            "source": "vital",
            "keys": ["id", "workflow_stage_id"],
            "parents": {"workflow_stage_id": "workflow_stages", "assigned_role_id": "org_roles"},
            "tenant_via": ["workflow_stage_id", "workflow_stages"],
            "required": ["task_number", "estimated_minutes"],
            "unique": [{"column": "task_number", "within": ["workflow_stage_id"]}],
            "ranges": {"task_number": [1, none], "estimated_minutes": [0, 6000000]},
        },
        "value_metrics": {
            "source": "vital",
            "keys": ["id", "tenant_id", "jtbd_id", "value_driver_id"],
            "parents": {
                "tenant_id": "tenants",
                "jtbd_id": "jtbd",
                "workflow_template_id": "workflow_templates",
                "value_driver_id": "ref_value_drivers",
            },
            "enums": {
                "value_category": ["time", "cost", "quality", "risk", "strategic_impact"],
                "unit": ["hours", "usd", "percent", "score"],
            },
            "required": ["metric_name", "baseline_value", "target_value", "measured_at"],
            "text": {"metric_name": 255},
            "finite": ["baseline_value", "target_value", "actual_value"],
            "timestamps": ["measured_at"],
        },
        "users": {
            "source": "vital",
            "keys": ["id", "tenant_id"],
            "parents": {"tenant_id": "tenants", "role_id": "org_roles", "persona_id": "personas"},
            "required": ["email"],
            "unique": [{"column": "email", "within": []}],
            "timestamps": ["last_login_at"],
            "flagged": ["last_login_at"],
            "published": ["persona_id"],
        },
        "user_preferences": {
            "source": "vital",
            "keys": ["id", "user_id"],
            "parents": {"user_id": "users"},
            "unique": [{"column": "user_id", "within": []}],
            "order": ["updated_at", "id"],
            "enums": {"default_view": ["heatmap", "persona", "workflow", "strategic", "value"]},
            "json": {"saved_filters": saved_filters_malformed},
        },
        "business_evaluations": {
            "source": "evaluations",
            "keys": ["id", "tenant_id", "user_id"],
            "parents": {"tenant_id": "tenants", "user_id": "users"},
            "required": ["data_version"],
            "ranges": {
                "health_score": [0, 100],
                "confidence_score": [0, 100],
                "data_version": [1, none],
            },
            "enums": {
                "subscription_tier": ["basic", "professional", "enterprise"],
                "status": ["draft", "processing", "completed", "failed", "archived"],
                "analysis_depth": ["standard", "comprehensive", "deep"],
            },
            "json": {
                "business_data": "jsonb_typeof($json) is distinct from 'object'",
                "professional_data": professional_data_malformed,
                "valuations": "$json is not null and jsonb_typeof($json) <> 'object'",
                "opportunities": "$json is not null and jsonb_typeof($json) <> 'array'",
            },
            "oversized": {"professional_data": 524288},
            "timestamps": ["created_at", "updated_at"],
            "soft_delete": true,
        },
        "professional_data_audit": {
            "source": "evaluations",
            "keys": ["id", "evaluation_id", "user_id"],
            "parents": {"user_id": "users"},
            "required": ["timestamp"],
            "enums": {
                "change_type": ["create", "update", "tier_upgrade", "view", "export", "delete"],
            },
            "timestamps": ["timestamp"],
        },
    }) -%}
{%- endmacro %}
