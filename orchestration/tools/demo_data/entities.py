"""The entities of a generated tenant: what the row generators of several tables share (a role is
a row of org_roles and the key of jtbd_roles, workflow_tasks and users rows)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from orchestration.tools.demo_data.draws import hundredths
from orchestration.tools.demo_data.profiles import TenantProfile


@dataclass(frozen=True)
class Tenant:
    index: int
    id: str
    name: str
    slug: str
    profile: TenantProfile


@dataclass(frozen=True)
class Unit:
    """An industry, business function or department: its position among its kind in the tenant,
    and the unit it belongs to (a function's industry, a department's function)."""

    id: str
    index: int
    name: str
    parent: Unit | None
    created_at: dt.datetime


@dataclass(frozen=True)
class Role:
    id: str
    index: int
    function_index: int
    department_id: str
    name: str
    seniority: str
    headcount: int
    created_at: dt.datetime


@dataclass(frozen=True)
class Persona:
    id: str
    role: Role
    name: str
    archetype: str
    status: str
    ai_maturity: str
    work_complexity: str
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class Job:
    id: str
    index: int
    code: str
    action: str
    object: str
    function_index: int
    statement: str
    complexity: str
    frequency: str
    status: str
    importance: int
    satisfaction: int
    pillars: tuple[tuple[int, str], ...]
    created_at: dt.datetime
    updated_at: dt.datetime
    deleted_at: dt.datetime | None

    @property
    def name(self) -> str:
        return f"{self.action} {self.object}"

    @property
    def phrase(self) -> str:
        return f"{self.action.lower()} {self.object}"


@dataclass(frozen=True)
class Stage:
    id: str
    number: int
    name: str
    hours: int


@dataclass(frozen=True)
class Workflow:
    id: str
    job: Job
    name: str
    status: str
    automation_level: str
    stages: tuple[Stage, ...]
    created_at: dt.datetime
    updated_at: dt.datetime
    deleted_at: dt.datetime | None

    @property
    def duration(self) -> str:
        """The stages' hours added up, as a two-decimal string."""
        return hundredths(sum(stage.hours for stage in self.stages))


@dataclass(frozen=True)
class User:
    id: str
    role: Role | None
    persona: Persona | None


@dataclass(frozen=True)
class Evaluation:
    """The parts of an evaluation its audit trail needs; the payload is drawn separately."""

    id: str
    user_id: str
    tier: str
    status: str
    created_at: dt.datetime
    updated_at: dt.datetime
    deleted_at: dt.datetime | None


@dataclass(frozen=True)
class Area:
    id: str
    code: str
    name: str
    created_at: dt.datetime


@dataclass(frozen=True)
class Product:
    id: str
    area: Area
    name: str
    lifecycle_stage: str
    created_at: dt.datetime


@dataclass(frozen=True)
class Disease:
    id: str
    area: Area
    name: str
    icd10_code: str
    created_at: dt.datetime


@dataclass(frozen=True)
class Domain:
    """A tenant's therapeutic areas with their products and diseases."""

    areas: tuple[Area, ...]
    products: tuple[Product, ...]
    diseases: tuple[Disease, ...]
