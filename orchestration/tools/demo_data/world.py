"""The generated world: the plan every generator shares (seed, scale, the anchor time, the tenants)
and each tenant's entities that several tables refer to (industries, functions, departments, roles,
personas, users, the therapeutic domain, and the jobs and workflows drawn in ``jobs``).

Every table and tenant draws from its own random stream, named by the seed, the tenant and what is
drawn, so a part drawn here is the same whichever table asks for it first.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from functools import cached_property
from typing import TypeVar

from orchestration.tools.demo_data.catalogue import (
    ARCHETYPE_TRAITS,
    ARCHETYPES,
    EXTRA_TENANT_NAMES,
    HEADCOUNTS,
    LIFECYCLE_STAGES,
    PERSONA_ADJECTIVES,
    PERSONA_ANCHOR_ROLE,
    PERSONA_SENIORITIES,
    PILLARS,
    PRODUCT_PREFIXES,
    PRODUCT_SUFFIXES,
    THERAPEUTIC_AREAS,
    VALUE_DRIVERS,
)
from orchestration.tools.demo_data.draws import new_uuid, slug, spread
from orchestration.tools.demo_data.entities import (
    Area,
    Disease,
    Domain,
    Job,
    Persona,
    Product,
    Role,
    Tenant,
    Unit,
    User,
    Workflow,
)
from orchestration.tools.demo_data.jobs import draw_jobs, draw_workflows
from orchestration.tools.demo_data.profiles import tenant_profiles

PHARMA_TENANT_ID = "f7aa6fd4-0af9-4706-8b31-034f1f7accda"
DIGITAL_HEALTH_TENANT_ID = "590d9e40-b628-4678-8cec-839d0b4fe968"

Grouped = TypeVar("Grouped", Role, Job)


class DemoPlan:
    """Everything the generators share: seed, scale, the anchor time and the tenants."""

    def __init__(
        self, *, seed: int, scale: int, as_of: dt.date, tenants: int | None = None
    ) -> None:
        self.seed = seed
        self.scale = scale
        self.as_of = as_of
        self.anchor = dt.datetime.combine(as_of, dt.time(), tzinfo=dt.timezone.utc)
        profiles = tenant_profiles(scale, tenants)
        self.tenants = [
            Tenant(0, PHARMA_TENANT_ID, "Pharmaceuticals", "pharmaceuticals", profiles[0]),
            Tenant(
                1,
                DIGITAL_HEALTH_TENANT_ID,
                "Digital Health Startups",
                "digital-health-startups",
                profiles[1],
            ),
        ]
        for index in range(2, len(profiles)):
            base = EXTRA_TENANT_NAMES[(index - 2) % len(EXTRA_TENANT_NAMES)]
            round_ = (index - 2) // len(EXTRA_TENANT_NAMES)
            name = base if round_ == 0 else f"{base} {round_ + 1}"
            tenant_id = new_uuid(self.rng(index, "tenant_id"))
            self.tenants.append(Tenant(index, tenant_id, name, slug(name), profiles[index]))

    def rng(self, *key: object) -> random.Random:
        return random.Random(":".join(str(part) for part in (self.seed, *key)))

    def ago(self, rng: random.Random, low_days: float, high_days: float) -> dt.datetime:
        """A whole-second time between ``high_days`` and ``low_days`` before the anchor."""
        seconds = rng.randint(int(low_days * 86400), int(high_days * 86400))
        return self.anchor - dt.timedelta(seconds=seconds)

    def after(self, rng: random.Random, start: dt.datetime) -> dt.datetime:
        """A whole-second time from ``start`` up to the anchor (``start`` if that is later)."""
        span = max(int((self.anchor - start).total_seconds()), 0)
        return start + dt.timedelta(seconds=rng.randint(0, span))

    @cached_property
    def pillars(self) -> list[str]:
        """The strategic pillars' ids, in catalogue order."""
        rng = self.rng("global", "pillars")
        return [new_uuid(rng) for _ in PILLARS]

    @cached_property
    def drivers(self) -> list[str]:
        """The value drivers' ids, in catalogue order."""
        rng = self.rng("global", "value_drivers")
        return [new_uuid(rng) for _ in VALUE_DRIVERS]

    def worlds(self) -> Iterator[TenantWorld]:
        for tenant in self.tenants:
            yield TenantWorld(self, tenant)


class TenantWorld:
    """One tenant's generated entities. Each part is drawn from its own random stream on first
    use, so a table needs only the parts it refers to."""

    def __init__(self, plan: DemoPlan, tenant: Tenant) -> None:
        self.plan = plan
        self.tenant = tenant
        self.profile = tenant.profile

    def rng(self, name: str) -> random.Random:
        return self.plan.rng(self.tenant.index, name)

    def _by_function(self, items: list[Grouped]) -> list[list[Grouped]]:
        """``items`` (roles or jobs) grouped by their function, in function order."""
        grouped: list[list[Grouped]] = [[] for _ in self.profile.functions]
        for item in items:
            grouped[item.function_index].append(item)
        return grouped

    @cached_property
    def industries(self) -> list[Unit]:
        rng = self.rng("industries")
        return [
            Unit(new_uuid(rng), index, name, None, self.plan.ago(rng, 1000, 1100))
            for index, name in enumerate(self.profile.industries)
        ]

    @cached_property
    def functions(self) -> list[Unit]:
        rng = self.rng("functions")
        industries = self.industries
        return [
            Unit(
                new_uuid(rng),
                index,
                spec.name,
                industries[index % len(industries)],
                self.plan.ago(rng, 900, 1000),
            )
            for index, spec in enumerate(self.profile.functions)
        ]

    @cached_property
    def departments(self) -> list[Unit]:
        rng = self.rng("departments")
        departments: list[Unit] = []
        for function, spec in zip(self.functions, self.profile.functions, strict=True):
            for name in spec.departments:
                department_id = new_uuid(rng)
                created = self.plan.ago(rng, 800, 900)
                departments.append(Unit(department_id, len(departments), name, function, created))
        return departments

    @cached_property
    def roles(self) -> list[Role]:
        rng = self.rng("roles")
        roles: list[Role] = []
        for department in self.departments:
            for title, seniority in self.profile.role_titles:
                roles.append(
                    Role(
                        id=new_uuid(rng),
                        index=len(roles),
                        function_index=department.parent.index,
                        department_id=department.id,
                        name=title.format(d=department.name),
                        seniority=seniority,
                        headcount=rng.randint(*HEADCOUNTS[seniority]),
                        created_at=self.plan.ago(rng, 700, 800),
                    )
                )
        return roles

    @cached_property
    def roles_by_function(self) -> list[list[Role]]:
        return self._by_function(self.roles)

    @cached_property
    def personas(self) -> list[Persona]:
        rng = self.rng("personas")
        count = self.profile.personas
        chosen: list[Role] = []
        per_function = spread(rng, count, len(self.profile.functions))
        for function_index, wanted in enumerate(per_function):
            candidates = [
                role
                for role in self.roles_by_function[function_index]
                if role.seniority in PERSONA_SENIORITIES
            ]
            chosen.extend(rng.sample(candidates, wanted))
        anchor_role = next((role for role in self.roles if role.name == PERSONA_ANCHOR_ROLE), None)
        if anchor_role is not None and anchor_role not in chosen:
            first_of_function = next(
                index
                for index, role in enumerate(chosen)
                if role.function_index == anchor_role.function_index
            )
            chosen[first_of_function] = anchor_role
        archetypes = [ARCHETYPES[index % len(ARCHETYPES)] for index in range(count)]
        rng.shuffle(archetypes)
        statuses = ["published"] * count
        if self.profile.kind == "large" and self.profile.part == 0:
            eligible = [index for index, role in enumerate(chosen) if role is not anchor_role]
            draft, in_review = rng.sample(eligible, 2)
            statuses[draft] = "draft"
            statuses[in_review] = "in_review"
        personas = []
        for role, archetype, status in zip(chosen, archetypes, statuses, strict=True):
            created = self.plan.ago(rng, 200, 600)
            personas.append(
                Persona(
                    id=new_uuid(rng),
                    role=role,
                    name=f"{rng.choice(PERSONA_ADJECTIVES[archetype])} {role.name}",
                    archetype=archetype,
                    status=status,
                    ai_maturity=f"{rng.uniform(*ARCHETYPE_TRAITS[archetype].ai_maturity):.2f}",
                    work_complexity=f"{rng.uniform(3.0, 9.5):.2f}",
                    created_at=created,
                    updated_at=self.plan.after(rng, created),
                )
            )
        return personas

    @cached_property
    def jobs(self) -> list[Job]:
        return draw_jobs(self)

    @cached_property
    def jobs_by_function(self) -> list[list[Job]]:
        return self._by_function(self.jobs)

    @cached_property
    def workflows(self) -> list[Workflow]:
        return draw_workflows(self)

    @cached_property
    def users(self) -> list[User]:
        rng = self.rng("users")
        users = []
        for _ in range(self.profile.users):
            persona = rng.choice(self.personas) if rng.random() < 0.35 else None
            if persona is not None:
                role: Role | None = persona.role
            else:
                role = rng.choice(self.roles) if rng.random() < 0.9 else None
            users.append(User(new_uuid(rng), role, persona))
        return users

    @cached_property
    def domain(self) -> Domain:
        rng = self.rng("domain")
        plan = self.plan
        areas = tuple(
            Area(new_uuid(rng), code, THERAPEUTIC_AREAS[code].name, plan.ago(rng, 900, 1100))
            for code in self.profile.therapeutic_areas
        )
        products = []
        names: set[str] = set()
        for index in range(self.profile.products):
            name = f"{rng.choice(PRODUCT_PREFIXES)}{rng.choice(PRODUCT_SUFFIXES)}"
            while name in names:
                name = f"{rng.choice(PRODUCT_PREFIXES)}{rng.choice(PRODUCT_SUFFIXES)}"
            names.add(name)
            stage = rng.choices(LIFECYCLE_STAGES, weights=(10, 10, 15, 20, 30, 15))[0]
            created = plan.ago(rng, 300, 900)
            products.append(Product(new_uuid(rng), areas[index % len(areas)], name, stage, created))
        diseases = []
        per_area = spread(rng, self.profile.diseases, len(areas))
        for wanted, area in zip(per_area, areas, strict=True):
            for name, icd10 in THERAPEUTIC_AREAS[area.code].diseases[:wanted]:
                diseases.append(Disease(new_uuid(rng), area, name, icd10, plan.ago(rng, 300, 900)))
        return Domain(areas, tuple(products), tuple(diseases))
