"""A tenant's jobs to be done (with their ODI scores and strategic pillars) and the workflows that
carry them out, drawn once per tenant and shared by the tables that refer to them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestration.tools.demo_data.catalogue import (
    AUTOMATION_LEVELS,
    COMPLEXITIES,
    FREQUENCIES,
    JOB_ACTIONS,
    JOB_BENEFITS,
    JOB_SITUATIONS,
    JOB_STATUSES,
    PILLARS,
    STAGE_NAMES,
    WORKFLOW_STATUSES,
    WORKFLOW_VARIANTS,
)
from orchestration.tools.demo_data.draws import new_uuid, spread
from orchestration.tools.demo_data.entities import Job, Stage, Workflow

if TYPE_CHECKING:
    import random

    from orchestration.tools.demo_data.world import TenantWorld

PILLAR_INDEX = {pillar.code: index for index, pillar in enumerate(PILLARS)}


def _scores(rng: random.Random) -> tuple[float, float]:
    """A job's importance and satisfaction (0-10): highly underserved, underserved, fairly served
    or overserved, in proportions that give the heatmap every classification."""
    profile = rng.choices(("high", "under", "fair", "over"), weights=(22, 30, 28, 20))[0]
    if profile == "high":
        return rng.uniform(8.6, 9.8), rng.uniform(0.8, 2.8)
    if profile == "under":
        return rng.uniform(6.8, 8.6), rng.uniform(2.5, 4.5)
    if profile == "fair":
        importance = rng.uniform(4.0, 7.0)
        return importance, importance - rng.uniform(0.0, 1.5)
    importance = rng.uniform(2.5, 6.0)
    return importance, min(9.8, importance + rng.uniform(1.0, 3.5))


def _pillars(
    rng: random.Random, first_pillars: tuple[str, ...], forced: int | None
) -> tuple[tuple[int, str], ...]:
    """A job's pillars (indexes into PILLARS) with their alignment weights, the first one among
    its function's; ``forced`` is a pillar the job must carry."""
    pillars = [PILLAR_INDEX[rng.choice(first_pillars)]]
    for _ in range(rng.choices((0, 1, 2), weights=(35, 45, 20))[0]):
        extra = rng.randrange(len(PILLARS))
        if extra not in pillars:
            pillars.append(extra)
    if forced is not None and forced not in pillars:
        if len(pillars) == 3:
            pillars[-1] = forced
        else:
            pillars.append(forced)
    return tuple(
        (pillar, f"{rng.uniform(0.8, 1.0) if rank == 0 else rng.uniform(0.3, 0.8):.2f}")
        for rank, pillar in enumerate(pillars)
    )


def draw_jobs(world: TenantWorld) -> list[Job]:
    """The tenant's jobs, spread over its functions, a few of them soft-deleted."""
    rng = world.rng("jobs")
    plan = world.plan
    profile = world.profile
    drafts: list[tuple[int, str, str]] = []
    per_function = spread(rng, profile.jobs, len(profile.functions))
    for function_index, (spec, wanted) in enumerate(
        zip(profile.functions, per_function, strict=True)
    ):
        combos = [(action, obj) for obj in spec.objects for action in JOB_ACTIONS]
        drafts.extend((function_index, *combo) for combo in rng.sample(combos, wanted))
    rng.shuffle(drafts)
    deleted = set(rng.sample(range(len(drafts)), profile.deleted_jobs))
    jobs = []
    for index, (function_index, action, obj) in enumerate(drafts):
        importance, satisfaction = _scores(rng)
        # The first tenant's first seven jobs carry SP01..SP07, so every pillar is used.
        forced = index if world.tenant.index == 0 and index < len(PILLARS) else None
        pillars = _pillars(rng, profile.functions[function_index].pillars, forced)
        created = plan.ago(rng, 30, 730)
        updated = plan.after(rng, created)
        job_id = new_uuid(rng)
        jobs.append(
            Job(
                id=job_id,
                index=index,
                code=f"JTBD-{index + 1:04d}",
                action=action,
                object=obj,
                function_index=function_index,
                statement=(
                    f"When {rng.choice(JOB_SITUATIONS)}, I want to {action.lower()} {obj}, "
                    f"so that {rng.choice(JOB_BENEFITS)}."
                ),
                complexity=rng.choices(COMPLEXITIES, weights=(25, 35, 28, 12))[0],
                frequency=rng.choices(FREQUENCIES, weights=(20, 30, 25, 15, 10))[0],
                status=rng.choices(JOB_STATUSES, weights=(86, 9, 5))[0],
                importance=round(importance * 100),
                satisfaction=round(satisfaction * 100),
                pillars=pillars,
                created_at=created,
                updated_at=updated,
                deleted_at=plan.after(rng, updated) if index in deleted else None,
            )
        )
    return jobs


def draw_workflows(world: TenantWorld) -> list[Workflow]:
    """The tenant's workflows, each for one job (every job at most once while jobs last), with
    their stages; a few soft-deleted."""
    rng = world.rng("workflows")
    plan = world.plan
    jobs = world.jobs
    wanted = world.profile.workflows
    picks = rng.sample(jobs, min(wanted, len(jobs)))
    picks += [rng.choice(jobs) for _ in range(wanted - len(picks))]
    deleted = set(rng.sample(range(wanted), round(wanted * 0.02)))
    workflows = []
    for index, job in enumerate(picks):
        names = sorted(rng.sample(range(len(STAGE_NAMES)), rng.randint(3, 6)))
        stages = tuple(
            Stage(new_uuid(rng), number, STAGE_NAMES[name], rng.randint(50, 4000))
            for number, name in enumerate(names, start=1)
        )
        created = plan.after(rng, job.created_at)
        updated = plan.after(rng, created)
        workflows.append(
            Workflow(
                id=new_uuid(rng),
                job=job,
                name=f"{job.name}: {rng.choice(WORKFLOW_VARIANTS)}",
                status=rng.choices(WORKFLOW_STATUSES, weights=(70, 20, 10))[0],
                automation_level=rng.choices(AUTOMATION_LEVELS, weights=(20, 35, 30, 15))[0],
                stages=stages,
                created_at=created,
                updated_at=updated,
                deleted_at=plan.after(rng, updated) if index in deleted else None,
            )
        )
    return workflows
