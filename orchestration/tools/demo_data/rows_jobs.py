"""Rows of L4-L5, jobs to be done and what is known of them: the jobs, the roles that do them,
their strategic pillars, outcomes, per-persona ODI scores and AI suitability."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import TYPE_CHECKING

from orchestration.tools.demo_data.catalogue import (
    ARCHETYPE_TRAITS,
    FULL_TIME_HOURS,
    OUTCOME_TEMPLATES,
    RUNS_PER_YEAR,
    SERVICE_LAYER_WEIGHTS,
    SERVICE_LAYERS,
    SUITABILITY_BY_FREQUENCY,
    UTILISATION_RANGE,
)
from orchestration.tools.demo_data.draws import clamp, hundredths, new_uuid, odi_opportunity
from orchestration.tools.demo_data.entities import Job, Role
from orchestration.tools.demo_data.projection import Row, entity_rows
from orchestration.tools.demo_data.rows_workflows import world_task_rows
from orchestration.tools.demo_data.world import DemoPlan

if TYPE_CHECKING:
    import random

    from orchestration.tools.demo_data.world import TenantWorld

job_rows = entity_rows("jtbd", lambda world: world.jobs, job_statement="statement")

# Hours of a run per live job index, and of a role's tasks in a run per (role id, job index).
RunHours = tuple[dict[int, float], dict[tuple[str, int], float]]


def _run_hours(world: TenantWorld) -> RunHours:
    """Hours of one run of each live job with live workflows (the average duration of its
    workflows), and of a role's part of a run where the job's workflows assign it tasks (its
    tasks' hours over the job's workflows), as the role workload mart counts them."""
    durations: dict[int, list[float]] = {}
    stage_jobs: dict[str, int] = {}
    for workflow in world.workflows:
        if workflow.deleted_at is None and workflow.job.deleted_at is None:
            durations.setdefault(workflow.job.index, []).append(
                sum(stage.hours for stage in workflow.stages) / 100
            )
            stage_jobs.update((stage.id, workflow.job.index) for stage in workflow.stages)
    task_minutes: dict[tuple[str, int], int] = {}
    for task in world_task_rows(world):
        stage_id, role_id, minutes = task[1], task[4], task[5]
        if role_id and stage_id in stage_jobs:
            key = (role_id, stage_jobs[stage_id])
            task_minutes[key] = task_minutes.get(key, 0) + minutes
    job_hours = {index: sum(hours) / len(hours) for index, hours in durations.items()}
    role_hours = {
        (role_id, index): minutes / 60 / len(durations[index])
        for (role_id, index), minutes in task_minutes.items()
    }
    return job_hours, role_hours


def _yearly_hours(role: Role, job: Job, run_hours: RunHours) -> float:
    """Hours a year the role would spend on the job if it did all of its runs."""
    job_hours, role_hours = run_hours
    per_run = role_hours.get((role.id, job.index), job_hours.get(job.index, 0.0))
    return RUNS_PER_YEAR[job.frequency] * per_run


def _shares(
    rng: random.Random, role: Role, jobs: list[Job], run_hours: RunHours, target: float
) -> dict[int, int]:
    """The role's share of each job (hundredths of a percent), drawn so that its jobs fill
    ``target`` hours a year: the hours are spread over the jobs by random weights, a job's share
    is capped at 100% and what a capped job cannot take goes to the others."""
    yearly = {job.index: _yearly_hours(role, job, run_hours) for job in jobs}
    weights = {job.index: rng.uniform(1.0, 5.0) for job in jobs}
    shares = dict.fromkeys(weights, 0.0)
    open_jobs = {index for index in weights if yearly[index] > 0}
    while target > 1 and open_jobs:
        total = sum(weights[index] for index in open_jobs)
        left = 0.0
        for index in sorted(open_jobs):
            wanted = shares[index] + target * weights[index] / total / yearly[index]
            shares[index] = min(wanted, 1.0)
            left += (wanted - shares[index]) * yearly[index]
        open_jobs = {index for index in open_jobs if shares[index] < 1.0}
        target = left
    return {
        index: max(1, round(share * 10000)) if share else rng.randint(100, 2000)
        for index, share in shares.items()
    }


def job_role_rows(plan: DemoPlan) -> Iterator[Row]:
    """A persona's role does every job of its tenant (the heatmap's pairs), with a share of the
    jobs of its own function only; any other role does 3-8 jobs (up to 12 when those cannot fill
    its year), mostly of its own function. The shares are drawn so that most roles carry 0.3-1.2
    of a full-time year per head."""
    for world in plan.worlds():
        rng = world.rng("jtbd_roles")
        rand = rng.random
        tenant_id = world.tenant.id
        jobs = world.jobs
        run_hours = _run_hours(world)
        persona_roles = {persona.role.index for persona in world.personas}
        for role in world.roles:
            if role.index in persona_roles:
                own_jobs = [job for job in jobs if job.function_index == role.function_index]
                target = rng.uniform(*UTILISATION_RANGE) * FULL_TIME_HOURS * role.headcount
                shares = _shares(rng, role, own_jobs, run_hours, target)
                for job in jobs:
                    own = job.index in shares
                    share = hundredths(shares[job.index]) if own else None
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
            target = rng.uniform(*UTILISATION_RANGE) * FULL_TIME_HOURS * role.headcount
            capacity = 0.0
            # 3-8 jobs, more (up to 12) while those cannot fill the role's year
            while len(picked) < wanted or (capacity < target and len(picked) < 12):
                job = rng.choice(own_jobs) if rand() < 0.8 else rng.choice(jobs)
                if job.index not in seen:
                    seen.add(job.index)
                    picked.append(job)
                    capacity += _yearly_hours(role, job, run_hours)
            shares = _shares(rng, role, picked, run_hours, target)
            for rank, job in enumerate(picked):
                created = max(job.created_at, role.created_at)
                share = hundredths(shares[job.index])
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
