"""Rows of L7, value: the value drivers, AI opportunities, reference opportunities and value
metrics."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator

from orchestration.tools.demo_data.catalogue import (
    HOURS_SAVED_BY_FREQUENCY,
    METRIC_STEMS,
    OPPORTUNITY_STATUSES,
    OPPORTUNITY_TOOLS,
    PRIORITIES,
    VALUE_DRIVERS,
)
from orchestration.tools.demo_data.draws import hundredths, new_uuid, spread
from orchestration.tools.demo_data.profiles import REF_OPPORTUNITY_SHARE
from orchestration.tools.demo_data.projection import Row
from orchestration.tools.demo_data.world import DemoPlan


def driver_rows(plan: DemoPlan) -> Iterator[Row]:
    for driver_id, driver in zip(plan.drivers, VALUE_DRIVERS, strict=True):
        yield (driver_id, driver.code, driver.name, driver.category, driver.description)


def ai_opportunity_rows(plan: DemoPlan) -> Iterator[Row]:
    """The tenant's AI opportunities spread over its jobs, each job's from different tools."""
    for world in plan.worlds():
        rng = world.rng("ai_opportunities")
        jobs = world.jobs
        counts = spread(rng, world.profile.ai_opportunities, len(jobs))
        for job, count in zip(jobs, counts, strict=True):
            for tool in rng.sample(OPPORTUNITY_TOOLS, count):
                hours = rng.uniform(*HOURS_SAVED_BY_FREQUENCY[job.frequency])
                created = plan.ago(rng, 5, 400)
                yield (
                    new_uuid(rng),
                    world.tenant.id,
                    job.id,
                    f"{tool} to {job.phrase}",
                    hundredths(rng.randint(10, 95)),
                    rng.choices(OPPORTUNITY_STATUSES, weights=(25, 20, 15, 15, 15, 10))[0],
                    rng.choices(PRIORITIES, weights=(20, 40, 30, 10))[0],
                    f"{hours:.1f}",
                    f"{hours * rng.uniform(85.0, 180.0):.2f}",
                    created,
                    plan.after(rng, created),
                )


def ref_opportunity_rows(plan: DemoPlan) -> Iterator[Row]:
    for world in plan.worlds():
        rng = world.rng("ref_opportunities")
        jobs = world.jobs
        wanted = round(len(jobs) * REF_OPPORTUNITY_SHARE)
        for index in sorted(rng.sample(range(len(jobs)), wanted)):
            job = jobs[index]
            driver = rng.randrange(len(VALUE_DRIVERS))
            yield (
                new_uuid(rng),
                world.tenant.id,
                job.id,
                plan.drivers[driver],
                f"{VALUE_DRIVERS[driver].name}: {job.name}",
                1,
                plan.after(rng, job.created_at),
            )


def _metric_values(rng: random.Random, category: str, unit: str) -> tuple[float, float, float]:
    """Baseline, target and actual of a metric: time, cost and risk come down, the rest go up."""
    if category == "time":
        baseline = rng.uniform(4, 400)
        target = baseline * rng.uniform(0.4, 0.85)
    elif category == "cost":
        baseline = rng.uniform(5_000, 2_000_000)
        target = baseline * rng.uniform(0.6, 0.9)
    elif unit == "percent":
        baseline = rng.uniform(60, 92)
        target = min(99.9, baseline + rng.uniform(2, 12))
    elif category == "risk":
        baseline = rng.uniform(30, 90)
        target = baseline * rng.uniform(0.5, 0.85)
    else:
        baseline = rng.uniform(10, 60)
        target = baseline + rng.uniform(5, 30)
    actual = baseline + (target - baseline) * rng.uniform(0.2, 1.2)
    return baseline, target, actual


def value_metric_rows(plan: DemoPlan) -> Iterator[Row]:
    """Metrics of a workflow (60%) or of a job, in the unit of a stem of their driver's
    category."""
    for world in plan.worlds():
        rng = world.rng("value_metrics")
        jobs = world.jobs
        workflows = world.workflows
        for _ in range(world.profile.value_metrics):
            if rng.random() < 0.6:
                workflow = rng.choice(workflows)
                job = workflow.job
                workflow_id: str | None = workflow.id
            else:
                job = rng.choice(jobs)
                workflow_id = None
            driver = rng.randrange(len(VALUE_DRIVERS))
            category = VALUE_DRIVERS[driver].category
            stem, unit = rng.choice(METRIC_STEMS[category])
            baseline, target, actual = _metric_values(rng, category, unit)
            measured = plan.ago(rng, 0, 365)
            yield (
                new_uuid(rng),
                world.tenant.id,
                job.id,
                workflow_id,
                plan.drivers[driver],
                f"{stem} - {job.code}",
                category,
                unit,
                f"{baseline:.2f}",
                f"{target:.2f}",
                f"{actual:.2f}" if rng.random() < 0.75 else None,
                measured,
                measured - dt.timedelta(days=rng.randint(0, 60)),
            )
