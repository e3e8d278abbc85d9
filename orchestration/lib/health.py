"""The warehouse's health, read from PostgreSQL's statistics: how fresh a relation is for its
refresh tier, the buffer-cache hit ratio, which indexes are unused or inefficient, and how far a
read replica is behind its primary.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from psycopg import Connection
from psycopg.sql import SQL, Identifier

from orchestration.lib import settings as project_settings
from orchestration.lib.database import ConnectionSettings, connect

MIN_CACHE_HIT_RATIO = 0.95
# Below this many block requests the ratio says nothing yet (a freshly created database).
MIN_BLOCK_REQUESTS = 10_000
# An index is judged unused only once its table is read through its other indexes this often (a
# table freshly rebuilt, or read only by whole-table dbt tests, says nothing about its indexes).
MIN_SCANS_FOR_UNUSED = 1_000
# An index is judged inefficient after this many scans that fetched under 1% of what they read.
MIN_SCANS_FOR_INEFFICIENT = 100
INEFFICIENT_RATIO = 0.01
# A replica this far behind is worth a warning; past the shortest freshness SLA it is an error.
REPLICA_LAG_WARN_S = 60.0
# How long the lag measurement waits for the replica to reach the primary's position.
REPLICA_LAG_POLL_S = 2.0


def max_age_for_cron(cron: str) -> dt.timedelta:
    """How old a relation may be for its tier: hourly 2 h, daily 26 h, weekly 8 days."""
    _, hour, day, month, weekday = cron.split()
    if hour == "*" or "/" in hour or "," in hour:
        return dt.timedelta(hours=2)
    if (day, month, weekday) == ("*", "*", "*"):
        return dt.timedelta(hours=26)
    if (day, month) == ("*", "*"):
        return dt.timedelta(days=8)
    return dt.timedelta(days=32)


def freshness_verdict(
    last_refreshed: dt.datetime | None, now: dt.datetime, max_age: dt.timedelta
) -> tuple[bool, str]:
    if last_refreshed is None:
        return False, "no refresh recorded"
    age = now - last_refreshed
    if age > max_age:
        return False, f"last refreshed {hours(age)} ago, more than {hours(max_age)}"
    return True, f"last refreshed {hours(age)} ago, within {hours(max_age)}"


def hours(delta: dt.timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.1f} h"


def last_refresh(
    settings: ConnectionSettings, schema: str, relation: str
) -> tuple[dt.datetime | None, str]:
    """When a relation was last refreshed: its row in the refresh log (written in the refresh's
    own transaction), else its ``last_refreshed`` column, else its last ANALYZE."""
    with connect(settings, autocommit=True) as conn:
        logged = _logged_refresh(conn, schema, relation)
        if logged is not None:
            return aware(logged), "refresh log"
        has_column = conn.execute(
            """
            select 1
            from pg_attribute as attributes
            join pg_class as relations on relations.oid = attributes.attrelid
            join pg_namespace as namespaces on namespaces.oid = relations.relnamespace
            where namespaces.nspname = %s and relations.relname = %s
              and attributes.attname = 'last_refreshed' and not attributes.attisdropped
            """,
            (schema, relation),
        ).fetchone()
        if has_column:
            row = conn.execute(
                SQL("select max(last_refreshed) from {}.{}").format(
                    Identifier(schema), Identifier(relation)
                )
            ).fetchone()
            if row and row[0] is not None:
                value = row[0]
                if isinstance(value, dt.datetime):
                    return aware(value), "last_refreshed column"
        row = conn.execute(
            """
            select greatest(last_analyze, last_autoanalyze)
            from pg_stat_user_tables where schemaname = %s and relname = %s
            """,
            (schema, relation),
        ).fetchone()
    if row and row[0] is not None:
        return aware(row[0]), "pg_stat_user_tables last analyze"
    return None, "none"


def _logged_refresh(conn: Connection, schema: str, relation: str) -> dt.datetime | None:
    """The relation's time in the refresh log; None without a row, or without the log."""
    log = Identifier(project_settings.REFRESH_LOG_SCHEMA, project_settings.REFRESH_LOG_TABLE)
    exists = conn.execute("select to_regclass(%s) is not null", (log.as_string(conn),)).fetchone()
    if not exists[0]:
        return None
    row = conn.execute(
        SQL("select refreshed_at from {} where schema_name = %s and relation_name = %s").format(
            log
        ),
        (schema, relation),
    ).fetchone()
    return row[0] if row else None


def aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def cache_hits(
    settings: ConnectionSettings, schema: str
) -> tuple[int, int, list[tuple[str, int, int]]]:
    """Block requests of the database served from shared buffers and read from disk, and the
    same per relation of ``schema`` (heap and indexes together)."""
    with connect(settings, autocommit=True) as conn:
        hits, reads = conn.execute(
            "select blks_hit, blks_read from pg_stat_database where datname = current_database()"
        ).fetchone()
        per_relation = conn.execute(
            """
            select relname,
                   coalesce(heap_blks_hit, 0) + coalesce(idx_blks_hit, 0),
                   coalesce(heap_blks_read, 0) + coalesce(idx_blks_read, 0)
            from pg_statio_user_tables where schemaname = %s order by relname
            """,
            (schema,),
        ).fetchall()
    return int(hits), int(reads), [(name, int(hit), int(read)) for name, hit, read in per_relation]


def cache_hit_verdict(hits: int, reads: int, minimum: float) -> tuple[bool, float | None, str]:
    requests = hits + reads
    if requests < MIN_BLOCK_REQUESTS:
        return True, None, f"only {requests:,} block requests so far: too few to judge"
    ratio = hits / requests
    if ratio < minimum:
        return False, ratio, f"hit ratio {ratio:.2%} is below {minimum:.0%}"
    return True, ratio, f"hit ratio {ratio:.2%} is at least {minimum:.0%}"


@dataclass(frozen=True)
class IndexStats:
    schema: str
    table: str
    index: str
    size_bytes: int
    scans: int
    tuples_read: int
    tuples_fetched: int
    is_unique: bool
    table_index_scans: int

    @property
    def efficiency(self) -> float | None:
        if self.tuples_read == 0:
            return None
        return self.tuples_fetched / self.tuples_read

    @property
    def status(self) -> str:
        """ok, unused (its table is read through indexes, never this one) or inefficient."""
        if (
            self.scans == 0
            and not self.is_unique
            and self.table_index_scans >= MIN_SCANS_FOR_UNUSED
        ):
            return "unused"
        efficiency = self.efficiency
        if (
            self.scans >= MIN_SCANS_FOR_INEFFICIENT
            and efficiency is not None
            and 0 < efficiency < INEFFICIENT_RATIO
        ):
            return "inefficient"
        return "ok"


def index_stats(settings: ConnectionSettings, schema: str) -> list[IndexStats]:
    with connect(settings, autocommit=True) as conn:
        rows = conn.execute(
            """
            select
                indexes.schemaname,
                indexes.relname,
                indexes.indexrelname,
                pg_relation_size(indexes.indexrelid),
                indexes.idx_scan,
                indexes.idx_tup_read,
                indexes.idx_tup_fetch,
                index_defs.indisunique,
                coalesce(tables.idx_scan, 0)
            from pg_stat_user_indexes as indexes
            join pg_index as index_defs on index_defs.indexrelid = indexes.indexrelid
            left join pg_stat_user_tables as tables on tables.relid = indexes.relid
            where indexes.schemaname = %s
            order by indexes.relname, indexes.indexrelname
            """,
            (schema,),
        ).fetchall()
    return [IndexStats(*row) for row in rows]


# -- replica lag --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplicaLag:
    seconds: float | None  # how stale the replica's reads are; None: not known
    bytes_behind: int  # WAL the replica had not replayed when the primary was asked
    receiver: str  # the replica's WAL receiver status ("streaming", "stopped", ...)


def replica_lag(
    replica: ConnectionSettings,
    primary: ConnectionSettings,
    poll_seconds: float = REPLICA_LAG_POLL_S,
) -> ReplicaLag:
    """How stale reads on ``replica`` are. The primary's WAL position is read first; when the
    replica reaches it within ``poll_seconds`` the lag is the time that took, else it is the age
    of the last transaction the replica replayed (an idle primary writes WAL without
    transactions, so that age alone would overstate the lag of a replica that is up to date)."""
    with connect(primary, autocommit=True, connect_timeout=10) as conn:
        target = conn.execute("select pg_current_wal_flush_lsn()").fetchone()[0]
    started = time.monotonic()
    with connect(replica, autocommit=True, connect_timeout=10) as conn:
        receiver, behind = conn.execute(
            "select coalesce((select status from pg_catalog.pg_stat_wal_receiver), 'stopped'),"
            " greatest(0, pg_wal_lsn_diff(%s::pg_lsn,"
            " coalesce(pg_last_wal_replay_lsn(), %s::pg_lsn)))::bigint",
            (target, target),
        ).fetchone()
        while True:
            caught_up, age = conn.execute(
                "select coalesce(pg_last_wal_replay_lsn() >= %s::pg_lsn, false),"
                " extract(epoch from now() - pg_last_xact_replay_timestamp())::float8",
                (target,),
            ).fetchone()
            waited = time.monotonic() - started
            if caught_up:
                return ReplicaLag(round(waited, 3), int(behind), str(receiver))
            if waited >= poll_seconds:
                seconds = None if age is None else round(max(waited, age), 3)
                return ReplicaLag(seconds, int(behind), str(receiver))
            time.sleep(0.05)


def replica_lag_verdict(
    lag: ReplicaLag, warn_after_s: float, error_after_s: float
) -> tuple[str, str]:
    """("ok" | "warn" | "error", a sentence) for a measured lag."""
    if lag.seconds is None:
        return "error", (
            f"the replica has not replayed {lag.bytes_behind:,} bytes of WAL and has replayed no"
            f" transaction yet (receiver {lag.receiver})"
        )
    sentence = (
        f"replica {lag.seconds:,.1f} s behind the primary"
        f" ({lag.bytes_behind:,} bytes of WAL when asked; receiver {lag.receiver})"
    )
    if lag.seconds > error_after_s:
        return "error", f"{sentence}: past the freshness SLA of {error_after_s:,.0f} s"
    if lag.seconds > warn_after_s:
        return "warn", f"{sentence}: over {warn_after_s:,.0f} s"
    return "ok", sentence
