"""Rows of L1-L3: strategic pillars, business functions, departments, roles and personas."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from orchestration.tools.demo_data.catalogue import PILLARS
from orchestration.tools.demo_data.projection import Row, entity_rows
from orchestration.tools.demo_data.world import DemoPlan


def pillar_rows(plan: DemoPlan) -> Iterator[Row]:
    created = plan.anchor - dt.timedelta(days=1200)
    for pillar_id, pillar in zip(plan.pillars, PILLARS, strict=True):
        yield (
            pillar_id,
            pillar.code,
            pillar.name,
            pillar.description,
            pillar.okr,
            pillar.theme,
            created,
        )


function_rows = entity_rows(
    "org_business_functions",
    lambda world: world.functions,
    industry_id="parent.id",
    function_name="name",
)
department_rows = entity_rows(
    "org_departments",
    lambda world: world.departments,
    function_id="parent.id",
    department_name="name",
)
role_rows = entity_rows("org_roles", lambda world: world.roles, role_name="name")
persona_rows = entity_rows(
    "personas",
    lambda world: world.personas,
    role_id="role.id",
    persona_name="name",
    validation_status="status",
    ai_maturity_score="ai_maturity",
    work_complexity_score="work_complexity",
)
