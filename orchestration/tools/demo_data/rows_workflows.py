"""Rows of L6, workflows: the templates, their stages and the stages' tasks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from orchestration.tools.demo_data.catalogue import AUTOMATABLE_SHARE, TASK_NAMES
from orchestration.tools.demo_data.draws import hundredths, new_uuid
from orchestration.tools.demo_data.projection import Row, entity_rows
from orchestration.tools.demo_data.world import DemoPlan

if TYPE_CHECKING:
    from orchestration.tools.demo_data.world import TenantWorld

workflow_rows = entity_rows(
    "workflow_templates",
    lambda world: world.workflows,
    jtbd_id="job.id",
    estimated_duration_hours="duration",
)


def stage_rows(plan: DemoPlan) -> Iterator[Row]:
    for world in plan.worlds():
        for workflow in world.workflows:
            for stage in workflow.stages:
                yield (
                    stage.id,
                    workflow.id,
                    stage.number,
                    stage.name,
                    hundredths(stage.hours),
                    workflow.created_at,
                )


def world_task_rows(world: TenantWorld) -> Iterator[Row]:
    """A tenant's tasks: 2-5 a stage, most assigned to a role of the job's function; the more
    automated the workflow, the more of its tasks can be automated. The same tenant gives the same
    rows on every call (the role workload's time shares read them too)."""
    rng = world.rng("workflow_tasks")
    for workflow in world.workflows:
        roles = world.roles_by_function[workflow.job.function_index]
        share = AUTOMATABLE_SHARE[workflow.automation_level]
        for stage in workflow.stages:
            for number, name in enumerate(rng.sample(TASK_NAMES, rng.randint(2, 5)), start=1):
                role = rng.choice(roles) if rng.random() < 0.85 else None
                yield (
                    new_uuid(rng),
                    stage.id,
                    number,
                    name,
                    role.id if role else None,
                    rng.randint(10, 480),
                    rng.random() < share,
                    workflow.created_at,
                )


def task_rows(plan: DemoPlan) -> Iterator[Row]:
    for world in plan.worlds():
        yield from world_task_rows(world)
