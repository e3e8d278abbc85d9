"""Monthly archiving: rows move without loss, counts reconcile, a second run changes nothing, and
a move that cannot complete rolls back whole. Runs on demo data in its own schema."""

from __future__ import annotations

import datetime as dt

import pytest
from psycopg import sql

from orchestration.defs import archive as archive_job
from orchestration.defs.resources import WarehouseResource
from orchestration.lib import archive, database
from orchestration.tools import demo_data

pytestmark = pytest.mark.slow

SCHEMA = "vital_archive_test"
AS_OF = dt.date(2025, 9, 17)
# One year after the demo's anchor date, so evaluations older than a year at load time are
# "more than two years old" for the archive.
REFERENCE = dt.datetime(2026, 9, 17, 12, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def source(warehouse) -> database.ConnectionSettings:
    demo_data.load_demo_data(
        warehouse, scale=1, seed=7, schema=SCHEMA, reset=True, as_of=AS_OF, progress=False
    )
    return warehouse


def _scalar(settings: database.ConnectionSettings, query: str, *params) -> int:
    with database.connect(settings) as conn:
        return int(
            conn.execute(sql.SQL(query).format(schema=sql.Identifier(SCHEMA)), params).fetchone()[0]
        )


def _ids(settings: database.ConnectionSettings, query: str, *params) -> set[str]:
    with database.connect(settings) as conn:
        rows = conn.execute(sql.SQL(query).format(schema=sql.Identifier(SCHEMA)), params)
        return {str(row[0]) for row in rows}


ELIGIBLE = (
    "select id from {schema}.business_evaluations where deleted_at is not null"
    " and created_at < %s::timestamptz - interval '2 years'"
    " and subscription_tier in ('professional', 'enterprise')"
)


def test_archive_moves_rows_without_loss_and_is_idempotent(source) -> None:
    total = _scalar(source, "select count(*) from {schema}.business_evaluations")
    eligible = _ids(source, ELIGIBLE, REFERENCE)
    expired_audit = _scalar(
        source,
        'select count(*) from {schema}.professional_data_audit where "timestamp"'
        " < %s::timestamptz - interval '2 years'",
        REFERENCE,
    )
    audit_total = _scalar(source, "select count(*) from {schema}.professional_data_audit")
    assert eligible, "the demo data holds no evaluation old enough to archive"
    assert expired_audit > 0

    first = archive.archive_professional_data(source, schema=SCHEMA, reference_time=REFERENCE)
    assert first.archived == len(eligible)
    assert first.audit_deleted == expired_audit
    assert first.before.evaluations + first.before.archive == total
    assert first.after.evaluations + first.after.archive == total
    archived_ids = _ids(source, "select id from {schema}.business_evaluations_archive")
    assert archived_ids == eligible
    assert not (_ids(source, "select id from {schema}.business_evaluations") & eligible)
    assert (
        _scalar(source, "select count(*) from {schema}.professional_data_audit")
        == audit_total - expired_audit
    )

    second = archive.archive_professional_data(source, schema=SCHEMA, reference_time=REFERENCE)
    assert (second.archived, second.audit_deleted) == (0, 0)
    assert second.before == second.after == first.after
    print(
        f"\narchived {first.archived} of {total} evaluations, deleted {first.audit_deleted}"
        f" of {audit_total} audit rows; second run moved {second.archived}"
    )


def test_archive_rolls_back_when_a_row_cannot_move(source) -> None:
    later = REFERENCE + dt.timedelta(days=400)
    eligible = _ids(source, ELIGIBLE, later)
    assert eligible, "no evaluation becomes eligible a year later"
    clash = sorted(eligible)[0]
    with database.connect(source) as conn:
        conn.execute(
            sql.SQL(
                "insert into {schema}.business_evaluations_archive"
                " select * from {schema}.business_evaluations where id = %s"
            ).format(schema=sql.Identifier(SCHEMA)),
            (clash,),
        )
    before_source = _scalar(source, "select count(*) from {schema}.business_evaluations")
    before_archive = _scalar(source, "select count(*) from {schema}.business_evaluations_archive")
    before_audit = _scalar(source, "select count(*) from {schema}.professional_data_audit")
    with pytest.raises(Exception, match="duplicate key"):
        archive.archive_professional_data(source, schema=SCHEMA, reference_time=later)
    assert _scalar(source, "select count(*) from {schema}.business_evaluations") == before_source
    assert (
        _scalar(source, "select count(*) from {schema}.business_evaluations_archive")
        == before_archive
    )
    assert _scalar(source, "select count(*) from {schema}.professional_data_audit") == before_audit
    with database.connect(source) as conn:
        conn.execute(
            sql.SQL("delete from {schema}.business_evaluations_archive where id = %s").format(
                schema=sql.Identifier(SCHEMA)
            ),
            (clash,),
        )


def test_reconcile_rejects_counts_that_do_not_add_up() -> None:
    before = archive.TableCounts(evaluations=100, eligible=5, archive=10, audit=50, audit_expired=3)
    good = archive.TableCounts(evaluations=95, eligible=0, archive=15, audit=47, audit_expired=0)
    archive.reconcile(before, good, archived=5, audit_deleted=3)
    lost = archive.TableCounts(evaluations=95, eligible=0, archive=14, audit=47, audit_expired=0)
    with pytest.raises(archive.ArchiveReconciliationError, match="do not reconcile"):
        archive.reconcile(before, lost, archived=5, audit_deleted=3)


def test_archive_job_runs_in_dagster(source) -> None:
    later = REFERENCE + dt.timedelta(days=800)
    result = archive_job.archive_professional_data_job.execute_in_process(
        run_config={
            "ops": {
                "archive_professional_data_op": {"config": {"reference_time": later.isoformat()}}
            }
        },
        resources={"warehouse": WarehouseResource(database_url=source.url, source_schema=SCHEMA)},
    )
    assert result.success
    (event,) = [
        event
        for event in result.all_events
        if event.event_type_value == "STEP_OUTPUT" and event.step_key.startswith("archive")
    ]
    metadata = event.event_specific_data.metadata
    assert (
        metadata["evaluations_before"].value + metadata["archive_before"].value
        == metadata["evaluations_after"].value + metadata["archive_after"].value
    )
    assert result.dagster_run.tags["value_view/tier"] == archive_job.ARCHIVE_TIER
