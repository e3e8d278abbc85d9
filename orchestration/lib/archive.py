"""Monthly archiving of professional-tier evaluations (second specification document).

Soft-deleted professional and enterprise evaluations created more than two years before the
reference time move from ``business_evaluations`` to ``business_evaluations_archive`` (created
when missing, ``LIKE business_evaluations INCLUDING ALL``, in the source schema), and audit rows
older than two years are deleted. Everything happens in one transaction: row counts are taken
before and after, and when they do not reconcile the transaction rolls back and nothing changes.
A second run with the same reference time moves nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from psycopg import sql

from orchestration.lib import settings as project_settings
from orchestration.lib.database import ConnectionSettings, connect

EVALUATIONS = "business_evaluations"
ARCHIVE = "business_evaluations_archive"
AUDIT = "professional_data_audit"
ARCHIVED_TIERS = ("professional", "enterprise")
RETENTION = "2 years"
LOCK_TIMEOUT = "30s"


class ArchiveReconciliationError(RuntimeError):
    """Counts before and after the move disagree; the transaction was rolled back."""


@dataclass(frozen=True)
class TableCounts:
    evaluations: int
    eligible: int
    archive: int
    audit: int
    audit_expired: int


@dataclass(frozen=True)
class ArchiveResult:
    """What one archiving run did, with the counts it reconciled."""

    reference_time: dt.datetime
    cutoff: dt.datetime
    archived: int
    audit_deleted: int
    before: TableCounts
    after: TableCounts

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _counts(conn, schema: str, cutoff: dt.datetime, archive_exists: bool) -> TableCounts:
    name = sql.Identifier(schema)
    evaluations, eligible = conn.execute(
        sql.SQL(
            "select count(*), count(*) filter (where deleted_at is not null"
            " and created_at < %(cutoff)s and subscription_tier = any(%(tiers)s))"
            " from {}.{}"
        ).format(name, sql.Identifier(EVALUATIONS)),
        {"cutoff": cutoff, "tiers": list(ARCHIVED_TIERS)},
    ).fetchone()
    archive = 0
    if archive_exists:
        archive = conn.execute(
            sql.SQL("select count(*) from {}.{}").format(name, sql.Identifier(ARCHIVE))
        ).fetchone()[0]
    audit, audit_expired = conn.execute(
        sql.SQL(
            'select count(*), count(*) filter (where "timestamp" < %(cutoff)s) from {}.{}'
        ).format(name, sql.Identifier(AUDIT)),
        {"cutoff": cutoff},
    ).fetchone()
    return TableCounts(
        evaluations=int(evaluations),
        eligible=int(eligible),
        archive=int(archive),
        audit=int(audit),
        audit_expired=int(audit_expired),
    )


def _columns(conn, schema: str, table: str) -> list[str]:
    rows = conn.execute(
        """
        select attname from pg_attribute
        where attrelid = to_regclass(%s) and attnum > 0 and not attisdropped
        order by attnum
        """,
        (f'"{schema}"."{table}"',),
    ).fetchall()
    return [row[0] for row in rows]


def reconcile(before: TableCounts, after: TableCounts, archived: int, audit_deleted: int) -> None:
    """Raise ArchiveReconciliationError unless every row is accounted for."""
    problems: list[str] = []
    if archived != before.eligible:
        problems.append(f"moved {archived} evaluations, {before.eligible} were eligible")
    if after.eligible != 0:
        problems.append(f"{after.eligible} eligible evaluations are still in {EVALUATIONS}")
    if after.evaluations != before.evaluations - archived:
        problems.append(
            f"{EVALUATIONS} went from {before.evaluations} to {after.evaluations} rows"
            f" while moving {archived}"
        )
    if after.archive != before.archive + archived:
        problems.append(
            f"{ARCHIVE} went from {before.archive} to {after.archive} rows while receiving"
            f" {archived}"
        )
    if after.evaluations + after.archive != before.evaluations + before.archive:
        problems.append(
            "evaluations plus archive do not reconcile: "
            f"{before.evaluations} + {before.archive} before, "
            f"{after.evaluations} + {after.archive} after"
        )
    if audit_deleted != before.audit_expired or after.audit != before.audit - audit_deleted:
        problems.append(
            f"audit rows: deleted {audit_deleted} of {before.audit_expired} expired;"
            f" {before.audit} before, {after.audit} after"
        )
    if after.audit_expired != 0:
        problems.append(f"{after.audit_expired} expired audit rows remain")
    if problems:
        raise ArchiveReconciliationError("; ".join(problems))


def archive_professional_data(
    settings: ConnectionSettings,
    *,
    schema: str | None = None,
    reference_time: dt.datetime | None = None,
) -> ArchiveResult:
    """Archive old soft-deleted professional/enterprise evaluations and expire old audit rows.

    ``reference_time`` (default: now) fixes "two years ago", so runs are reproducible.
    """
    reference = reference_time or dt.datetime.now(dt.timezone.utc)
    if reference.tzinfo is None:
        reference = reference.replace(tzinfo=dt.timezone.utc)
    schema = schema or project_settings.source_schema()
    name = sql.Identifier(schema)
    with connect(settings) as conn, conn.transaction():
        conn.execute(f"set local lock_timeout = '{LOCK_TIMEOUT}'")
        cutoff = conn.execute(
            "select %s::timestamptz - %s::interval", (reference, RETENTION)
        ).fetchone()[0]
        archive_existed = conn.execute(
            "select to_regclass(%s) is not null", (f'"{schema}"."{ARCHIVE}"',)
        ).fetchone()[0]
        conn.execute(
            sql.SQL("create table if not exists {}.{} (like {}.{} including all)").format(
                name, sql.Identifier(ARCHIVE), name, sql.Identifier(EVALUATIONS)
            )
        )
        # Writers wait for the few moments of the move; readers are never blocked.
        for table in (EVALUATIONS, ARCHIVE, AUDIT):
            conn.execute(
                sql.SQL("lock table {}.{} in share row exclusive mode").format(
                    name, sql.Identifier(table)
                )
            )
        before = _counts(conn, schema, cutoff, archive_existed)
        columns = _columns(conn, schema, EVALUATIONS)
        missing = sorted(set(columns) - set(_columns(conn, schema, ARCHIVE)))
        if missing:
            raise ArchiveReconciliationError(
                f"{ARCHIVE} lacks columns of {EVALUATIONS}: {', '.join(missing)}"
            )
        column_list = sql.SQL(", ").join(sql.Identifier(column) for column in columns)
        archived = conn.execute(
            sql.SQL(
                "with moved as ("
                " delete from {schema}.{source}"
                " where deleted_at is not null and created_at < %(cutoff)s"
                " and subscription_tier = any(%(tiers)s)"
                " returning {columns})"
                " insert into {schema}.{archive} ({columns}) select {columns} from moved"
            ).format(
                schema=name,
                source=sql.Identifier(EVALUATIONS),
                archive=sql.Identifier(ARCHIVE),
                columns=column_list,
            ),
            {"cutoff": cutoff, "tiers": list(ARCHIVED_TIERS)},
        ).rowcount
        audit_deleted = conn.execute(
            sql.SQL('delete from {}.{} where "timestamp" < %(cutoff)s').format(
                name, sql.Identifier(AUDIT)
            ),
            {"cutoff": cutoff},
        ).rowcount
        after = _counts(conn, schema, cutoff, True)
        reconcile(before, after, archived, audit_deleted)
    return ArchiveResult(
        reference_time=reference,
        cutoff=cutoff,
        archived=archived,
        audit_deleted=audit_deleted,
        before=before,
        after=after,
    )
