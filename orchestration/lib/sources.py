"""What the VITAL source tables hold now: a row count, a digest of the rows' contents and the
newest change of each, so that an observer can tell whether anything changed since it last looked.

Many source tables have no ``updated_at`` (the ODI scores among them), so a count and a timestamp
would miss an update in place: the digest sums a 64-bit hash of every row's text, one sequential
read of the table, order-independent and exact for any insert, update or delete.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from psycopg import sql

from orchestration.lib.database import ConnectionSettings, connect

CHANGE_COLUMNS = ("updated_at", "created_at")


@dataclass(frozen=True)
class SourceState:
    """One source table's row count, contents digest and newest ``updated_at`` (else
    ``created_at``)."""

    table: str
    exists: bool
    rows: int
    digest: str
    newest_change: dt.datetime | None

    @property
    def version(self) -> str:
        """A data version: equal for two observations exactly when neither figure moved."""
        if not self.exists:
            return "missing"
        return f"{self.rows}:{self.digest}"


def source_states(
    settings: ConnectionSettings, schema: str, tables: Iterable[str]
) -> dict[str, SourceState]:
    """The state of each table of ``schema`` named in ``tables`` (a missing table is reported
    as missing, not as an error: the sources may not be loaded yet)."""
    states: dict[str, SourceState] = {}
    with connect(settings, autocommit=True) as conn:
        for table in tables:
            columns = {
                row[0]
                for row in conn.execute(
                    "select attname from pg_attribute"
                    " where attrelid = to_regclass(%s) and attnum > 0 and not attisdropped",
                    (sql.Identifier(schema, table).as_string(conn),),
                ).fetchall()
            }
            if not columns:
                states[table] = SourceState(table, False, 0, "", None)
                continue
            change = next((column for column in CHANGE_COLUMNS if column in columns), None)
            # an infinite timestamp is bad input (the quarantine rejects it) and no reader
            # decodes it: the newest finite change is reported, the digest still sees the row
            newest = (
                sql.SQL("max({0}) filter (where isfinite({0}))").format(sql.Identifier(change))
                if change
                else sql.NULL
            )
            rows, digest, newest_change = conn.execute(
                sql.SQL(
                    "select count(*), coalesce(sum(hashtextextended(rows::text, 0)), 0)::text, {}"
                    " from {} as rows"
                ).format(newest, sql.Identifier(schema, table))
            ).fetchone()
            if isinstance(newest_change, dt.datetime) and newest_change.tzinfo is None:
                newest_change = newest_change.replace(tzinfo=dt.timezone.utc)
            states[table] = SourceState(table, True, int(rows), digest, newest_change)
    return states
