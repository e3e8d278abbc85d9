"""Phase 2: what a REFRESH of each materialized view costs, plain and concurrently, beside the
specification's estimate (the mart's ``meta.refresh.spec_estimate``).

A maintained table (``maintained_table``: merged on its key by its refresh procedure) is measured
against what it replaces: its query as a materialized view with the same indexes, refreshed plain.
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

from orchestration.lib.maintained import refresh_concurrently, refresh_plainly, refresh_relation
from orchestration.tools.bench import dbt, fmt
from orchestration.tools.bench.catalog import MaterializedView
from orchestration.tools.bench.figures import parse_estimate, ratio
from orchestration.tools.bench.options import BenchOptions, Progress
from orchestration.tools.bench.warehouse import Warehouse, session


def timed_refresh(conn: psycopg.Connection, view: MaterializedView, concurrently: bool) -> float:
    """Refresh one materialized view as the project refreshes it (a maintained table: merged by
    its refresh procedure; plain: its stand-in view); the seconds it took."""
    started = time.perf_counter()
    if concurrently:
        with conn.transaction():
            if view.table:
                refresh_relation(conn, view.schema, view.identifier)
            else:
                refresh_concurrently(conn, sql.SQL(view.relation))
    else:
        with conn.transaction():
            refresh_plainly(conn, plain_stand_in(view) if view.table else sql.SQL(view.relation))
    return time.perf_counter() - started


def plain_stand_in(view: MaterializedView) -> sql.Identifier:
    """The materialized view that stands in for a maintained table's plain refresh."""
    return sql.Identifier(view.schema, f"{view.identifier}__vv_bench_mv")


def copy_indexes(
    conn: psycopg.Connection,
    relation: str,
    target: sql.Composable,
    skip_columns: tuple[str, ...] = (),
) -> int:
    """Create on ``target`` every index ``relation`` (a quoted name) has, but those on any of
    ``skip_columns``; how many."""
    definitions = conn.execute(
        r"""
        select pg_get_indexdef(indexes.indexrelid)
        from pg_index as indexes
        where
            indexes.indrelid = %s::regclass
            and not exists (
                select
                from pg_attribute as attributes
                where
                    attributes.attrelid = indexes.indrelid
                    and attributes.attname = any(%s)
                    and (
                        attributes.attnum = any(indexes.indkey)
                        or pg_get_expr(indexes.indexprs, indexes.indrelid)
                        ~ ('\m' || attributes.attname || '\M')
                    )
            )
        """,
        (relation, list(skip_columns)),
    ).fetchall()
    for (definition,) in definitions:
        on_target = re.sub(r"^(CREATE (?:UNIQUE )?INDEX) \S+ ON \S+", r"\1 ON {}", definition)
        conn.execute(sql.SQL(on_target).format(target))
    return len(definitions)


@contextmanager
def stand_in(
    conn: psycopg.Connection, view: MaterializedView, warehouse: Warehouse, options: BenchOptions
) -> Iterator[None]:
    """For a maintained table: its query as a materialized view with the table's indexes, for as
    long as it is measured."""
    if not view.table:
        yield
        return
    query = dbt.compiled_query(view.unique_id, view.selector, warehouse.settings, options)
    name = plain_stand_in(view)
    conn.execute(sql.SQL("drop materialized view if exists {}").format(name))
    try:
        conn.execute(sql.SQL("create materialized view {} as {}").format(name, sql.SQL(query)))
        copy_indexes(conn, view.relation, name)
        yield
    finally:
        conn.execute(sql.SQL("drop materialized view if exists {}").format(name))


def measure_refreshes(
    warehouse: Warehouse,
    runs: int,
    log: Progress,
    options: BenchOptions,
    phase: str = "refresh",
) -> dict[str, Any]:
    """Median plain and concurrent refresh per view (after one untimed refresh), and totals."""
    results = []
    with session(warehouse.settings) as conn:
        for view in warehouse.views:
            with stand_in(conn, view, warehouse, options):
                timed_refresh(conn, view, concurrently=False)
                plain = [timed_refresh(conn, view, concurrently=False) for _ in range(runs)]
                concurrent = (
                    [timed_refresh(conn, view, concurrently=True) for _ in range(runs)]
                    if view.concurrent_ok
                    else []
                )
            estimate = parse_estimate(view.spec_estimate)
            plain_s = statistics.median(plain)
            concurrent_s = statistics.median(concurrent) if concurrent else None
            production_s = concurrent_s if concurrent_s is not None else plain_s
            result = {
                "relation": view.name,
                "identifier": f"{view.schema}.{view.identifier}",
                "cron": view.cron,
                "maintained": view.maintained,
                "table": view.table,
                "rows": view.rows,
                "plain_s": round(plain_s, 4),
                "concurrent_s": round(concurrent_s, 4) if concurrent_s is not None else None,
                "concurrent_possible": view.concurrent_ok,
                "production_s": round(production_s, 4),
                "runs": runs,
                "spec_estimate": view.spec_estimate,
                "spec_estimate_s": list(estimate) if estimate else None,
                "spec_low_over_ours": ratio(estimate[0], production_s) if estimate else None,
            }
            results.append(result)
            log(
                phase,
                f"{view.name}: {view.rows:,} rows, plain {fmt.secs(plain_s)},"
                f" concurrently {fmt.secs(concurrent_s)} (spec {view.spec_estimate or '-'})",
            )
    estimates = [row["spec_estimate_s"] for row in results if row["spec_estimate_s"]]
    largest = max(results, key=lambda row: row["rows"], default=None)
    return {
        "views": results,
        "largest_view": largest["relation"] if largest else None,
        "total_plain_s": round(sum(row["plain_s"] for row in results), 4),
        "total_concurrent_s": round(
            sum(row["concurrent_s"] or row["plain_s"] for row in results), 4
        ),
        "total_production_s": round(sum(row["production_s"] for row in results), 4),
        "spec_total_s": [sum(low for low, _ in estimates), sum(high for _, high in estimates)]
        if estimates
        else None,
    }
