"""Rows of L4-L5, jobs to be done and what is known of them: the jobs, the roles that do them,
their strategic pillars, outcomes, per-persona ODI scores and AI suitability."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from orchestration.tools.demo_data.catalogue import (
    ARCHETYPE_TRAITS,
    OUTCOME_TEMPLATES,
    SERVICE_LAYER_WEIGHTS,
    SERVICE_LAYERS,
    SUITABILITY_BY_FREQUENCY,
)
from orchestration.tools.demo_data.draws import clamp, hundredths, new_uuid, odi_opportunity
from orchestration.tools.demo_data.entities import Job
from orchestration.tools.demo_data.projection import Row, entity_rows
from orchestration.tools.demo_data.world import DemoPlan

job_rows = entity_rows("jtbd", lambda world: world.jobs, job_statement="statement")


def job_role_rows(plan: DemoPlan) -> Iterator[Row]:
    """A persona's role does every job of its tenant (the heatmap's pairs); any other role does
    3-8 jobs, mostly of its own function."""
    for world in plan.worlds():
        rng = world.rng("jtbd_roles")
        rand = rng.random
        tenant_id = world.tenant.id
        jobs = world.jobs
        persona_roles = {persona.role.index for persona in world.personas}
        for role in world.roles:
            if role.index in persona_roles:
                for job in jobs:
                    own = job.function_index == role.function_index
                    share = hundredths(rng.randint(50, 250)) if own else None
                    created = max(job.created_at, role.created_at)
                    yield (
                        new_uuid(rng),
                        tenant_id,
                        job.id,
                        role.id,
                        own and rand() < 0.25,
                        share,
                        created,
                    )
                continue
            own_jobs = world.jobs_by_function[role.function_index]
            wanted = min(rng.randint(3, 8), len(jobs))
            picked: list[Job] = []
            seen: set[int] = set()
            while len(picked) < wanted:
                job = rng.choice(own_jobs) if rand() < 0.8 else rng.choice(jobs)
                if job.index not in seen:
                    seen.add(job.index)
                    picked.append(job)
            weights = [rng.uniform(1.0, 5.0) for _ in picked]
            total = sum(weights) / rng.uniform(60.0, 95.0)
            for rank, (job, weight) in enumerate(zip(picked, weights, strict=True)):
                created = max(job.created_at, role.created_at)
                share = hundredths(int(weight / total * 100))
                yield (new_uuid(rng), tenant_id, job.id, role.id, rank == 0, share, created)


def pillar_mapping_rows(plan: DemoPlan) -> Iterator[Row]:
    for world in plan.worlds():
        rng = world.rng("jtbd_category_mappings")
        for job in world.jobs:
            for pillar, weight in job.pillars:
                yield (new_uuid(rng), job.id, plan.pillars[pillar], weight, job.created_at)


def outcome_rows(plan: DemoPlan) -> Iterator[Row]:
    for world in plan.worlds():
        rng = world.rng("jtbd_outcomes")
        for job in world.jobs:
            for template in rng.sample(OUTCOME_TEMPLATES, rng.randint(2, 4)):
                importance = clamp(job.importance + int(rng.gauss(0, 80)))
                satisfaction = clamp(job.satisfaction + int(rng.gauss(0, 80)))
                opportunity, _ = odi_opportunity(importance, satisfaction)
                yield (
                    new_uuid(rng),
                    job.id,
                    template.format(job=job.phrase),
                    hundredths(importance),
                    hundredths(satisfaction),
                    hundredths(opportunity),
                    job.created_at,
                )


def odi_score_rows(plan: DemoPlan) -> Iterator[Row]:
    """Every persona scores every job of its tenant, leaning by its archetype and higher on the
    jobs of its own function."""
    anchor = plan.anchor
    timedelta = dt.timedelta
    for world in plan.worlds():
        rng = world.rng("jtbd_odi_scores")
        gauss = rng.gauss
        randint = rng.randint
        tenant_id = world.tenant.id
        jobs = world.jobs
        for persona in world.personas:
            traits = ARCHETYPE_TRAITS[persona.archetype]
            function_index = persona.role.function_index
            for job in jobs:
                own_bonus = 60 if job.function_index == function_index else 0
                importance = clamp(
                    job.importance + traits.importance_bias + own_bonus + int(gauss(0, 60))
                )
                satisfaction = clamp(
                    job.satisfaction + traits.satisfaction_bias + int(gauss(0, 60))
                )
                opportunity, classification = odi_opportunity(importance, satisfaction)
                yield (
                    new_uuid(rng),
                    tenant_id,
                    job.id,
                    persona.id,
                    hundredths(importance),
                    hundredths(satisfaction),
                    hundredths(opportunity),
                    classification,
                    randint(3, 60),
                    anchor - timedelta(seconds=randint(86400, 180 * 86400)),
                )


def suitability_rows(plan: DemoPlan) -> Iterator[Row]:
    for world in plan.worlds():
        rng = world.rng("jtbd_ai_suitability")
        for job in world.jobs:
            base = SUITABILITY_BY_FREQUENCY[job.frequency]
            overall = clamp(base + int(rng.gauss(0, 15)), 5, 98)
            layer = rng.choices(SERVICE_LAYERS, weights=SERVICE_LAYER_WEIGHTS[job.complexity])[0]
            yield (
                new_uuid(rng),
                job.id,
                hundredths(overall),
                hundredths(rng.randint(20, 95)),
                hundredths(rng.randint(5, 80)),
                layer,
                plan.ago(rng, 1, 120),
            )
