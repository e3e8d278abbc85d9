"""Rows of the users and their saved preferences (the filters the Value View remembers)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

from orchestration.tools.demo_data.catalogue import (
    ARCHETYPES,
    COMPLEXITIES,
    DEFAULT_VIEWS,
    FIRST_NAMES,
    FREQUENCIES,
    LAST_NAMES,
    MIN_OPPORTUNITY_SCORES,
    PILLARS,
    SERVICE_LAYERS,
)
from orchestration.tools.demo_data.draws import new_uuid
from orchestration.tools.demo_data.entities import User
from orchestration.tools.demo_data.projection import Row
from orchestration.tools.demo_data.world import DemoPlan, TenantWorld


def user_rows(plan: DemoPlan) -> Iterator[Row]:
    for world in plan.worlds():
        rng = world.rng("user_rows")
        for number, user in enumerate(world.users, start=1):
            first = rng.choice(FIRST_NAMES)
            last = rng.choice(LAST_NAMES)
            email = f"{first}.{last}.{number:04d}@{world.tenant.slug}.example.com".lower()
            created = plan.ago(rng, 30, 900)
            yield (
                user.id,
                world.tenant.id,
                email,
                f"{first} {last}",
                user.role.id if user.role else None,
                user.persona.id if user.persona else None,
                created,
                plan.ago(rng, 0, 30) if rng.random() < 0.85 else None,
            )


def _saved_filters(rng: random.Random, world: TenantWorld, user: User) -> dict[str, Any]:
    """A user's saved heatmap filters, narrowed to their own function or persona at times."""
    filters: dict[str, Any] = {"tenant_id": world.tenant.id}
    if user.role is not None and rng.random() < 0.5:
        function = world.functions[user.role.function_index]
        filters["industry_id"] = function.parent.id
        filters["function_id"] = function.id
        if rng.random() < 0.5:
            filters["department_id"] = user.role.department_id
    if user.persona is not None and rng.random() < 0.3:
        filters["persona_id"] = user.persona.id
    if rng.random() < 0.6:
        filters["archetype"] = (
            user.persona.archetype if user.persona is not None else rng.choice(ARCHETYPES)
        )
    filters["complexity"] = sorted(rng.sample(COMPLEXITIES, rng.randint(1, 3)))
    if rng.random() < 0.5:
        filters["frequency"] = sorted(rng.sample(FREQUENCIES, rng.randint(1, 3)))
    filters["min_opportunity_score"] = rng.choice(MIN_OPPORTUNITY_SCORES)
    filters["strategic_pillars"] = sorted(
        rng.sample([pillar.code for pillar in PILLARS], rng.randint(1, 3))
    )
    if rng.random() < 0.4:
        filters["service_layers"] = sorted(rng.sample(SERVICE_LAYERS, rng.randint(1, 2)))
    return filters


def preference_rows(plan: DemoPlan) -> Iterator[Row]:
    for world in plan.worlds():
        rng = world.rng("user_preferences")
        for user in world.users:
            yield (
                new_uuid(rng),
                user.id,
                json.dumps(_saved_filters(rng, world, user), separators=(",", ":")),
                rng.choices(DEFAULT_VIEWS, weights=(40, 20, 15, 10, 15))[0],
                plan.ago(rng, 0, 120),
            )
