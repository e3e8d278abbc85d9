"""The monthly archiving job of the professional tier (``lib.archive`` does the work)."""

import datetime as dt
from collections.abc import Sequence

from dagster import (
    Config,
    DefaultScheduleStatus,
    MetadataValue,
    OpExecutionContext,
    ScheduleDefinition,
    job,
    op,
)
from pydantic import Field

from orchestration.defs.resources import WarehouseResource
from orchestration.defs.translator import TIER_TAG
from orchestration.lib.archive import ARCHIVE, archive_professional_data
from orchestration.lib.manifest import tier_name

ARCHIVE_CRON = "0 2 1 * *"
ARCHIVE_JOB_DESCRIPTION = (
    "Archive professional-tier evaluations: soft-deleted professional and enterprise evaluations"
    " older than two years move to the archive table, and audit rows older than two years are"
    " deleted, in one reconciled transaction."
)


class ArchiveConfig(Config):
    reference_time: str | None = Field(
        default=None,
        description="ISO timestamp that 'two years ago' is measured from (default: now, UTC).",
    )


@op(
    description=(
        "Move soft-deleted professional/enterprise evaluations older than two years to"
        f" {ARCHIVE} and delete audit rows older than two years, in one reconciled transaction."
    ),
    tags={"kind": "postgres"},
)
def archive_professional_data_op(
    context: OpExecutionContext, config: ArchiveConfig, warehouse: WarehouseResource
) -> None:
    reference = dt.datetime.fromisoformat(config.reference_time) if config.reference_time else None
    result = archive_professional_data(
        warehouse.settings(), schema=warehouse.source(), reference_time=reference
    )
    context.log.info(
        f"archived {result.archived} evaluations, deleted {result.audit_deleted} audit rows"
        f" (cutoff {result.cutoff.isoformat()})"
    )
    context.add_output_metadata(
        {
            "archived": MetadataValue.int(result.archived),
            "audit_deleted": MetadataValue.int(result.audit_deleted),
            "cutoff": MetadataValue.timestamp(result.cutoff),
            "evaluations_before": MetadataValue.int(result.before.evaluations),
            "evaluations_after": MetadataValue.int(result.after.evaluations),
            "archive_before": MetadataValue.int(result.before.archive),
            "archive_after": MetadataValue.int(result.after.archive),
            "audit_before": MetadataValue.int(result.before.audit),
            "audit_after": MetadataValue.int(result.after.audit),
        }
    )


ARCHIVE_TIER = tier_name(ARCHIVE_CRON)


@job(
    name="archive_professional_data",
    description=ARCHIVE_JOB_DESCRIPTION,
    tags={TIER_TAG: ARCHIVE_TIER},
)
def archive_professional_data_job() -> None:
    archive_professional_data_op()


def archive_schedules() -> Sequence[ScheduleDefinition]:
    """The monthly archiving schedule: 02:00 UTC on the first of the month."""
    return [
        ScheduleDefinition(
            name="archive_professional_data_monthly",
            cron_schedule=ARCHIVE_CRON,
            job=archive_professional_data_job,
            execution_timezone="UTC",
            default_status=DefaultScheduleStatus.RUNNING,
            description="Archive professional-tier evaluations on the first of each month.",
        )
    ]
