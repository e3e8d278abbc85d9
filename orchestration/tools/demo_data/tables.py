"""The VITAL tables in load order (parents before children), each with its row generator. Column
lists are the DDL's (``ddl.columns``); every generator yields its values in that order."""

from __future__ import annotations

from dataclasses import dataclass

from orchestration.tools.demo_data import (
    rows_domain,
    rows_jobs,
    rows_organisation,
    rows_professional,
    rows_users,
    rows_value,
    rows_workflows,
)
from orchestration.tools.demo_data.ddl import columns
from orchestration.tools.demo_data.projection import RowSource


@dataclass(frozen=True)
class TableSpec:
    name: str
    rows: RowSource

    @property
    def columns(self) -> tuple[str, ...]:
        return columns(self.name)


TABLES = (
    TableSpec("tenants", rows_domain.tenant_rows),
    TableSpec("industries", rows_domain.industry_rows),
    TableSpec("therapeutic_areas", rows_domain.therapeutic_area_rows),
    TableSpec("products", rows_domain.product_rows),
    TableSpec("diseases", rows_domain.disease_rows),
    TableSpec("evidence", rows_domain.evidence_rows),
    TableSpec("strategic_pillars", rows_organisation.pillar_rows),
    TableSpec("org_business_functions", rows_organisation.function_rows),
    TableSpec("org_departments", rows_organisation.department_rows),
    TableSpec("org_roles", rows_organisation.role_rows),
    TableSpec("personas", rows_organisation.persona_rows),
    TableSpec("jtbd", rows_jobs.job_rows),
    TableSpec("jtbd_roles", rows_jobs.job_role_rows),
    TableSpec("jtbd_category_mappings", rows_jobs.pillar_mapping_rows),
    TableSpec("jtbd_outcomes", rows_jobs.outcome_rows),
    TableSpec("jtbd_odi_scores", rows_jobs.odi_score_rows),
    TableSpec("jtbd_ai_suitability", rows_jobs.suitability_rows),
    TableSpec("ref_value_drivers", rows_value.driver_rows),
    TableSpec("ai_opportunities", rows_value.ai_opportunity_rows),
    TableSpec("ref_opportunities", rows_value.ref_opportunity_rows),
    TableSpec("workflow_templates", rows_workflows.workflow_rows),
    TableSpec("workflow_stages", rows_workflows.stage_rows),
    TableSpec("workflow_tasks", rows_workflows.task_rows),
    TableSpec("value_metrics", rows_value.value_metric_rows),
    TableSpec("users", rows_users.user_rows),
    TableSpec("user_preferences", rows_users.preference_rows),
    TableSpec("business_evaluations", rows_professional.evaluation_rows),
    TableSpec("professional_data_audit", rows_professional.audit_rows),
)
TABLE_NAMES = tuple(table.name for table in TABLES)
