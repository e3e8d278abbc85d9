"""Phase 2b: what a refresh of each incrementally maintained mart (the ``keyed_incremental_table``
materialization) costs after a small change to its inputs, beside a full rebuild of it.

A mart declares the change it is measured with in ``meta.refresh.incremental_benchmark``:

    incremental_benchmark:
      source: jtbd_odi_scores        # a source table (in the source schema) with an ``id`` column
      change: "importance_score = 10 - importance_score"  # a SET list that undoes itself
      fraction: 0.01                 # share of the source's rows changed, picked by md5(id)
      sweep: [0.001, 0.1]            # more shares measured the same way (optional)
      refresh_time_columns: [last_refreshed]  # left out of its materialized-view counterpart

The change is applied, the mart refreshed (timed), the change applied again (which restores the
rows) and the mart refreshed again (timed), so the data ends as it began. The goal is judged at
``fraction``; each share of ``sweep`` is measured too, so the report shows how the refresh grows
with the size of the change.

A refresh is timed as its materialized-view counterpart is: the transaction that refreshes the
relation, here the call of the refresh procedure dbt wrote beside it
(``<schema>_meta.<relation>__refresh()``, the same call dbt's run makes). The refresh after the
declared change is also run through dbt (``dbt run`` of the node, dbt's own execution time from
``run_results.json`` without its start-up): it adds what the dbt process pays once for the
materialization's templates, reported beside. The full rebuild is dbt's ``--full-refresh``.

Beside them, the mart's own query is built as a materialized view with the mart's indexes (the
unique one on its ``unique_key`` among them; ``<identifier>__vv_bench_mv``, dropped afterwards) and
refreshed concurrently after the same change and its undo: what a full refresh of the mart costs
without incremental maintenance, with the indexes it keeps. The columns named in
``refresh_time_columns`` (the time a row was written, such as ``last_refreshed``) are left out of
it, as every materialized view leaves them to the refresh log: its rows that no change touched
stay identical, and its concurrent refresh rewrites only the changed ones, as the best
materialized view of the query would.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psycopg import sql

from orchestration.lib import manifest as project
from orchestration.lib.maintained import refresh_concurrently, refresh_in_place
from orchestration.tools.bench import dbt, fmt
from orchestration.tools.bench.catalog import quote_ident
from orchestration.tools.bench.figures import ratio
from orchestration.tools.bench.options import BenchError, BenchOptions, Progress
from orchestration.tools.bench.refresh import copy_indexes
from orchestration.tools.bench.warehouse import Warehouse, session

MATERIALIZATION = "keyed_incremental_table"
GOAL_FRACTION_OF_FULL = 0.10


@dataclass(frozen=True)
class IncrementalMart:
    name: str
    unique_id: str
    unique_key: tuple[str, ...]
    selector: str
    schema: str
    identifier: str
    cron: str | None
    source: str
    change: str
    fraction: float
    sweep: tuple[float, ...] = ()
    refresh_time_columns: tuple[str, ...] = ()


def incremental_marts(manifest: Mapping[str, Any]) -> list[IncrementalMart]:
    """The latest-version marts built incrementally, each with its declared benchmark change."""
    found = []
    for node in project.latest_mart_nodes(manifest).values():
        if (node.get("config") or {}).get("materialized") != MATERIALIZATION:
            continue
        refresh = project.node_meta(node).get("refresh") or {}
        spec = refresh.get("incremental_benchmark") if isinstance(refresh, Mapping) else None
        if not isinstance(spec, Mapping) or not {"source", "change"} <= set(spec):
            raise BenchError(
                f"{node['name']} is a {MATERIALIZATION} without"
                " meta.refresh.incremental_benchmark {source, change, fraction}"
            )
        fraction = float(spec.get("fraction", 0.01))
        sweep = tuple(sorted({float(share) for share in spec.get("sweep") or []} - {fraction}))
        for share in (fraction, *sweep):
            if not 0 < share <= 1:
                raise BenchError(
                    f"{node['name']}: incremental_benchmark share {share} not in (0, 1]"
                )
        found.append(
            IncrementalMart(
                name=node["name"],
                unique_id=str(node["unique_id"]),
                unique_key=_unique_key(node),
                selector=project.dbt_selector(node),
                schema=str(node.get("schema")),
                identifier=project.relation_name(node),
                cron=project.refresh_cron(node),
                source=str(spec["source"]),
                change=str(spec["change"]),
                fraction=fraction,
                sweep=sweep,
                refresh_time_columns=tuple(
                    str(column) for column in spec.get("refresh_time_columns") or []
                ),
            )
        )
    return sorted(found, key=lambda mart: mart.name)


def _unique_key(node: Mapping[str, Any]) -> tuple[str, ...]:
    key = (node.get("config") or {}).get("unique_key") or ()
    return (key,) if isinstance(key, str) else tuple(str(column) for column in key)


def _as_materialized_view(
    warehouse: Warehouse, mart: IncrementalMart, options: BenchOptions
) -> dict[str, Any] | None:
    """The mart's query as a materialized view: its build, and its concurrent refresh after the
    declared change and after its undo (median), the change left as it began."""
    if not mart.unique_key:
        return None
    query = dbt.compiled_query(mart.unique_id, mart.selector, warehouse.settings, options)
    view = sql.Identifier(mart.schema, f"{mart.identifier}__vv_bench_mv")
    relation = f"{quote_ident(mart.schema)}.{quote_ident(mart.identifier)}"
    with session(warehouse.settings) as conn:
        conn.execute(sql.SQL("drop materialized view if exists {}").format(view))
        # Its rows as a materialized view keeps them: every column but those carrying the time
        # of the refresh, which would live in the refresh log (as every materialized view's
        # `last_refreshed` does), so that a row no change touched stays identical.
        columns = [
            name
            for (name,) in conn.execute(
                "select attname from pg_attribute where attrelid = %s::regclass"
                " and attnum > 0 and not attisdropped order by attnum",
                (relation,),
            ).fetchall()
            if name not in mart.refresh_time_columns
        ]
        try:
            started = time.perf_counter()
            conn.execute(
                sql.SQL("create materialized view {} as select {} from ({}) as mart_query").format(
                    view, sql.SQL(", ").join(map(sql.Identifier, columns)), sql.SQL(query)
                )
            )
            # The mart's own indexes, its grain's unique one among them: what a refresh of
            # the mart as a materialized view would maintain.
            copy_indexes(conn, relation, view, skip_columns=mart.refresh_time_columns)
            build_s = time.perf_counter() - started
            times = []
            for _ in range(2):
                _apply_change(warehouse, mart, options.source_schema)
                started = time.perf_counter()
                with conn.transaction():
                    refresh_concurrently(conn, view)
                times.append(time.perf_counter() - started)
        finally:
            conn.execute(sql.SQL("drop materialized view if exists {}").format(view))
    return {"build_s": round(build_s, 4), "concurrent_s": round(statistics.median(times), 4)}


def _timed_run(
    mart: IncrementalMart, warehouse: Warehouse, options: BenchOptions, full: bool
) -> float:
    """Refresh one mart with dbt; the node's own execution time in seconds."""
    args = ["--quiet", "run", "--select", mart.selector, *(["--full-refresh"] if full else [])]
    dbt.run_dbt(args, warehouse.settings, options)
    results = json.loads((Path(options.target_path) / "run_results.json").read_text())
    return float(sum(result["execution_time"] for result in results["results"]))


def _timed_call(mart: IncrementalMart, warehouse: Warehouse) -> float:
    """Refresh one mart by its refresh procedure, as dbt's run does; the seconds it took."""
    (done,) = refresh_in_place(warehouse.settings, [(mart.schema, mart.identifier)])
    return done.seconds


def _apply_change(
    warehouse: Warehouse, mart: IncrementalMart, schema: str, fraction: float | None = None
) -> int:
    """Apply the mart's self-undoing change to a share of the source's rows (its declared one
    unless given); rows changed."""
    table = sql.Identifier(schema, mart.source)
    with session(warehouse.settings) as conn:
        total = conn.execute(sql.SQL("select count(*) from {}").format(table)).fetchone()[0]
        limit = max(1, math.ceil(total * (mart.fraction if fraction is None else fraction)))
        changed = conn.execute(
            sql.SQL(
                "update {table} set {change} where id in"
                " (select id from {table} order by md5(id::text) limit {limit})"
            ).format(table=table, change=sql.SQL(mart.change), limit=sql.Literal(limit))
        ).rowcount
    return changed


def _rows(warehouse: Warehouse, mart: IncrementalMart) -> int:
    with session(warehouse.settings) as conn:
        relation = sql.Identifier(mart.schema, mart.identifier)
        return conn.execute(sql.SQL("select count(*) from {}").format(relation)).fetchone()[0]


def _sweep_point(
    warehouse: Warehouse,
    mart: IncrementalMart,
    options: BenchOptions,
    fraction: float,
    full_s: float,
) -> dict[str, Any]:
    """One more share of the change: applied and refreshed, undone and refreshed (median)."""
    times, changed_rows = [], 0
    for _ in range(2):
        changed_rows = _apply_change(warehouse, mart, options.source_schema, fraction)
        times.append(_timed_call(mart, warehouse))
    median_s = statistics.median(times)
    return {
        "fraction": fraction,
        "changed_source_rows": changed_rows,
        "changed_s": round(median_s, 4),
        "changed_over_full": ratio(median_s, full_s),
    }


def measure_incremental(
    warehouse: Warehouse, options: BenchOptions, log: Progress, phase: str = "incremental"
) -> dict[str, Any]:
    """Full rebuild, no-op refresh and refresh after a small change, per incremental mart."""
    results = []
    pairs = max(1, options.refresh_runs // 2)
    for mart in incremental_marts(warehouse.manifest):
        full_s = _timed_run(mart, warehouse, options, full=True)
        unchanged_s = _timed_call(mart, warehouse)
        changed_s, changed_rows = [], 0
        for _ in range(2 * pairs):
            changed_rows = _apply_change(warehouse, mart, options.source_schema)
            changed_s.append(_timed_call(mart, warehouse))
        median_s = statistics.median(changed_s)
        through_dbt = []
        for _ in range(2):
            _apply_change(warehouse, mart, options.source_schema)
            through_dbt.append(_timed_run(mart, warehouse, options, full=False))
        dbt_s = statistics.median(through_dbt)
        sweep = [
            _sweep_point(warehouse, mart, options, share, full_s)
            for share in sorted({*mart.sweep, mart.fraction})
            if share != mart.fraction
        ]
        as_view = _as_materialized_view(warehouse, mart, options)
        row = {
            "relation": mart.name,
            "identifier": f"{mart.schema}.{mart.identifier}",
            "cron": mart.cron,
            "rows": _rows(warehouse, mart),
            "source": mart.source,
            "fraction": mart.fraction,
            "changed_source_rows": changed_rows,
            "full_s": round(full_s, 4),
            "unchanged_s": round(unchanged_s, 4),
            "changed_s": round(median_s, 4),
            "changed_runs": len(changed_s),
            "changed_over_full": ratio(median_s, full_s),
            # The same refresh run through dbt (its node's execution time).
            "changed_dbt_s": round(dbt_s, 4),
            "goal": GOAL_FRACTION_OF_FULL,
            # The same query as a concurrently refreshed materialized view (None: no unique key).
            "as_view": as_view,
            "changed_over_view_refresh": ratio(median_s, as_view["concurrent_s"])
            if as_view
            else None,
            "changed_dbt_over_view_refresh": ratio(dbt_s, as_view["concurrent_s"])
            if as_view
            else None,
        }
        # Every share measured, the declared one included, smallest first.
        row["sweep"] = sorted(
            [
                *sweep,
                {
                    "fraction": mart.fraction,
                    "changed_source_rows": changed_rows,
                    "changed_s": row["changed_s"],
                    "changed_over_full": row["changed_over_full"],
                },
            ],
            key=lambda point: point["fraction"],
        )
        # The goal is stated against a full concurrent refresh; a full rebuild when none was
        # measured.
        judged = row["changed_over_view_refresh"] if as_view else row["changed_over_full"]
        row["met"] = judged is not None and judged <= GOAL_FRACTION_OF_FULL
        results.append(row)
        log(
            phase,
            f"{mart.name}: {row['rows']:,} rows; full {fmt.secs(full_s)}, unchanged"
            f" {fmt.secs(unchanged_s)}, {changed_rows:,} {mart.source} rows changed"
            f" {fmt.secs(median_s)}, through dbt {fmt.secs(dbt_s)}"
            f" ({fmt.pct(row['changed_over_full'])} of full"
            + (
                f", {fmt.pct(row['changed_over_view_refresh'])} of its query refreshed"
                f" concurrently as a materialized view, {fmt.secs(as_view['concurrent_s'])})"
                if as_view
                else ")"
            ),
        )
    return {
        "marts": results,
        "total_full_s": round(sum(row["full_s"] for row in results), 4),
        "total_changed_s": round(sum(row["changed_s"] for row in results), 4),
    }
