"""The maintained relations behind the real-time views (materialized views, and tables merged on
their key): a sensor that looks at the tables they are built from every
``SENSOR_INTERVAL_SECONDS`` and, when any was written since its last look, starts a job that
refreshes them without blocking their readers (``lib.maintained``).

The staleness bound a model states (``meta.maintained.staleness_bound_seconds``) covers the
sensor's interval, the writer's statistics delay (about 10 s), the run's start and the refresh;
``check_bounds`` refuses a bound that leaves less than the interval plus that delay.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from dagster import (
    DefaultSensorStatus,
    JobDefinition,
    MetadataValue,
    OpExecutionContext,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SkipReason,
    job,
    op,
    sensor,
)

from orchestration.defs.resources import WarehouseResource
from orchestration.lib import maintained as lib

SENSOR_NAME = "maintained_relations_sensor"
JOB_NAME = "refresh_maintained_relations"
SENSOR_INTERVAL_SECONDS = 30
STATISTICS_DELAY_SECONDS = 10
MAINTAINED_TAG = "value_view/maintained"


def check_bounds(relations: Sequence[lib.Maintained]) -> None:
    """Refuse a stated bound the sensor cannot keep (one line naming the model)."""
    floor = SENSOR_INTERVAL_SECONDS + STATISTICS_DELAY_SECONDS
    for relation in relations:
        if relation.staleness_bound_seconds <= floor:
            raise lib.MaintainedError(
                f"{relation.unique_id}: meta.maintained.staleness_bound_seconds"
                f" = {relation.staleness_bound_seconds} must exceed {floor} (the sensor's"
                f" {SENSOR_INTERVAL_SECONDS} s interval plus {STATISTICS_DELAY_SECONDS} s of"
                " statistics delay)"
            )


def build_maintained(
    manifest: Mapping[str, Any],
) -> tuple[list[JobDefinition], list[SensorDefinition]]:
    """The refresh job and its sensor, or nothing when no model is maintained."""
    relations = lib.maintained_relations(manifest)
    if not relations:
        return [], []
    check_bounds(relations)
    tables = lib.watched_tables(relations)
    names = ", ".join(relation.qualified for relation in relations)

    @op(
        name="refresh_maintained_op",
        description=f"Refresh, never blocking readers: {names}.",
        tags={"kind": "postgres"},
    )
    def refresh_maintained_op(context: OpExecutionContext, warehouse: WarehouseResource) -> None:
        done = lib.refresh(warehouse.settings(), relations)
        for item in done:
            context.log.info(f"refreshed {item.relation} in {item.seconds:.2f} s")
        context.add_output_metadata(
            {item.relation: MetadataValue.float(round(item.seconds, 3)) for item in done}
        )

    @job(
        name=JOB_NAME,
        description=(
            f"Refresh the maintained relations behind the real-time views ({names}) without"
            f" blocking readers; started by {SENSOR_NAME} when a table they are built from"
            " changes."
        ),
        tags={MAINTAINED_TAG: "refresh"},
    )
    def refresh_maintained_job() -> None:
        refresh_maintained_op()

    @sensor(
        name=SENSOR_NAME,
        job=refresh_maintained_job,
        minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
        default_status=DefaultSensorStatus.RUNNING,
        description=(
            f"Every {SENSOR_INTERVAL_SECONDS} s, read the write counters of the"
            f" {len(tables)} tables the maintained views are built from; when they moved, refresh"
            " the views."
        ),
    )
    def maintained_relations_sensor(context: SensorEvaluationContext, warehouse: WarehouseResource):
        marker = lib.change_marker(warehouse.settings(), tables)
        if marker == context.cursor:
            return SkipReason("no table the maintained views are built from changed")
        context.update_cursor(marker)
        return RunRequest(run_key=marker, tags={MAINTAINED_TAG: "refresh"})

    return [refresh_maintained_job], [maintained_relations_sensor]
