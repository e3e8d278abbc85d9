"""Phases 4 and 5: throughput of the dashboard mix at several client counts, each beside
``pgbench -S`` (a primary-key point read, the ceiling of any read on this server) at the same
count, and load: many readers while dbt refreshes a whole refresh tier (reader errors must be 0)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from orchestration.lib import database
from orchestration.lib import manifest as project
from orchestration.lib.database import ConnectionSettings
from orchestration.tools.bench import fmt
from orchestration.tools.bench.dbt import run_dbt
from orchestration.tools.bench.figures import latency_summary, ratio
from orchestration.tools.bench.options import BenchError, BenchOptions, Progress
from orchestration.tools.bench.pgbench import PgbenchProcess, pgbench_path
from orchestration.tools.bench.warehouse import Warehouse

# pgbench's own tables for the point-read ceiling: scale 1 is 100,000 accounts (about 15 MB,
# always in cache: the ceiling measures the server and the client, not the disk).
POINT_READ_SCALE = 1


def point_read_database(settings: ConnectionSettings, options: BenchOptions) -> ConnectionSettings:
    """A database of pgbench's own tables (``pgbench -i``), made once and then reused."""
    target = settings.with_database(f"{options.database_prefix}_pgbench")
    database.ensure_database(target)
    with database.connect(target, autocommit=True) as conn:
        ready = conn.execute("select to_regclass('public.pgbench_accounts') is not null").fetchone()
    if not ready[0]:
        env = {**target.env()}
        result = subprocess.run(
            [pgbench_path(), "-i", "-q", "-s", str(POINT_READ_SCALE)],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise BenchError(f"pgbench -i failed: {result.stderr.strip()[-500:]}")
    return target


def free_connection_slots(settings: ConnectionSettings) -> tuple[int, int]:
    """The connections the server still accepts from a login that is not a superuser, and its
    ``max_connections``."""
    with database.connect(settings, autocommit=True) as conn:
        free, limit = conn.execute(
            "select current_setting('max_connections')::int"
            " - current_setting('superuser_reserved_connections')::int"
            " - coalesce(current_setting('reserved_connections', true)::int, 0)"
            " - (select count(*) from pg_catalog.pg_stat_activity"
            "    where backend_type = 'client backend')::int,"
            " current_setting('max_connections')::int"
        ).fetchone()
    return max(0, int(free)), int(limit)


def measure_throughput(
    settings: ConnectionSettings,
    scripts: Sequence[Path],
    options: BenchOptions,
    workdir: Path,
    log: Progress,
) -> list[dict[str, Any]]:
    """The mix and ``pgbench -S`` at each client count. A count over the server's free
    connection slots is not run (the server would refuse the clients past them): its row says
    so, and the other counts still run; a pooler is how more clients than that are served."""
    names = [path.stem for path in scripts]
    results = []
    point_reads = point_read_database(settings, options)
    for clients in options.clients:
        free, limit = free_connection_slots(settings)
        if clients > free:
            refused = (
                f"not run: {clients} clients exceed the server's {free} free connection slots"
                f" (max_connections {limit}); more clients need the pooler"
            )
            results.append({"clients": clients, "queries_per_s": None, "refused": refused})
            log("throughput", f"{clients} clients: {refused}")
            continue
        ceiling = PgbenchProcess(
            point_reads,
            [],
            clients,
            options.throughput_seconds,
            workdir,
            f"select_only_{clients}",
            extra_args=["--select-only"],
        ).finish()
        ceiling_per_s = (
            ceiling.tps if ceiling.tps is not None else len(ceiling.latencies()) / ceiling.elapsed
        )
        run = PgbenchProcess(
            settings,
            scripts,
            clients,
            options.throughput_seconds,
            workdir,
            f"throughput_{clients}",
        ).finish()
        latencies = run.latencies()
        queries_per_s = run.tps if run.tps is not None else len(latencies) / run.elapsed
        result = {
            "clients": clients,
            "seconds": run.seconds,
            "queries": len(latencies),
            "queries_per_s": round(queries_per_s, 2),
            "latency": latency_summary(latencies),
            "errors": run.errors,
            "per_query_p95_ms": run.per_script(names, "p95_ms"),
            "point_reads_per_s": round(ceiling_per_s, 2),
            "point_read_p95_ms": latency_summary(ceiling.latencies()).get("p95_ms"),
            "mix_over_point_reads": ratio(queries_per_s, ceiling_per_s),
        }
        results.append(result)
        log(
            "throughput",
            f"{clients} clients: {result['queries_per_s']:,.1f} queries/s,"
            f" p95 {fmt.ms(result['latency'].get('p95_ms'))}, errors {run.errors};"
            f" pgbench -S {result['point_reads_per_s']:,.0f}/s",
        )
    return results


def choose_tier(refresh: Mapping[str, Any], wanted: str | None) -> tuple[str, list[str]]:
    """The tier (cron) to refresh under load and the names of its materialized views.

    By default the tier whose materialized views took longest to refresh in phase 2.
    """
    tiers: dict[str, list[dict[str, Any]]] = {}
    for row in refresh["views"]:
        if row["cron"]:
            tiers.setdefault(row["cron"], []).append(row)
    if not tiers:
        raise BenchError("no materialized view declares meta.refresh.cron: no tier to refresh")
    if wanted is not None:
        cron = " ".join(wanted.split())
        if cron not in tiers:
            raise BenchError(f"--load-tier {wanted!r} is not a tier; tiers: {sorted(tiers)}")
    else:
        cron = max(tiers, key=lambda key: (sum(row["production_s"] for row in tiers[key]), key))
    return cron, [row["relation"] for row in tiers[cron]]


def load_phase(
    warehouse: Warehouse,
    scripts: Sequence[Path],
    refresh: Mapping[str, Any],
    options: BenchOptions,
    workdir: Path,
    log: Progress,
) -> dict[str, Any]:
    """``--load-readers`` readers for ``--load-seconds`` while dbt refreshes a whole tier."""
    cron, models = choose_tier(refresh, options.load_tier)
    log(
        "load",
        f"{options.load_readers} readers for {options.load_seconds} s while dbt refreshes tier"
        f" {project.tier_name(cron)} ({', '.join(models)})",
    )
    pgbench = PgbenchProcess(
        warehouse.settings, scripts, options.load_readers, options.load_seconds, workdir, "load"
    )
    refreshes: list[dict[str, Any]] = []
    time.sleep(min(1.0, options.load_seconds / 4))
    while pgbench.running():
        remaining = pgbench.started_at + pgbench.seconds - time.time()
        last = refreshes[-1]["seconds"] if refreshes else 0.0
        if refreshes and remaining < last:
            break
        started = time.perf_counter()
        error = None
        try:
            run_dbt(["run", "--select", *models], warehouse.settings, options)
        except BenchError as failure:
            error = str(failure)[-1500:]
        refreshes.append({"seconds": round(time.perf_counter() - started, 3), "error": error})
        log(
            "load",
            f"tier refresh {len(refreshes)}: {refreshes[-1]['seconds']:.1f} s"
            + (" FAILED" if error else ""),
        )
    run = pgbench.finish()
    latencies = run.latencies()
    result = {
        "readers": options.load_readers,
        "seconds": run.seconds,
        "tier": project.tier_name(cron),
        "cron": cron,
        "models": models,
        "tier_refreshes": len(refreshes),
        "tier_refresh_seconds": [item["seconds"] for item in refreshes],
        "refresh_errors": [item["error"] for item in refreshes if item["error"]],
        "reads": len(latencies),
        "reads_per_s": round(len(latencies) / run.elapsed, 2),
        "latency": latency_summary(latencies),
        "errors": run.errors,
        "error_messages": run.aborted[:10],
    }
    log(
        "load",
        f"{result['reads']:,} reads, {result['errors']} errors,"
        f" p99 {fmt.ms(result['latency'].get('p99_ms'))}, {len(refreshes)} tier refreshes",
    )
    return result
