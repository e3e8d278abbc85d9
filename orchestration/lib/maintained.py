"""Maintained materialized views: the relations behind the real-time views, refreshed when a
table they are built from changes, within a stated staleness bound.

A model opts in with ``meta.maintained.staleness_bound_seconds``. What it is built from are the
tables under it: the source tables and every upstream model or seed that PostgreSQL stores (a
view stores nothing; the tables under it are followed instead). Whether any of them changed is
read from PostgreSQL's cumulative statistics, which count every inserted, updated and deleted
row of a table, together with its OID and file node (a rebuild-aside swap, a TRUNCATE or a plain
REFRESH gives new ones): a handful of catalog reads, whatever the tables' sizes. A writing
session publishes its counts within about ten seconds of its commit (at once when it ends). The
marker is a digest of those figures: equal markers mean no table was written since. A refresh
never blocks readers and is recorded in the refresh log like dbt's refreshes: for a materialized
view ``REFRESH MATERIALIZED VIEW CONCURRENTLY``; for a ``maintained_table`` (a table merged on its
key, macros/materializations/maintained_table.sql) or a ``keyed_incremental_table`` (its changed
keys rewritten, macros/materializations/keyed_incremental_table_refresh.sql) the refresh procedure
dbt wrote beside it, ``<schema>_meta.<relation>__refresh()``.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from orchestration.lib import manifest as manifests
from orchestration.lib.database import ConnectionSettings, connect
from orchestration.lib.settings import MARTS_SCHEMA

REFRESH_LOG_SCHEMA = f"{MARTS_SCHEMA}_meta"
STORED = frozenset({"table", "incremental", "materialized_view", "seed", "snapshot"})
LOCK_TIMEOUT = "30s"
# REFRESH ... CONCURRENTLY analyzes its copy of the new rows only so that the planner knows how
# many there are; at the server's default statistics target (100) that sample costs a wide view
# as much as the diff. dbt's refreshes use the same target
# (macros/materializations/safe_materialized_view.sql, safe_mv__refresh_statistics_target).
REFRESH_STATISTICS_TARGET = 1
# A refresh's query runs without parallel workers: it joins every persona x job pair to keep a
# few thousand rows, and a Gather of all the pairs costs more than a worker saves (as dbt's
# refreshes: safe_mv__refresh_parallel_workers in safe_materialized_view.sql).
REFRESH_PARALLEL_WORKERS = 0
# The transaction setting a keyed_incremental_table's refresh procedure leaves its outcome in
# (macros/materializations/keyed_incremental_table_refresh.sql).
OUTCOME_SETTING = "value_view.keyed_incremental_outcome"


class MaintainedError(RuntimeError):
    """A maintained relation could not be refreshed (a one-line reason)."""


@dataclass(frozen=True)
class Maintained:
    """One maintained relation: its relation, bound and the tables it is built from."""

    unique_id: str
    schema: str
    relation: str
    staleness_bound_seconds: int
    watched: tuple[tuple[str, str], ...]

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.relation}"


def _stored(node: Mapping[str, Any]) -> bool:
    if node.get("resource_type") in ("seed", "snapshot"):
        return True
    materialized = str((node.get("config") or {}).get("materialized") or "")
    return materialized in STORED or "materialized_view" in materialized or "table" in materialized


def staleness_bound(node: Mapping[str, Any]) -> int | None:
    """The node's ``meta.maintained.staleness_bound_seconds``, or None when not maintained."""
    maintained = manifests.node_meta(node).get("maintained")
    if not isinstance(maintained, Mapping):
        return None
    bound = maintained.get("staleness_bound_seconds")
    return int(bound) if bound is not None else None


def maintained_relations(manifest: Mapping[str, Any]) -> list[Maintained]:
    """Every maintained model of the project, with the stored tables under it."""
    found = []
    nodes = manifest.get("nodes", {})
    for uid in sorted(nodes):
        node = nodes[uid]
        bound = staleness_bound(node)
        if node.get("resource_type") != "model" or bound is None:
            continue
        watched = _stored_inputs(manifest, uid)
        found.append(
            Maintained(
                unique_id=uid,
                schema=str(node["schema"]),
                relation=manifests.relation_name(node),
                staleness_bound_seconds=bound,
                watched=tuple(sorted(watched)),
            )
        )
    return found


def _stored_inputs(manifest: Mapping[str, Any], unique_id: str) -> set[tuple[str, str]]:
    """The tables under a model: its sources, and its upstream stored models and seeds (whose
    own inputs are theirs to watch: a stored model changes only when it is rebuilt)."""
    nodes, sources = manifest.get("nodes", {}), manifest.get("sources", {})
    found: set[tuple[str, str]] = set()
    seen: set[str] = set()
    pending = list((nodes[unique_id].get("depends_on") or {}).get("nodes") or [])
    while pending:
        uid = pending.pop()
        if uid in seen:
            continue
        seen.add(uid)
        if uid in sources:
            source = sources[uid]
            found.add((str(source["schema"]), str(source.get("identifier") or source["name"])))
        elif uid in nodes and _stored(nodes[uid]):
            found.add((str(nodes[uid]["schema"]), manifests.relation_name(nodes[uid])))
        elif uid in nodes:
            pending.extend((nodes[uid].get("depends_on") or {}).get("nodes") or [])
    return found


def watched_tables(relations: Iterable[Maintained]) -> list[tuple[str, str]]:
    return sorted({table for relation in relations for table in relation.watched})


def change_marker(settings: ConnectionSettings, tables: Sequence[tuple[str, str]]) -> str:
    """A digest of the tables' write counters, OIDs and file nodes: it moves with any write."""
    with connect(settings, autocommit=True) as conn:
        rows = conn.execute(
            "select watched.schema_name, watched.table_name, case when found.oid is null"
            " then 'missing' else concat_ws(':', found.oid, pg_relation_filenode(found.oid),"
            " pg_stat_get_tuples_inserted(found.oid), pg_stat_get_tuples_updated(found.oid),"
            " pg_stat_get_tuples_deleted(found.oid)) end"
            " from unnest(%s::text[], %s::text[]) as watched (schema_name, table_name)"
            " left join lateral (select to_regclass(quote_ident(watched.schema_name) || '.'"
            " || quote_ident(watched.table_name)) as oid) as found on true"
            " order by 1, 2",
            ([schema for schema, _ in tables], [table for _, table in tables]),
        ).fetchall()
    digest = hashlib.sha256()
    for schema, table, figures in rows:
        digest.update(f"{schema}.{table}={figures};".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class Refreshed:
    relation: str
    seconds: float
    # What a keyed_incremental_table's refresh procedure did (None for the others).
    outcome: str | None = None


def refresh(settings: ConnectionSettings, relations: Iterable[Maintained]) -> list[Refreshed]:
    """Refresh each maintained view concurrently and record it in the refresh log."""
    return refresh_in_place(
        settings, [(relation.schema, relation.relation) for relation in relations]
    )


def refresh_procedure(schema: str, relation: str) -> sql.Composed:
    """The procedure that refreshes a ``maintained_table`` (merged with its query) or a
    ``keyed_incremental_table`` (its changed keys rewritten), written by dbt."""
    return sql.SQL("{}()").format(sql.Identifier(f"{schema}_meta", f"{relation}__refresh"))


def refresh_relation(conn: psycopg.Connection, schema: str, relation: str) -> None:
    """Refresh one maintained relation in the caller's transaction without blocking its readers:
    a materialized view concurrently, a ``maintained_table`` by its refresh procedure."""
    kind = relation_kind(conn, schema, relation)
    if kind is None:
        raise MaintainedError(
            f"{schema}.{relation} does not exist: build it first (value-view dbt run)"
        )
    if kind == "m":
        refresh_concurrently(conn, sql.Identifier(schema, relation))
        return
    procedure = refresh_procedure(schema, relation)
    found = conn.execute("select to_regprocedure(%s)", (procedure.as_string(conn),)).fetchone()[0]
    if found is None:
        raise MaintainedError(
            f"{schema}.{relation} is a table without its refresh procedure"
            f" {procedure.as_string(conn)}: build it with dbt (value-view dbt run)"
        )
    conn.execute(sql.SQL("call {}").format(procedure))


def refresh_concurrently(conn: psycopg.Connection, name: sql.Composable) -> None:
    """``REFRESH MATERIALIZED VIEW CONCURRENTLY`` in the caller's transaction, with
    ``REFRESH_PARALLEL_WORKERS`` and its copy of the new rows analyzed at
    ``REFRESH_STATISTICS_TARGET``; the server's settings are back afterwards."""
    conn.execute(
        sql.SQL("set local default_statistics_target = {}").format(
            sql.Literal(REFRESH_STATISTICS_TARGET)
        )
    )
    with refresh_parallel_workers(conn):
        conn.execute(sql.SQL("refresh materialized view concurrently {}").format(name))
    conn.execute("set local default_statistics_target to default")


def refresh_plainly(conn: psycopg.Connection, name: sql.Composable) -> None:
    """A plain ``REFRESH MATERIALIZED VIEW`` in the caller's transaction, with
    ``REFRESH_PARALLEL_WORKERS`` as dbt's plain refreshes run."""
    with refresh_parallel_workers(conn):
        conn.execute(sql.SQL("refresh materialized view {}").format(name))


@contextmanager
def refresh_parallel_workers(conn: psycopg.Connection) -> Iterator[None]:
    """``max_parallel_workers_per_gather`` at ``REFRESH_PARALLEL_WORKERS`` for the caller's
    transaction, the server's setting back afterwards."""
    conn.execute(
        sql.SQL("set local max_parallel_workers_per_gather = {}").format(
            sql.Literal(REFRESH_PARALLEL_WORKERS)
        )
    )
    yield
    conn.execute("set local max_parallel_workers_per_gather to default")


def relation_kind(conn: psycopg.Connection, schema: str, relation: str) -> str | None:
    """``pg_class.relkind`` of ``schema.relation`` (``m``, ``r``, ...), None when missing."""
    row = conn.execute(
        "select relkind::text from pg_class where oid = to_regclass(%s)",
        (sql.Identifier(schema, relation).as_string(conn),),
    ).fetchone()
    return None if row is None else str(row[0])


def refresh_in_place(
    settings: ConnectionSettings, relations: Iterable[tuple[str, str]]
) -> list[Refreshed]:
    """Refresh each ``(schema, relation)`` without blocking its readers (``refresh_relation``),
    recorded in the refresh log in the same transaction (as dbt's refreshes are).

    A table's refresh procedure runs as dbt runs it: in a REPEATABLE READ transaction that locks
    the table (EXCLUSIVE: readers go on) before its first query, so every statement of the
    procedure reads the sources as they were once the lock was granted.
    """
    done = []
    with connect(settings, autocommit=True) as conn:
        for schema, relation in relations:
            qualified = f"{schema}.{relation}"
            table = relation_kind(conn, schema, relation) == "r"
            started = time.perf_counter()
            outcome = None
            with conn.transaction():
                if table:
                    conn.execute("set transaction isolation level repeatable read")
                conn.execute(
                    sql.SQL("set local lock_timeout = {}").format(sql.Literal(LOCK_TIMEOUT))
                )
                if table:
                    conn.execute(
                        sql.SQL("lock table {} in exclusive mode").format(
                            sql.Identifier(schema, relation)
                        )
                    )
                refresh_relation(conn, schema, relation)
                if table:
                    outcome = conn.execute(
                        "select nullif(current_setting(%s, true), '')", (OUTCOME_SETTING,)
                    ).fetchone()[0]
                log = conn.execute(
                    "select to_regclass(format('%%I.refresh_log', %s::text))",
                    (REFRESH_LOG_SCHEMA,),
                ).fetchone()[0]
                if log is not None:
                    conn.execute(
                        sql.SQL(
                            "insert into {} (schema_name, relation_name, refreshed_at)"
                            " values (%s, %s, now()) on conflict (schema_name, relation_name)"
                            " do update set refreshed_at = excluded.refreshed_at"
                        ).format(sql.Identifier(REFRESH_LOG_SCHEMA, "refresh_log")),
                        (schema, relation),
                    )
            done.append(Refreshed(qualified, time.perf_counter() - started, outcome))
    return done
