"""A whole bench run, phase after phase, and ``value-view bench`` itself: the report goes to the
terminal (Markdown) and to ``bench.json``, ``bench.md`` and ``bench.png`` under ``--out``."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shlex
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestration.lib import database
from orchestration.lib import settings as project_settings
from orchestration.lib.database import ConnectionSettings
from orchestration.tools.bench import dbt as bench_dbt
from orchestration.tools.bench.ambitions import ambitions
from orchestration.tools.bench.answers import AnswerMismatch, check_all_answers
from orchestration.tools.bench.catalog import MaterializedView, collect_benchmarks
from orchestration.tools.bench.chart import write_chart
from orchestration.tools.bench.incremental import measure_incremental
from orchestration.tools.bench.machine import load_average, machine_info, software_versions
from orchestration.tools.bench.options import BenchError, BenchOptions, Progress, options_from_args
from orchestration.tools.bench.pgbench import write_scripts
from orchestration.tools.bench.queries import measure_queries
from orchestration.tools.bench.readers import failures as reader_failures
from orchestration.tools.bench.readers import reads_under_refresh
from orchestration.tools.bench.refresh import measure_refreshes
from orchestration.tools.bench.report import readers_table, render_markdown, throughput_table
from orchestration.tools.bench.scaling import scale_figures, scaling_ratios
from orchestration.tools.bench.tenant import run_tenant_bench
from orchestration.tools.bench.throughput import load_phase, measure_throughput
from orchestration.tools.bench.users import measure_users, running_pooler, users_failures
from orchestration.tools.bench.users_report import (
    closed_loop_failures,
    render_users_markdown,
    write_users_chart,
)
from orchestration.tools.bench.warehouse import Warehouse, prepare_warehouse


@dataclass
class BenchRun:
    report: dict[str, Any]
    warehouses: dict[int, Warehouse]
    paths: dict[str, Path]


def _new_report(options: BenchOptions, as_of: dt.date, command: str | None) -> dict[str, Any]:
    return {
        "format": 1,
        "generated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": command or "value-view bench",
        "parameters": {
            "scale": options.scale,
            "scales": options.all_scales(),
            "seed": options.seed,
            "as_of": as_of.isoformat(),
            "runs": options.runs,
            "query_seconds": options.query_seconds,
            "refresh_runs": options.refresh_runs,
            "readers": options.readers,
            "reader_seconds": options.reader_seconds,
            "clients": list(options.clients),
            "throughput_seconds": options.throughput_seconds,
            "load_readers": options.load_readers,
            "load_seconds": options.load_seconds,
            "source_schema": options.source_schema,
            "database_prefix": options.database_prefix,
        },
        "machine": machine_info(),
        "failures": [],
    }


def _refresh_target(warehouse: Warehouse, wanted: str | None) -> MaterializedView | None:
    """The materialized view refreshed under the readers: a maintained table is no candidate (its
    plain counterpart is a stand-in that no reader reads, so it would block no one)."""
    views = [view for view in warehouse.views if not view.table]
    if wanted is not None:
        for view in views:
            if wanted in (view.name, view.identifier):
                return view
        raise BenchError(
            f"--refresh-relation {wanted!r} is not a materialized view;"
            f" choose from {[view.name for view in views]}"
        )
    return max(views, key=lambda view: view.rows, default=None)


def _pgbench_phases(
    primary: Warehouse, report: dict[str, Any], options: BenchOptions, log: Progress
) -> dict[str, Any]:
    """Readers under refresh, throughput and load into ``report``; the reads for the chart."""
    failures = report["failures"]
    points: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="vv-bench-") as scratch:
        workdir = Path(scratch)
        scripts = write_scripts(primary.benchmarks, workdir / "scripts")
        view = _refresh_target(primary, options.refresh_relation)
        if view is not None and options.readers > 0:
            report["reads_under_refresh"], points = reads_under_refresh(
                primary, view, scripts, options, workdir, log
            )
            failures.extend(reader_failures(report["reads_under_refresh"], view.name))
        else:
            report["reads_under_refresh"] = None
        report["throughput"] = measure_throughput(primary.settings, scripts, options, workdir, log)
        if options.load_readers > 0 and options.load_seconds > 0:
            load = load_phase(primary, scripts, report["refresh"], options, workdir, log)
            report["load"] = load
            if load["errors"]:
                failures.append(
                    f"load: {load['errors']} reader errors while tier"
                    f" {load['tier']} refreshed: {load['error_messages'][:3]}"
                )
            for error in load["refresh_errors"]:
                failures.append(f"load: tier refresh failed: {error}")
        else:
            report["load"] = None
    return points


def _other_scales(
    server: ConnectionSettings,
    options: BenchOptions,
    as_of: dt.date,
    log: Progress,
    warehouses: dict[int, Warehouse],
    failures: list[str],
) -> list[dict[str, Any]]:
    """The figures of each scale but the main one, each in its own database, in scale order."""
    found = []
    for scale in options.all_scales():
        if scale == options.scale:
            continue
        log("scaling", f"scale {scale}")
        try:
            warehouse = prepare_warehouse(server, scale, options, as_of, log)
            warehouses[scale] = warehouse
            answers = check_all_answers(warehouse.settings, warehouse.benchmarks, log)
        except (BenchError, AnswerMismatch) as error:
            # What was measured so far is still written; the run fails at the end.
            failures.append(f"scale {scale}: {error}")
            log("scaling", f"FAIL scale {scale}: {str(error).splitlines()[0]}")
            continue
        queries = measure_queries(warehouse, options, log, answers)
        refresh = measure_refreshes(warehouse, options.refresh_runs, log, options, phase="scaling")
        incremental = measure_incremental(warehouse, options, log, phase="scaling")
        found.append(scale_figures(warehouse, queries, refresh, incremental))
    return found


def _write_outputs(
    report: dict[str, Any], points: dict[str, Any], out: Path, log: Progress
) -> dict[str, Path]:
    paths = {
        "json": out / "bench.json",
        "markdown": out / "bench.md",
        "chart": out / "bench.png",
    }
    markdown = render_markdown(report)
    report["outputs"] = {name: str(path) for name, path in paths.items()}
    paths["json"].write_text(json.dumps(report, indent=2, default=str) + "\n")
    paths["markdown"].write_text(markdown)
    write_chart(report, points, paths["chart"])
    print(markdown, flush=True)
    log("done", f"wrote {paths['json']}, {paths['markdown']}, {paths['chart']}")
    return paths


def run(
    server: ConnectionSettings,
    options: BenchOptions,
    log: Progress | None = None,
    command: str | None = None,
) -> BenchRun:
    """Run every phase; write bench.json, bench.md and bench.png. AnswerMismatch on a wrong twin."""
    log = log or Progress()
    as_of = options.as_of or dt.datetime.now(dt.timezone.utc).date()
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    report = _new_report(options, as_of, command)
    log(
        "setup",
        f"server {server.host}:{server.port} ({server.source}), scales {options.all_scales()}",
    )
    primary = prepare_warehouse(server, options.scale, options, as_of, log)
    warehouses = {options.scale: primary}
    report["versions"] = software_versions(primary.settings)
    if not primary.benchmarks:
        raise BenchError("the manifest declares no benchmark analyses (analyses/benchmarks/)")

    answers = check_all_answers(primary.settings, primary.benchmarks, log)
    report["queries"] = measure_queries(primary, options, log, answers)
    report["refresh"] = measure_refreshes(primary, options.refresh_runs, log, options)
    report["incremental"] = measure_incremental(primary, options, log)
    report["tiers"] = None
    if options.tier_runs:
        # Imported here: the tier runs load the Dagster code location, which every other
        # command of the CLI would otherwise pay for at start-up (seconds).
        from orchestration.tools.bench.tiers import measure_tier_runs

        report["tiers"] = measure_tier_runs(primary, options, log)
    if report["tiers"]:
        report["failures"].extend(report["tiers"]["failures"])
    points = _pgbench_phases(primary, report, options, log)

    others = _other_scales(server, options, as_of, log, warehouses, report["failures"])
    main = scale_figures(primary, report["queries"], report["refresh"], report["incremental"])
    per_scale = sorted([main, *others], key=lambda row: row["scale"])
    report["scaling"] = {"per_scale": per_scale, "ratios": scaling_ratios(per_scale)}
    report["ambitions"] = ambitions(report)
    average = load_average()
    if average is not None:
        report["machine"]["load_average_end"] = average

    paths = _write_outputs(report, points, out, log)
    if options.drop_databases:
        for warehouse in warehouses.values():
            database.drop_database(warehouse.settings)
    return BenchRun(report=report, warehouses=warehouses, paths=paths)


def run_readers(
    server: ConnectionSettings, options: BenchOptions, log: Progress | None = None
) -> dict[str, Any]:
    """``--readers-only``: the reads-under-refresh phase alone on the warehouse of ``--scale``;
    writes ``bench_readers.json`` and ``bench_readers.md`` under ``--out``."""
    log = log or Progress()
    as_of = options.as_of or dt.datetime.now(dt.timezone.utc).date()
    warehouse = prepare_warehouse(server, options.scale, options, as_of, log)
    view = _refresh_target(warehouse, options.refresh_relation)
    if view is None or not warehouse.benchmarks:
        raise BenchError("the warehouse has no materialized view or no benchmark analyses")
    with tempfile.TemporaryDirectory(prefix="vv-bench-") as scratch:
        scripts = write_scripts(warehouse.benchmarks, Path(scratch) / "scripts")
        reads, _ = reads_under_refresh(warehouse, view, scripts, options, Path(scratch), log)
    report = {
        "scale": options.scale,
        "as_of": str(as_of),
        "machine": machine_info(),
        "reads_under_refresh": reads,
        "failures": reader_failures(reads, view.name),
    }
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    markdown = readers_table(reads)
    (out / "bench_readers.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (out / "bench_readers.md").write_text(markdown)
    print(markdown, flush=True)
    log("done", f"wrote {out / 'bench_readers.json'}, {out / 'bench_readers.md'}")
    return report


def run_users(
    server: ConnectionSettings,
    options: BenchOptions,
    log: Progress | None = None,
    command: str | None = None,
) -> dict[str, Any]:
    """``--users``: the users on the warehouse the running pooler serves (primary and pooler),
    and closed-loop throughput beside ``pgbench -S``; writes bench.json, bench.md, bench.png."""
    log = log or Progress()
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    pooler = running_pooler()
    primary = server.with_database(pooler.endpoint.dbname)
    report: dict[str, Any] = {
        "format": 1,
        "generated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": command or f"value-view bench --users {options.users}",
        "database": primary.dbname,
        "parameters": {
            "users": options.users,
            "user_seconds": options.user_seconds,
            "clients": list(options.clients),
            "throughput_seconds": options.throughput_seconds,
        },
        "machine": machine_info(),
        "failures": [],
    }
    log("setup", f"users on {primary.dbname} through the pooler at {pooler.address}")
    manifest = bench_dbt.parse(primary, options)
    benchmarks = collect_benchmarks(manifest, primary, options)
    if not benchmarks:
        raise BenchError("the manifest declares no benchmark analyses (analyses/benchmarks/)")
    with tempfile.TemporaryDirectory(prefix="vv-bench-") as scratch:
        workdir = Path(scratch)
        scripts = write_scripts(benchmarks, workdir / "scripts")
        report["users"] = measure_users(primary, benchmarks, scripts, options, workdir, log)
        report["throughput"] = measure_throughput(primary, scripts, options, workdir, log)
    report["failures"] = users_failures(report["users"]) + closed_loop_failures(report)
    markdown = render_users_markdown(report, throughput_table(report))
    paths = {"json": out / "bench.json", "markdown": out / "bench.md", "chart": out / "bench.png"}
    report["outputs"] = {name: str(path) for name, path in paths.items()}
    paths["json"].write_text(json.dumps(report, indent=2, default=str) + "\n")
    paths["markdown"].write_text(markdown)
    write_users_chart(report, paths["chart"])
    print(markdown, flush=True)
    log("done", f"wrote {paths['json']}, {paths['markdown']}, {paths['chart']}")
    return report


def _run_tenant_command(options: BenchOptions) -> int:
    try:
        report = run_tenant_bench(project_settings.resolve(), options, Progress())
    except AnswerMismatch as error:
        print(f"value-view bench: FAIL: mart and raw answers differ\n{error}", file=sys.stderr)
        return 1
    except BenchError as error:
        print(f"value-view bench: {error}", file=sys.stderr)
        return 1
    for failure in report["failures"]:
        print(f"value-view bench: FAIL: {failure}", file=sys.stderr)
    return 1 if report["failures"] else 0


def run_command(args: argparse.Namespace) -> int:
    """`value-view bench`: 0 when every gate holds, 1 when answers differ or readers failed."""
    options = options_from_args(args)
    command = "value-view " + " ".join(shlex.quote(arg) for arg in sys.argv[1:])
    if options.users:
        try:
            running_pooler()  # refused before a server is started for nothing
            users_report = run_users(project_settings.resolve(), options, command=command)
        except BenchError as error:
            print(f"value-view bench: {error}", file=sys.stderr)
            return 1
        for failure in users_report["failures"]:
            print(f"value-view bench: FAIL: {failure}", file=sys.stderr)
        return 1 if users_report["failures"] else 0
    if options.tenant_login:
        return _run_tenant_command(options)
    if options.readers_only:
        try:
            readers_report = run_readers(project_settings.resolve(), options)
        except BenchError as error:
            print(f"value-view bench: {error}", file=sys.stderr)
            return 1
        for failure in readers_report["failures"]:
            print(f"value-view bench: FAIL: {failure}", file=sys.stderr)
        return 1 if readers_report["failures"] else 0
    try:
        result = run(project_settings.resolve(), options, command=command)
    except AnswerMismatch as error:
        print(f"value-view bench: FAIL: mart and raw answers differ\n{error}", file=sys.stderr)
        return 1
    except BenchError as error:
        print(f"value-view bench: {error}", file=sys.stderr)
        return 1
    for failure in result.report["failures"]:
        print(f"value-view bench: FAIL: {failure}", file=sys.stderr)
    return 1 if result.report["failures"] else 0
