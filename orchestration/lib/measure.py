"""Measuring a dashboard query: timings, percentiles, and what its plan looks like.

Used by the latency checks and by the benchmark alike.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from orchestration.lib.database import ConnectionSettings, connect


def percentile(values: Sequence[float], fraction: float) -> float:
    """Percentile by linear interpolation between closest ranks (``fraction`` from 0 to 1)."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    lower, upper = int(position), min(int(position) + 1, len(ordered) - 1)
    weight = position - lower
    return ordered[lower] * (1 - weight) + ordered[upper] * weight


@dataclass(frozen=True)
class PlanSummary:
    """The top node of a plan, its scans, and whether its main scan reads a relation whole."""

    top_node: str
    scans: tuple[str, ...]
    main_scan: str
    seq_scan_at_top: bool


def summarize_plan(document: Any) -> PlanSummary:
    """Summarise an ``EXPLAIN (FORMAT JSON)`` document.

    The main scan is the first scan under sorts, limits and aggregates: a Seq Scan there means
    the dashboard query reads the relation whole instead of through an index.
    """
    if isinstance(document, str):
        document = json.loads(document)
    root = (document[0] if isinstance(document, list) else document)["Plan"]
    nodes, stack = [], [root]
    while stack:
        node = stack.pop()
        nodes.append(node)
        stack.extend(reversed(node.get("Plans") or []))
    scan_nodes = [node for node in nodes if "Scan" in node.get("Node Type", "")]
    scans = tuple(
        node["Node Type"]
        + (f" on {node['Relation Name']}" if node.get("Relation Name") else "")
        + (f" using {node['Index Name']}" if node.get("Index Name") else "")
        for node in scan_nodes
    )
    first = scan_nodes[0] if scan_nodes else root
    return PlanSummary(
        top_node=root.get("Node Type", "?"),
        scans=scans,
        main_scan=scans[0] if scans else root.get("Node Type", "?"),
        seq_scan_at_top=first.get("Node Type") == "Seq Scan",
    )


@dataclass(frozen=True)
class Measurement:
    """Latency of one dashboard query (milliseconds) and what its plan looks like."""

    timings_ms: tuple[float, ...]
    rows: int
    plan: PlanSummary

    @property
    def p50_ms(self) -> float:
        return percentile(self.timings_ms, 0.50)

    @property
    def p95_ms(self) -> float:
        return percentile(self.timings_ms, 0.95)

    @property
    def max_ms(self) -> float:
        return max(self.timings_ms)


def measure_query(
    settings: ConnectionSettings,
    sql: str,
    *,
    runs: int,
    warmup_runs: int,
    statement_timeout_ms: int,
) -> Measurement:
    """Warm the query up, time ``runs`` executions, then EXPLAIN it.

    A run ends when the client holds every row of the result (libpq receives the whole result
    before ``execute`` returns): the time covers planning, execution and transfer, not the
    conversion of rows into Python objects, which is this process's cost, not the warehouse's.
    """
    statement = sql.strip().rstrip(";").strip()
    rows = 0
    with connect(settings, autocommit=True) as conn:
        conn.execute(f"set statement_timeout = {int(statement_timeout_ms)}")
        cursor = conn.cursor()
        for _ in range(warmup_runs):
            cursor.execute(statement)
        timings = []
        for _ in range(runs):
            started = time.perf_counter()
            cursor.execute(statement)
            timings.append((time.perf_counter() - started) * 1000.0)
            rows = max(cursor.rowcount, 0)
        document = conn.execute(f"explain (format json) {statement}").fetchone()[0]
    return Measurement(timings_ms=tuple(timings), rows=rows, plan=summarize_plan(document))


def latency_verdict(
    measurement: Measurement, budget_ms: float, max_rows: int | None
) -> tuple[bool, str]:
    """Whether a measurement meets its budget, and why not."""
    problems = []
    if measurement.p95_ms > budget_ms:
        problems.append(f"p95 {measurement.p95_ms:.2f} ms is over the {budget_ms:g} ms budget")
    if max_rows is not None and measurement.rows > max_rows:
        problems.append(f"returned {measurement.rows:,} rows, more than max_rows {max_rows:,}")
    if problems:
        return False, "; ".join(problems)
    return True, f"p95 {measurement.p95_ms:.2f} ms within the {budget_ms:g} ms budget"
