"""Phase 1: each benchmark query on its mart, timed in alternating rounds beside its raw twin on
the source tables, with one EXPLAIN ANALYZE of each to say why one is faster."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg

from orchestration.lib.database import ConnectionSettings
from orchestration.lib.measure import measure_query, summarize_plan
from orchestration.tools.bench import fmt
from orchestration.tools.bench.catalog import BenchmarkQuery
from orchestration.tools.bench.figures import latency_summary, ratio
from orchestration.tools.bench.options import BenchOptions, Progress
from orchestration.tools.bench.warehouse import STATEMENT_TIMEOUT_MS, Warehouse, session

MIN_RUNS = 5


def _plan(conn: psycopg.Connection, sql_text: str) -> dict[str, Any]:
    """EXPLAIN (ANALYZE, BUFFERS) once: the scans and how many buffers the query touched."""
    statement = sql_text.strip().rstrip(";").strip()
    document = conn.execute(f"explain (analyze, buffers, format json) {statement}").fetchone()[0]
    if isinstance(document, str):
        document = json.loads(document)
    summary = summarize_plan(document)
    root = document[0]["Plan"]
    relations: set[str] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if node.get("Relation Name"):
            relations.add(node["Relation Name"])
        stack.extend(node.get("Plans", []))
    return {
        "top_node": summary.top_node,
        "main_scan": summary.main_scan.split(" on ")[0],
        "scans": list(summary.scans),
        "relations_read": len(relations),
        "shared_buffers": int(root.get("Shared Hit Blocks", 0))
        + int(root.get("Shared Read Blocks", 0)),
        "execution_ms": round(float(document[0].get("Execution Time", 0.0)), 3),
    }


def _next_chunk(samples: Sequence[float], runs: int, seconds: float) -> int:
    """How many runs to time next: up to 10, fewer when the query is slow or time is spent."""
    remaining = runs - len(samples)
    if remaining <= 0:
        return 0
    if not samples:
        return 1
    spent = sum(samples) / 1000.0
    if spent >= seconds:
        return max(0, min(remaining, MIN_RUNS - len(samples)))
    mean = spent / len(samples)
    affordable = int((seconds - spent) / mean) if mean > 0 else remaining
    return max(1, min(remaining, 10, affordable))


def measure_side_by_side(
    settings: ConnectionSettings, benchmark: BenchmarkQuery, options: BenchOptions
) -> tuple[list[float], list[float], int]:
    """Time the mart query and the raw query in alternating rounds (ms), and the rows returned.

    Each round is one call of the latency check's own ``measure_query``; alternating keeps both
    sides under the same background load, and a slow raw query stops at ``--query-seconds``.
    """
    samples: dict[str, list[float]] = {"mart": [], "raw": []}
    sql_by_side = {"mart": benchmark.sql, "raw": benchmark.raw_sql}
    rows = 0
    while True:
        progressed = False
        for side in ("mart", "raw"):
            chunk = _next_chunk(samples[side], options.runs, options.query_seconds)
            if chunk <= 0:
                continue
            measured = measure_query(
                settings,
                sql_by_side[side],
                runs=chunk,
                warmup_runs=0 if samples[side] else 1,
                statement_timeout_ms=STATEMENT_TIMEOUT_MS,
            )
            samples[side].extend(measured.timings_ms)
            if side == "mart":
                rows = measured.rows
            progressed = True
        if not progressed:
            return samples["mart"], samples["raw"], rows


def measure_queries(
    warehouse: Warehouse,
    options: BenchOptions,
    log: Progress,
    answers: Mapping[str, Mapping[str, Any]],
) -> list[dict[str, Any]]:
    results = []
    for benchmark in warehouse.benchmarks:
        mart_ms, raw_ms, rows = measure_side_by_side(warehouse.settings, benchmark, options)
        with session(warehouse.settings) as conn:
            mart_plan = _plan(conn, benchmark.sql)
            raw_plan = _plan(conn, benchmark.raw_sql)
        mart, raw = latency_summary(mart_ms), latency_summary(raw_ms)
        budget = benchmark.p95_budget_ms
        seq_on_top = mart_plan["main_scan"] == "Seq Scan"
        result = {
            "benchmark": benchmark.name,
            "model": benchmark.model,
            "rows": rows,
            "max_rows": benchmark.max_rows,
            "rows_within_max": benchmark.max_rows is None or rows <= benchmark.max_rows,
            "p95_budget_ms": budget,
            "mart": mart,
            "raw": raw,
            "speedup_p50": ratio(raw["p50_ms"], mart["p50_ms"]),
            "speedup_p95": ratio(raw["p95_ms"], mart["p95_ms"]),
            "budget_fraction": ratio(mart["p95_ms"], budget),
            "within_budget": budget is None or mart["p95_ms"] <= budget,
            "expect_index_scan": benchmark.expect_index_scan,
            "seq_scan_flagged": benchmark.expect_index_scan and seq_on_top,
            "plan": {"mart": mart_plan, "raw": raw_plan},
            "answer": dict(answers.get(benchmark.name, {})),
        }
        results.append(result)
        log(
            "queries",
            f"{benchmark.name}: mart p95 {fmt.ms(mart['p95_ms'])} (n={mart['n']}),"
            f" raw p95 {fmt.ms(raw['p95_ms'])} (n={raw['n']}):"
            f" mart {fmt.speed(result['speedup_p95'])}",
        )
    return results
