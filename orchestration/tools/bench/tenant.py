"""``value-view bench --tenant-login``: each dashboard query read through a tenant login (the
tenant views of ``value_view_tenant``) beside the same query read directly from the marts, timed
in alternating rounds at one scale, each side's p95 against the mart's budget. The answers of the
two sides must be the same rows: the queries name their tenant, and the login is mapped to it."""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from orchestration.lib import tenancy, tenant_removal
from orchestration.lib.database import ConnectionSettings
from orchestration.lib.measure import measure_query
from orchestration.tools.bench import fmt
from orchestration.tools.bench.answers import check_all_answers
from orchestration.tools.bench.catalog import BenchmarkQuery, quote_ident
from orchestration.tools.bench.figures import latency_summary, ratio
from orchestration.tools.bench.options import BenchError, BenchOptions, Progress
from orchestration.tools.bench.queries import _next_chunk, _plan
from orchestration.tools.bench.warehouse import (
    STATEMENT_TIMEOUT_MS,
    Warehouse,
    prepare_warehouse,
    session,
)

UUID_LITERAL = re.compile(
    r"'([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})'", re.IGNORECASE
)


def tenant_sql(sql_text: str) -> str:
    """The query with every relation of the BI schema read from the tenant schema instead."""
    return sql_text.replace(
        quote_ident(tenancy.BI_SCHEMA) + ".", quote_ident(tenancy.TENANT_SCHEMA) + "."
    )


def query_tenant(sql_text: str, tenants: Sequence[uuid.UUID]) -> uuid.UUID | None:
    """The tenant a query names (the first tenant id among its literals), if any."""
    known = set(tenants)
    for literal in UUID_LITERAL.findall(sql_text):
        if uuid.UUID(literal) in known:
            return uuid.UUID(literal)
    return None


def _largest_tenant(warehouse: Warehouse, source_schema: str) -> uuid.UUID:
    with session(warehouse.settings) as conn:
        row = conn.execute(
            f"select tenant_id from {quote_ident(source_schema)}.users"
            " group by tenant_id order by count(*) desc, tenant_id limit 1"
        ).fetchone()
    if row is None:
        raise BenchError("no tenant has users: load demo data first")
    return row[0]


def _tenants(warehouse: Warehouse, source_schema: str) -> list[uuid.UUID]:
    with session(warehouse.settings) as conn:
        return [
            row[0]
            for row in conn.execute(
                f"select id from {quote_ident(source_schema)}.tenants order by id"
            )
        ]


def _time_both(
    direct: ConnectionSettings,
    through_login: ConnectionSettings,
    queries: Mapping[str, str],
    options: BenchOptions,
) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Alternating rounds of the direct and the tenant query (ms), and the rows each returned."""
    samples: dict[str, list[float]] = {"direct": [], "tenant": []}
    rows: dict[str, int] = {}
    settings = {"direct": direct, "tenant": through_login}
    while True:
        progressed = False
        for side in ("direct", "tenant"):
            chunk = _next_chunk(samples[side], options.runs, options.query_seconds)
            if chunk <= 0:
                continue
            measured = measure_query(
                settings[side],
                queries[side],
                runs=chunk,
                warmup_runs=0 if samples[side] else 1,
                statement_timeout_ms=STATEMENT_TIMEOUT_MS,
            )
            samples[side].extend(measured.timings_ms)
            rows[side] = measured.rows
            progressed = True
        if not progressed:
            return samples, rows


def measure_through_tenant_logins(
    warehouse: Warehouse, options: BenchOptions, log: Progress
) -> list[dict[str, Any]]:
    """Every benchmark query, direct and through a tenant login mapped to the query's tenant."""
    tenants = _tenants(warehouse, options.source_schema)
    fallback = _largest_tenant(warehouse, options.source_schema)
    password = secrets.token_urlsafe(24)
    suffix = secrets.token_hex(3)
    logins: dict[uuid.UUID, str] = {}
    results = []
    try:
        for benchmark in warehouse.benchmarks:
            tenant = query_tenant(benchmark.sql, tenants) or fallback
            if tenant not in logins:
                login = f"vv_bench_tenant_{suffix}_{len(logins)}"
                tenancy.add_login(warehouse.settings, login, tenant, password=password)
                logins[tenant] = login
            results.append(
                _measure_one(warehouse, benchmark, logins[tenant], password, options, log)
            )
    finally:
        for login in logins.values():
            tenant_removal.remove_login(warehouse.settings, login)
    return results


def _measure_one(
    warehouse: Warehouse,
    benchmark: BenchmarkQuery,
    login: str,
    password: str,
    options: BenchOptions,
    log: Progress,
) -> dict[str, Any]:
    through_login = replace(warehouse.settings, user=login, password=password)
    queries = {"direct": benchmark.sql, "tenant": tenant_sql(benchmark.sql)}
    samples, rows = _time_both(warehouse.settings, through_login, queries, options)
    with session(warehouse.settings) as conn:
        direct_plan = _plan(conn, queries["direct"])
    with session(through_login) as conn:
        tenant_plan = _plan(conn, queries["tenant"])
    direct, tenant = latency_summary(samples["direct"]), latency_summary(samples["tenant"])
    budget = benchmark.p95_budget_ms
    result = {
        "benchmark": benchmark.name,
        "model": benchmark.model,
        "p95_budget_ms": budget,
        "rows": rows,
        "same_rows": rows.get("direct") == rows.get("tenant"),
        "direct": direct,
        "tenant": tenant,
        "tenant_over_direct_p95": ratio(tenant["p95_ms"], direct["p95_ms"]),
        "tenant_within_budget": budget is None or tenant["p95_ms"] <= budget,
        "plan": {"direct": direct_plan, "tenant": tenant_plan},
    }
    log(
        "tenant",
        f"{benchmark.name}: direct p95 {fmt.ms(direct['p95_ms'])},"
        f" tenant login p95 {fmt.ms(tenant['p95_ms'])}"
        f" (x{result['tenant_over_direct_p95']}), budget {fmt.ms(budget) if budget else '-'}",
    )
    return result


def render_markdown(report: Mapping[str, Any]) -> str:
    lines = [
        f"# Dashboard queries through a tenant login, scale {report['scale']}",
        "",
        "| query | budget | direct p95 | tenant p95 | tenant / direct | within budget | rows |",
        "| --- | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for row in report["queries"]:
        budget = fmt.ms(row["p95_budget_ms"]) if row["p95_budget_ms"] else "-"
        rows = row["rows"].get("tenant")
        same = "" if row["same_rows"] else f" (direct {row['rows'].get('direct')})"
        lines.append(
            f"| {row['benchmark']} | {budget} | {fmt.ms(row['direct']['p95_ms'])}"
            f" | {fmt.ms(row['tenant']['p95_ms'])} | {row['tenant_over_direct_p95']}"
            f" | {'yes' if row['tenant_within_budget'] else 'NO'} | {rows}{same} |"
        )
    return "\n".join(lines) + "\n"


def run_tenant_bench(
    server: ConnectionSettings,
    options: BenchOptions,
    log: Progress,
) -> dict[str, Any]:
    """Build (or reuse) the warehouse of ``--scale``, check the answers, time every query both
    ways; write ``bench_tenant.json`` and ``bench_tenant.md`` under ``--out``."""
    as_of = options.as_of or dt.datetime.now(dt.timezone.utc).date()
    warehouse = prepare_warehouse(server, options.scale, options, as_of, log)
    if not warehouse.benchmarks:
        raise BenchError("the manifest declares no benchmark analyses (analyses/benchmarks/)")
    check_all_answers(warehouse.settings, warehouse.benchmarks, log)
    queries = measure_through_tenant_logins(warehouse, options, log)
    failures = [
        f"{row['benchmark']}: the tenant login read {row['rows'].get('tenant')} rows,"
        f" the direct query {row['rows'].get('direct')}"
        for row in queries
        if not row["same_rows"]
    ]
    report = {"scale": options.scale, "as_of": str(as_of), "queries": queries, "failures": failures}
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    markdown = render_markdown(report)
    (out / "bench_tenant.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (out / "bench_tenant.md").write_text(markdown)
    print(markdown, flush=True)
    log("done", f"wrote {out / 'bench_tenant.json'}, {out / 'bench_tenant.md'}")
    return report
