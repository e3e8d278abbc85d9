"""`value-view bench`: how fast the marts are, and why, measured side by side in one run.

Each scale gets a database of its own (``<prefix>_s<scale>``) with deterministic demo data and a
cold ``dbt build``. At the chosen scale the command then measures:

* queries     every benchmark analysis (analyses/benchmarks/) on its mart, interleaved with its raw
              twin (analyses/benchmarks/raw/), which asks the same question of the source tables;
              both must return the same rows, else the run fails naming the benchmark;
* refresh     plain and concurrent REFRESH of every materialized view, beside the spec's estimate;
* readers     K readers (pgbench) run the dashboard mix while the largest materialized view is
              refreshed over and over: without refresh (control), with plain REFRESH, CONCURRENTLY;
* load        many readers while a whole refresh tier runs through dbt; reader errors must be 0;
* throughput  the dashboard mix at several client counts (pgbench);
* scaling     build, refresh and query p95 at every scale of ``--scales``, and their ratios.

Marts, budgets, tiers and analyses come from the dbt manifest, and queries are timed with the
Dagster latency check's own ``measure_query`` (``orchestration.checks``). Results go to the
terminal (Markdown) and to ``bench.json``, ``bench.md`` and ``bench.png`` under ``--out``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import glob
import json
import math
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import metadata
from pathlib import Path
from typing import Any

from orchestration.lib import database
from orchestration.lib import manifest as project
from orchestration.lib import settings as project_settings
from orchestration.lib.database import ConnectionSettings
from orchestration.lib.dbt_runner import DbtCommandError
from orchestration.lib.dbt_runner import run_dbt as run_project_dbt
from orchestration.lib.measure import measure_query, percentile, summarize_plan
from orchestration.lib.report import format_table
from orchestration.lib.settings import PROJECT_ROOT
from orchestration.tools.demo_data import load_demo_data
from orchestration.tools.options import UsageError, parse_date, parse_scale, parse_seed

DEFAULT_OUT = PROJECT_ROOT / "bench_results"
DEFAULT_TARGET_PATH = PROJECT_ROOT / "target_bench"
MARTS_FOLDER = "models/marts"
BENCHMARK_FOLDER = "analyses/benchmarks"
RAW_FOLDER = "analyses/benchmarks/raw"
MIN_RUNS = 5
STATEMENT_TIMEOUT_MS = 600_000
DBT_TIMEOUT_S = 7200
LOCK_SAMPLE_INTERVAL_S = 0.02
TIMELINE_BUCKET_S = 0.5
# pgbench logs latencies in whole microseconds, some as 0: the chart's log axis starts here.
LATENCY_FLOOR_MS = 0.05
# Columns whose value is the time of the refresh or of the query, not part of the answer.
VOLATILE_COLUMN = re.compile(r"refreshed|computed_at|generated_at", re.IGNORECASE)
REFRESH_MODES = ("none", "plain", "concurrently")

# Reference data from the specification (table 3.1, "Refresh Time"), shown beside the measured
# refresh times. A mart's `meta.refresh.spec_estimate` takes precedence when present.
SPEC_REFRESH_ESTIMATES = {
    "mv_value_view_odi_heatmap": "2-5 min",
    "mv_value_view_jtbd_summary": "10-30 sec",
    "mv_value_view_persona_dashboard": "5-10 sec",
    "mv_value_view_workflow_analytics": "1-3 min",
    "mv_value_view_strategic_alignment": "5 sec",
    "mv_value_view_value_realization": "30-60 sec",
}

# Ambitions reported at the end of a run (measured, never asserted by tests).
AMBITION_BUDGET_FRACTION = 0.1
AMBITION_BUDGET_SCALE = 10
AMBITION_HEATMAP_SPEEDUP = 20.0
AMBITION_REFRESH_SCALE = 1
AMBITION_REFRESH_TOTAL_S = 3.0
AMBITION_STALL_MS = 50.0


class BenchError(RuntimeError):
    """The benchmark cannot run as asked; the message says why."""


class AnswerMismatch(AssertionError):
    """A mart and its raw twin answer a benchmark's question differently."""

    def __init__(self, benchmarks: Sequence[str], message: str) -> None:
        super().__init__(message)
        self.benchmarks = list(benchmarks)


@dataclass
class BenchOptions:
    scale: int = 1
    scales: tuple[int, ...] = (1, 10)
    seed: int = 42
    as_of: dt.date | None = None
    out: Path = DEFAULT_OUT
    database_prefix: str = "vv_bench"
    target_path: Path = DEFAULT_TARGET_PATH
    source_schema: str = "vital"
    runs: int = 100
    query_seconds: float = 20.0
    refresh_runs: int = 3
    readers: int = 16
    reader_seconds: int = 20
    refresh_relation: str | None = None
    clients: tuple[int, ...] = (8, 32, 64)
    throughput_seconds: int = 10
    load_readers: int = 50
    load_seconds: int = 60
    load_tier: str | None = None
    reload: bool = False
    drop_databases: bool = False

    def all_scales(self) -> list[int]:
        return sorted({self.scale, *self.scales})


class Progress:
    """One line per phase step, with the time since the run started."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.started = time.monotonic()

    def __call__(self, phase: str, message: str) -> None:
        if self.enabled:
            elapsed = time.monotonic() - self.started
            print(f"[bench {elapsed:7.1f}s] {phase:<10} {message}", flush=True)


# --------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def latency_summary(samples_ms: Sequence[float]) -> dict[str, float]:
    """n, p50, p95, p99, max and mean of latencies in milliseconds (nearest-rank percentiles)."""

    if not samples_ms:
        return {"n": 0}
    return {
        "n": len(samples_ms),
        "p50_ms": round(percentile(samples_ms, 0.50), 3),
        "p95_ms": round(percentile(samples_ms, 0.95), 3),
        "p99_ms": round(percentile(samples_ms, 0.99), 3),
        "max_ms": round(max(samples_ms), 3),
        "mean_ms": round(statistics.fmean(samples_ms), 3),
    }


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return round(numerator / denominator, 3)


def parse_estimate(text: str | None) -> tuple[float, float] | None:
    """'2-5 min' -> (120, 300); '5 sec' -> (5, 5); None for anything else."""
    if not text:
        return None
    match = re.fullmatch(
        r"\s*([\d.]+)\s*(?:-\s*([\d.]+))?\s*(s|sec|secs|seconds|min|mins|minutes)\s*", text
    )
    if not match:
        return None
    unit = 60.0 if match.group(3).startswith("min") else 1.0
    low = float(match.group(1)) * unit
    high = float(match.group(2) or match.group(1)) * unit
    return low, high


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "machine": platform.machine(),
    }
    if hasattr(os, "sched_getaffinity"):
        info["usable_cpus"] = len(os.sched_getaffinity(0))
    try:
        info["memory_bytes"] = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        info["memory_bytes"] = None
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError):
        info["load_average"] = [round(value, 2) for value in os.getloadavg()]
    return info


def software_versions(settings: ConnectionSettings) -> dict[str, Any]:
    versions: dict[str, Any] = {"python": platform.python_version()}
    for package in ("dbt-core", "dbt-postgres", "dagster", "psycopg"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    with database.connect(settings, autocommit=True) as conn:
        versions["postgres"] = conn.execute("show server_version").fetchone()[0]
        server = {}
        for name in (
            "shared_buffers",
            "work_mem",
            "effective_cache_size",
            "max_parallel_workers_per_gather",
            "jit",
            "max_connections",
        ):
            server[name] = conn.execute(f"show {name}").fetchone()[0]
        versions["server_settings"] = server
    versions["pgbench"] = subprocess.run(
        [pgbench_path(), "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    versions["server_source"] = settings.source
    return versions


def dbt_environment(settings: ConnectionSettings, source_schema: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PGPASSWORD", None)
    env.update(settings.env())
    env["VALUE_VIEW_SOURCE_SCHEMA"] = source_schema
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return env


def run_dbt(
    args: list[str], settings: ConnectionSettings, options: BenchOptions
) -> subprocess.CompletedProcess[str]:
    try:
        return run_project_dbt(
            args,
            target_path=Path(options.target_path),
            env=dbt_environment(settings, options.source_schema),
            timeout=DBT_TIMEOUT_S,
        )
    except DbtCommandError as error:
        raise BenchError(str(error)) from error


# --------------------------------------------------------------------------------------
# The warehouse of one scale: data, build, manifest, benchmarks and materialized views
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Benchmark:
    """A dashboard query on the marts and its raw twin on the source tables."""

    name: str
    model: str | None
    p95_budget_ms: float | None
    max_rows: int | None
    expect_index_scan: bool
    sql: str
    raw_sql: str


@dataclass(frozen=True)
class MaterializedView:
    name: str
    schema: str
    identifier: str
    cron: str | None
    spec_estimate: str | None
    concurrent_ok: bool
    rows: int

    @property
    def relation(self) -> str:
        return f"{quote_ident(self.schema)}.{quote_ident(self.identifier)}"


@dataclass
class Warehouse:
    scale: int
    settings: ConnectionSettings
    manifest: Mapping[str, Any]
    benchmarks: list[Benchmark]
    views: list[MaterializedView]
    load_seconds: float | None
    build_seconds: float
    source_rows: int

    def resource(self, source_schema: str) -> ConnectionSettings:
        return self.settings


def _data_stamp(scale: int, seed: int, as_of: dt.date, schema: str) -> str:
    return f"value-view bench data: scale={scale} seed={seed} as_of={as_of} schema={schema}"


def _database_comment(settings: ConnectionSettings) -> str | None:
    with database.connect(settings, autocommit=True) as conn:
        row = conn.execute(
            "select shobj_description(oid, 'pg_database') from pg_database"
            " where datname = current_database()"
        ).fetchone()
    return row[0] if row else None


def _set_database_comment(settings: ConnectionSettings, comment: str | None) -> None:
    from psycopg import sql

    with database.connect(settings, autocommit=True) as conn:
        conn.execute(
            sql.SQL("comment on database {} is {}").format(
                sql.Identifier(settings.dbname), sql.Literal(comment)
            )
        )


def load_data(
    settings: ConnectionSettings, scale: int, options: BenchOptions, as_of: dt.date, log: Progress
) -> float | None:
    """Load demo data unless the database already holds exactly this scale/seed/as-of."""

    stamp = _data_stamp(scale, options.seed, as_of, options.source_schema)
    if not options.reload and _database_comment(settings) == stamp:
        log("data", f"{settings.dbname}: reusing scale {scale} data (seed {options.seed})")
        return None
    _set_database_comment(settings, None)
    log("data", f"{settings.dbname}: loading scale {scale} (seed {options.seed}, as of {as_of})")
    started = time.perf_counter()
    counts = load_demo_data(
        settings,
        scale=scale,
        seed=options.seed,
        schema=options.source_schema,
        reset=True,
        as_of=as_of,
        progress=False,
    )
    seconds = time.perf_counter() - started
    _set_database_comment(settings, stamp)
    log("data", f"{settings.dbname}: {sum(counts.values()):,} rows in {seconds:.1f} s")
    return seconds


def _drop_built_schemas(settings: ConnectionSettings, source_schema: str) -> list[str]:
    """Drop every schema but the source tables' (the database is the benchmark's own)."""
    with database.connect(settings, autocommit=True) as conn:
        schemas = [
            row[0]
            for row in conn.execute(
                """
                select nspname from pg_namespace
                where left(nspname, 3) <> 'pg_'
                  and nspname not in ('information_schema', 'public', %s)
                order by nspname
                """,
                (source_schema,),
            ).fetchall()
        ]
        for schema in schemas:
            conn.execute(f"drop schema if exists {quote_ident(schema)} cascade")
    return schemas


def _compile(settings: ConnectionSettings, options: BenchOptions) -> Mapping[str, Any]:
    """Parse the project and compile its analyses; the manifest, with their compiled SQL."""
    run_dbt(["compile", "--quiet", "--select", "resource_type:analysis"], settings, options)
    return json.loads((Path(options.target_path) / "manifest.json").read_text())


def build(settings: ConnectionSettings, options: BenchOptions, log: Progress) -> tuple[float, Any]:
    """Time a cold `dbt build` of the marts and everything upstream, then compile the analyses.

    What dbt built before is dropped first; tests are left out (they check, they do not build).
    """
    _drop_built_schemas(settings, options.source_schema)
    log("build", f"{settings.dbname}: dbt build of the marts and their parents, without tests")
    started = time.perf_counter()
    run_dbt(
        [
            "build",
            "--select",
            f"+path:{MARTS_FOLDER}",
            "--exclude-resource-type",
            "test",
            "--exclude-resource-type",
            "unit_test",
        ],
        settings,
        options,
    )
    seconds = time.perf_counter() - started
    log("build", f"{settings.dbname}: built in {seconds:.1f} s; compiling the analyses")
    return seconds, _compile(settings, options)


def _node_meta(node: Mapping[str, Any]) -> Mapping[str, Any]:
    return (node.get("config") or {}).get("meta") or node.get("meta") or {}


def _is_latest(node: Mapping[str, Any]) -> bool:
    version = node.get("version")
    return version is None or str(version) == str(node.get("latest_version"))


def _compile_inline(
    texts: Mapping[str, str], settings: ConnectionSettings, options: BenchOptions
) -> dict[str, str]:
    """Compile several SQL texts in one `dbt compile --inline`, split again by marker comments."""
    if not texts:
        return {}
    marker = "/* value-view bench inline: {} */"
    combined = "\n".join(f"{marker.format(name)}\n{text}" for name, text in texts.items())
    result = run_dbt(
        ["--quiet", "compile", "--inline", combined, "--output", "json"], settings, options
    )
    compiled = json.loads(result.stdout[result.stdout.find("{") :])["compiled"]
    pieces = re.split(r"/\* value-view bench inline: (\S+) \*/\n?", compiled)
    found = dict(zip(pieces[1::2], pieces[2::2], strict=True))
    missing = set(texts) - set(found)
    if missing:
        raise BenchError(f"dbt compiled no SQL for {sorted(missing)}")
    return found


def collect_benchmarks(
    manifest: Mapping[str, Any], settings: ConnectionSettings, options: BenchOptions
) -> list[Benchmark]:
    """Every analysis in analyses/benchmarks/, with its mart's budget and its raw twin."""
    analyses: dict[str, Mapping[str, Any]] = {
        node.get("original_file_path", ""): node
        for node in manifest.get("nodes", {}).values()
        if node.get("resource_type") == "analysis"
    }
    declared: dict[str, tuple[str, Mapping[str, Any]]] = {}
    for node in manifest.get("nodes", {}).values():
        if node.get("resource_type") != "model" or not _is_latest(node):
            continue
        benchmark = _node_meta(node).get("benchmark")
        if isinstance(benchmark, Mapping) and benchmark.get("analysis"):
            declared[str(benchmark["analysis"])] = (node["name"], benchmark)
    names = sorted(
        {Path(path).stem for path in analyses if Path(path).parent.as_posix() == BENCHMARK_FOLDER}
        | set(declared)
    )
    raw_sql: dict[str, str] = {}
    unparsed: dict[str, str] = {}
    for name in names:
        raw_path = f"{RAW_FOLDER}/{name}.sql"
        raw_node = analyses.get(raw_path)
        if raw_node is not None and raw_node.get("compiled_code"):
            raw_sql[name] = raw_node["compiled_code"]
        elif (PROJECT_ROOT / raw_path).exists():
            # A twin dbt does not parse (listed in .dbtignore, say) is compiled inline.
            unparsed[name] = (PROJECT_ROOT / raw_path).read_text()
        else:
            raise BenchError(f"benchmark {name} has no raw twin: {raw_path} is missing")
    raw_sql.update(_compile_inline(unparsed, settings, options))
    benchmarks = []
    for name in names:
        model, meta = declared.get(name, (None, {}))
        node = analyses.get(f"{BENCHMARK_FOLDER}/{name}.sql")
        if node is None or not node.get("compiled_code"):
            raise BenchError(
                f"{model or name} declares benchmark {name!r} but dbt compiled no"
                f" {BENCHMARK_FOLDER}/{name}.sql"
            )
        budget = meta.get("p95_budget_ms")
        max_rows = meta.get("max_rows")
        benchmarks.append(
            Benchmark(
                name=name,
                model=model,
                p95_budget_ms=float(budget) if budget is not None else None,
                max_rows=int(max_rows) if max_rows is not None else None,
                expect_index_scan=bool(meta.get("expect_index_scan", False)),
                sql=node["compiled_code"],
                raw_sql=raw_sql[name],
            )
        )
    return benchmarks


def collect_views(
    manifest: Mapping[str, Any], settings: ConnectionSettings
) -> list[MaterializedView]:
    """The materialized views dbt built (latest versions), as the database reports them."""
    views = []
    with database.connect(settings, autocommit=True) as conn:
        for node in sorted(manifest.get("nodes", {}).values(), key=lambda node: node["name"]):
            if node.get("resource_type") != "model" or not _is_latest(node):
                continue
            schema, identifier = node.get("schema"), node.get("alias") or node["name"]
            found = conn.execute(
                """
                select relations.oid,
                       exists (
                           select 1 from pg_index as indexes
                           where indexes.indrelid = relations.oid and indexes.indisunique
                             and indexes.indisvalid and indexes.indpred is null
                             and indexes.indexprs is null
                       )
                from pg_class as relations
                join pg_namespace as namespaces on namespaces.oid = relations.relnamespace
                where namespaces.nspname = %s and relations.relname = %s
                  and relations.relkind = 'm'
                """,
                (schema, identifier),
            ).fetchone()
            if found is None:
                continue
            meta = _node_meta(node)
            refresh = meta.get("refresh") if isinstance(meta.get("refresh"), Mapping) else {}
            cron = " ".join(str(refresh["cron"]).split()) if refresh.get("cron") else None
            estimate = refresh.get("spec_estimate") or SPEC_REFRESH_ESTIMATES.get(node["name"])
            relation = f"{quote_ident(schema)}.{quote_ident(identifier)}"
            rows = conn.execute(f"select count(*) from {relation}").fetchone()[0]
            views.append(
                MaterializedView(
                    name=node["name"],
                    schema=schema,
                    identifier=identifier,
                    cron=cron,
                    spec_estimate=str(estimate) if estimate else None,
                    concurrent_ok=bool(found[1]),
                    rows=int(rows),
                )
            )
    return views


def _source_rows(settings: ConnectionSettings, schema: str) -> int:
    with database.connect(settings, autocommit=True) as conn:
        row = conn.execute(
            "select coalesce(sum(n_live_tup), 0) from pg_stat_user_tables where schemaname = %s",
            (schema,),
        ).fetchone()
    return int(row[0])


def prepare_warehouse(
    server: ConnectionSettings, scale: int, options: BenchOptions, as_of: dt.date, log: Progress
) -> Warehouse:
    settings = server.with_database(f"{options.database_prefix}_s{scale}")
    database.ensure_database(settings)
    load_seconds = load_data(settings, scale, options, as_of, log)
    build_seconds, manifest = build(settings, options, log)
    benchmarks = collect_benchmarks(manifest, settings, options)
    views = collect_views(manifest, settings)
    log(
        "build",
        f"{settings.dbname}: {len(benchmarks)} benchmark analyses, {len(views)} materialized views",
    )
    return Warehouse(
        scale=scale,
        settings=settings,
        manifest=manifest,
        benchmarks=benchmarks,
        views=views,
        load_seconds=load_seconds,
        build_seconds=build_seconds,
        source_rows=_source_rows(settings, options.source_schema),
    )


# --------------------------------------------------------------------------------------
# Same answer: the mart and the raw twin must return the same rows
# --------------------------------------------------------------------------------------


@dataclass
class Answer:
    columns: list[str]
    rows: list[tuple]


def fetch_answer(conn, sql_text: str) -> Answer:
    cursor = conn.execute(sql_text)
    columns = [column.name for column in cursor.description or []]
    return Answer(columns=columns, rows=[tuple(row) for row in cursor.fetchall()])


def normalize(value: Any) -> Any:
    """A comparable, hashable form: numbers to 6 decimals, arrays to tuples, JSON sorted."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, (float, Decimal)):
        number = float(value)
        if math.isnan(number):
            return "NaN"
        return round(number, 6) + 0.0
    if isinstance(value, (list, tuple)):
        return tuple(normalize(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str)
    return value


def _describe_row(columns: Sequence[str], row: tuple, limit: int = 600) -> str:
    text = ", ".join(f"{column}={value!r}" for column, value in zip(columns, row, strict=False))
    return "(" + (text if len(text) <= limit else text[: limit - 3] + "...") + ")"


def compare_answers(benchmark: str, mart: Answer, raw: Answer) -> dict[str, Any]:
    """Compare two answers as multisets of rows, ignoring volatile columns; raise when they differ.

    Columns are matched by name when both answers have the same names, else by position.
    """
    mart_keep = [i for i, name in enumerate(mart.columns) if not VOLATILE_COLUMN.search(name)]
    raw_keep = [i for i, name in enumerate(raw.columns) if not VOLATILE_COLUMN.search(name)]
    mart_names = [mart.columns[i] for i in mart_keep]
    raw_names = [raw.columns[i] for i in raw_keep]
    if sorted(mart_names) == sorted(raw_names) and len(set(mart_names)) == len(mart_names):
        raw_order = [raw_keep[raw_names.index(name)] for name in mart_names]
        matched = "by name"
    elif len(mart_names) == len(raw_names):
        raw_order = raw_keep
        matched = "by position"
    else:
        raise AnswerMismatch(
            [benchmark],
            f"benchmark {benchmark}: the mart and the raw query return different columns:"
            f" mart {mart_names}, raw {raw_names}",
        )
    mart_rows = [tuple(normalize(row[i]) for i in mart_keep) for row in mart.rows]
    raw_rows = [tuple(normalize(row[i]) for i in raw_order) for row in raw.rows]
    mart_count, raw_count = Counter(mart_rows), Counter(raw_rows)
    if mart_count != raw_count:
        only_mart = mart_count - raw_count
        only_raw = raw_count - mart_count
        side, sample = (
            ("mart", next(iter(only_mart))) if only_mart else ("raw", next(iter(only_raw)))
        )
        raise AnswerMismatch(
            [benchmark],
            f"benchmark {benchmark}: the mart and the raw query answer differently"
            f" ({len(mart_rows):,} mart rows, {len(raw_rows):,} raw rows;"
            f" only in the mart: {sum(only_mart.values()):,},"
            f" only in the raw answer: {sum(only_raw.values()):,})."
            f" A row only in the {side} answer: {_describe_row(mart_names, sample)}",
        )
    ignored = sorted({name for name in mart.columns + raw.columns if VOLATILE_COLUMN.search(name)})
    return {
        "rows": len(mart_rows),
        "columns_compared": len(mart_names),
        "columns_matched": matched,
        "ignored_columns": ignored,
        "same_order": mart_rows == raw_rows,
    }


def check_same_answer(conn, benchmark: str, mart_sql: str, raw_sql: str) -> dict[str, Any]:
    """Run both queries and compare their rows; AnswerMismatch names the benchmark."""
    return compare_answers(benchmark, fetch_answer(conn, mart_sql), fetch_answer(conn, raw_sql))


def check_all_answers(
    settings: ConnectionSettings, benchmarks: Sequence[Benchmark], log: Progress
) -> dict[str, dict[str, Any]]:
    """Check every benchmark; one AnswerMismatch listing every benchmark that differs."""
    results: dict[str, dict[str, Any]] = {}
    failures: list[AnswerMismatch] = []
    with _session(settings) as conn:
        for benchmark in benchmarks:
            try:
                results[benchmark.name] = check_same_answer(
                    conn, benchmark.name, benchmark.sql, benchmark.raw_sql
                )
            except AnswerMismatch as error:
                failures.append(error)
                log("answers", f"FAIL {error}")
                continue
            log(
                "answers",
                f"{benchmark.name}: mart and raw agree on {results[benchmark.name]['rows']:,} rows",
            )
    if failures:
        names = [name for failure in failures for name in failure.benchmarks]
        raise AnswerMismatch(names, "\n".join(str(failure) for failure in failures))
    return results


def _session(settings: ConnectionSettings):
    """An autocommit connection with the benchmark's statement timeout."""
    conn = database.connect(settings, autocommit=True)
    conn.execute(f"set statement_timeout = {STATEMENT_TIMEOUT_MS}")
    return conn


# --------------------------------------------------------------------------------------
# Phase 1: each benchmark on its mart beside its raw twin
# --------------------------------------------------------------------------------------


def _plan(conn, sql_text: str) -> dict[str, Any]:
    """EXPLAIN (ANALYZE, BUFFERS) once: the scans and how many buffers the query touched."""

    statement = sql_text.strip().rstrip(";").strip()
    document = conn.execute(f"explain (analyze, buffers, format json) {statement}").fetchone()[0]
    if isinstance(document, str):
        document = json.loads(document)
    summary = summarize_plan(document)
    scans = list(summary.scans)
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
        "main_scan": scans[0].split(" on ")[0] if scans else summary.top_node,
        "scans": scans,
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
    warehouse_resource, benchmark: Benchmark, options: BenchOptions
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
                warehouse_resource,
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
    resource = warehouse.resource(options.source_schema)
    results = []
    for benchmark in warehouse.benchmarks:
        mart_ms, raw_ms, rows = measure_side_by_side(resource, benchmark, options)
        with _session(warehouse.settings) as conn:
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
            f"{benchmark.name}: mart p95 {_ms(mart['p95_ms'])} (n={mart['n']}),"
            f" raw p95 {_ms(raw['p95_ms'])} (n={raw['n']}): mart {_speed(result['speedup_p95'])}",
        )
    return results


# --------------------------------------------------------------------------------------
# Phase 2: refresh cost per materialized view
# --------------------------------------------------------------------------------------


def _timed_refresh(conn, view: MaterializedView, concurrently: bool) -> float:
    started = time.perf_counter()
    conn.execute(
        f"refresh materialized view {'concurrently ' if concurrently else ''}{view.relation}"
    )
    return time.perf_counter() - started


def measure_refreshes(
    warehouse: Warehouse, runs: int, log: Progress, phase: str = "refresh"
) -> dict[str, Any]:
    results = []
    with database.connect(warehouse.settings, autocommit=True) as conn:
        conn.execute(f"set statement_timeout = {STATEMENT_TIMEOUT_MS}")
        for view in warehouse.views:
            _timed_refresh(conn, view, concurrently=False)
            plain = [_timed_refresh(conn, view, concurrently=False) for _ in range(runs)]
            concurrent = (
                [_timed_refresh(conn, view, concurrently=True) for _ in range(runs)]
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
                f"{view.name}: {view.rows:,} rows, plain {_secs(plain_s)},"
                f" concurrently {_secs(concurrent_s)} (spec {view.spec_estimate or '-'})",
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


# --------------------------------------------------------------------------------------
# pgbench: readers, throughput and load
# --------------------------------------------------------------------------------------


def pgbench_path() -> str:
    candidate = database.server_bin_dir() / "pgbench"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("pgbench")
    if not found:
        raise BenchError("pgbench not found (neither the embedded server's nor on PATH)")
    return found


def write_scripts(benchmarks: Sequence[Benchmark], directory: Path) -> list[Path]:
    """One pgbench script per benchmark analysis (the dashboard mix, equal weights)."""
    directory.mkdir(parents=True, exist_ok=True)
    scripts = []
    for benchmark in benchmarks:
        path = directory / f"{benchmark.name}.sql"
        path.write_text(benchmark.sql.strip().rstrip(";").strip() + ";\n")
        scripts.append(path)
    return scripts


@dataclass
class PgbenchRun:
    clients: int
    seconds: int
    started_at: float
    ended_at: float
    returncode: int
    # (script number, start time since the epoch, latency in ms) per completed transaction
    transactions: list[tuple[int, float, float]] = field(default_factory=list)
    failed: int = 0
    aborted: list[str] = field(default_factory=list)
    tps: float | None = None
    output: str = ""

    @property
    def errors(self) -> int:
        return self.failed + len(self.aborted)

    def latencies(self, script: int | None = None) -> list[float]:
        return [ms for number, _, ms in self.transactions if script is None or number == script]


def parse_pgbench_log(lines: Iterable[str]) -> tuple[list[tuple[int, float, float]], int]:
    """Per-transaction log lines -> ((script, start epoch, latency ms), ...) and failed count.

    Line format: client_id transaction_no time script_no time_epoch time_us [...], where time is
    the latency in microseconds (or ``failed``/``skipped``) and the epoch pair is the end time.
    """
    transactions = []
    failed = 0
    for line in lines:
        fields = line.split()
        if len(fields) < 6:
            continue
        if not fields[2].isdigit():
            if fields[2] == "failed":
                failed += 1
            continue
        latency_us = int(fields[2])
        end = int(fields[4]) + int(fields[5]) / 1e6
        transactions.append((int(fields[3]), end - latency_us / 1e6, latency_us / 1000.0))
    return transactions, failed


def parse_pgbench_output(stdout: str, stderr: str) -> tuple[float | None, int, list[str]]:
    """tps (without connection time), failed transactions and aborted-client messages."""
    tps_match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", stdout)
    failed_match = re.search(r"number of failed transactions: (\d+)", stdout)
    aborted = [
        line.strip() for line in stderr.splitlines() if "aborted" in line and "client" in line
    ]
    return (
        float(tps_match.group(1)) if tps_match else None,
        int(failed_match.group(1)) if failed_match else 0,
        aborted,
    )


class PgbenchProcess:
    """pgbench running the dashboard mix in the background, logging every transaction."""

    def __init__(
        self,
        settings: ConnectionSettings,
        scripts: Sequence[Path],
        clients: int,
        seconds: int,
        workdir: Path,
        tag: str,
    ) -> None:
        self.clients = clients
        self.seconds = max(1, math.ceil(seconds))
        self.prefix = workdir / tag
        threads = max(1, min(clients, os.cpu_count() or 1))
        command = [
            pgbench_path(),
            "--no-vacuum",
            "--client",
            str(clients),
            "--jobs",
            str(threads),
            "--time",
            str(self.seconds),
            "--log",
            f"--log-prefix={self.prefix}",
        ]
        for script in scripts:
            command += ["--file", str(script)]
        env = dict(os.environ)
        env.pop("PGPASSWORD", None)
        env.update(settings.env())
        self.started_at = time.time()
        self.process = subprocess.Popen(
            command,
            cwd=workdir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def running(self) -> bool:
        return self.process.poll() is None

    def finish(self) -> PgbenchRun:
        stdout, stderr = self.process.communicate()
        ended = time.time()
        tps, failed_total, aborted = parse_pgbench_output(stdout, stderr)
        transactions: list[tuple[int, float, float]] = []
        failed_logged = 0
        for path in sorted(glob.glob(f"{self.prefix}.*")):
            with open(path) as handle:
                found, failed = parse_pgbench_log(handle)
            transactions.extend(found)
            failed_logged += failed
            os.unlink(path)
        if self.process.returncode not in (0, 2) or (tps is None and not transactions):
            raise BenchError(
                f"pgbench failed ({self.process.returncode}): {stderr.strip()[-2000:]}"
            )
        return PgbenchRun(
            clients=self.clients,
            seconds=self.seconds,
            started_at=self.started_at,
            ended_at=ended,
            returncode=self.process.returncode,
            transactions=transactions,
            failed=max(failed_total, failed_logged),
            aborted=aborted,
            tps=tps,
            output=stderr.strip()[-2000:],
        )


class Refresher(threading.Thread):
    """Refreshes one materialized view over and over while the readers run."""

    def __init__(
        self,
        settings: ConnectionSettings,
        view: MaterializedView,
        concurrently: bool,
        keep_going: Callable[[], bool],
        delay: float,
    ) -> None:
        super().__init__(daemon=True)
        self.settings = settings
        self.view = view
        self.concurrently = concurrently
        self.keep_going = keep_going
        self.delay = delay
        self.intervals: list[tuple[float, float]] = []
        self.errors: list[str] = []

    def run(self) -> None:
        time.sleep(self.delay)
        try:
            with database.connect(self.settings, autocommit=True) as conn:
                while self.keep_going():
                    started = time.time()
                    try:
                        _timed_refresh(conn, self.view, self.concurrently)
                    except Exception as error:  # recorded and reported, never swallowed
                        self.errors.append(f"{type(error).__name__}: {error}")
                        return
                    self.intervals.append((started, time.time()))
        except Exception as error:
            self.errors.append(f"{type(error).__name__}: {error}")


class LockSampler(threading.Thread):
    """Samples the pgbench readers waiting on a lock every 20 ms: how many, and for how long.

    A waiting reader's wait is measured from the start of its statement, which is when it asks
    for the lock on the relation it reads.
    """

    def __init__(self, settings: ConnectionSettings, keep_going: Callable[[], bool]) -> None:
        super().__init__(daemon=True)
        self.settings = settings
        self.keep_going = keep_going
        self.samples = 0
        self.blocked_samples = 0
        self.max_blocked = 0
        self.longest_wait_ms = 0.0

    def run(self) -> None:
        with database.connect(self.settings, autocommit=True) as conn:
            while self.keep_going():
                blocked, longest = conn.execute(
                    """
                    select
                        count(*),
                        coalesce(max(extract(epoch from clock_timestamp() - query_start)), 0)
                    from pg_stat_activity
                    where datname = current_database() and application_name = 'pgbench'
                      and wait_event_type = 'Lock'
                    """
                ).fetchone()
                self.samples += 1
                self.blocked_samples += 1 if blocked else 0
                self.max_blocked = max(self.max_blocked, int(blocked))
                self.longest_wait_ms = max(self.longest_wait_ms, float(longest) * 1000.0)
                time.sleep(LOCK_SAMPLE_INTERVAL_S)


def _timeline(run: PgbenchRun) -> list[dict[str, float]]:
    buckets: dict[int, list[float]] = {}
    for _, start, ms in run.transactions:
        buckets.setdefault(int((start - run.started_at) / TIMELINE_BUCKET_S), []).append(ms)
    return [
        {
            "t_s": round(index * TIMELINE_BUCKET_S, 2),
            "reads": len(values),
            "max_ms": round(max(values), 3),
        }
        for index, values in sorted(buckets.items())
    ]


def reads_under_refresh(
    warehouse: Warehouse,
    view: MaterializedView,
    scripts: Sequence[Path],
    options: BenchOptions,
    workdir: Path,
    log: Progress,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Readers with no refresh (control), with plain REFRESH, and with REFRESH CONCURRENTLY.

    A read's stall is how much longer it took than the median of the same query in the control.
    Returns the figures and, for the chart, every read as (seconds since start, latency ms).
    """
    names = [path.stem for path in scripts]
    modes: dict[str, Any] = {}
    points: dict[str, Any] = {}
    baseline: dict[int, float] = {}
    for mode in REFRESH_MODES:
        if mode == "concurrently" and not view.concurrent_ok:
            modes[mode] = {"skipped": "no unique index on plain columns"}
            continue
        log("readers", f"{options.readers} readers for {options.reader_seconds} s, refresh: {mode}")
        pgbench = PgbenchProcess(
            warehouse.settings, scripts, options.readers, options.reader_seconds, workdir, mode
        )
        sampler = LockSampler(warehouse.settings, pgbench.running)
        sampler.start()
        refresher = None
        if mode != "none":
            refresher = Refresher(
                warehouse.settings,
                view,
                mode == "concurrently",
                pgbench.running,
                delay=min(1.0, options.reader_seconds / 4),
            )
            refresher.start()
        run = pgbench.finish()
        sampler.join()
        if refresher is not None:
            refresher.join()
        latencies = run.latencies()
        if mode == "none":
            baseline = {
                number: statistics.median(run.latencies(number))
                for number in range(len(scripts))
                if run.latencies(number)
            }
        stalls = [ms - baseline.get(number, ms) for number, _, ms in run.transactions]
        elapsed = max(run.ended_at - run.started_at, 1e-9)
        refresh_seconds = [end - start for start, end in refresher.intervals] if refresher else []
        figures = {
            "reads": len(latencies),
            "reads_per_s": round(len(latencies) / elapsed, 2),
            "latency": latency_summary(latencies),
            "longest_read_ms": round(max(latencies), 3) if latencies else None,
            "longest_stall_ms": round(max(max(stalls), 0.0), 3) if stalls else None,
            "reads_over_stall_target": sum(stall > AMBITION_STALL_MS for stall in stalls),
            "refreshes": len(refresh_seconds),
            "refresh_mean_s": round(statistics.fmean(refresh_seconds), 4)
            if refresh_seconds
            else None,
            "refresh_errors": refresher.errors if refresher else [],
            "max_readers_waiting_on_lock": sampler.max_blocked,
            "longest_lock_wait_ms": round(sampler.longest_wait_ms, 1),
            "share_of_samples_with_lock_waits": round(sampler.blocked_samples / sampler.samples, 4)
            if sampler.samples
            else None,
            "errors": run.errors,
            "error_messages": run.aborted[:5],
            "per_query_p99_ms": {
                names[number]: latency_summary(run.latencies(number)).get("p99_ms")
                for number in range(len(scripts))
            },
            "timeline": _timeline(run),
            "refresh_intervals_s": [
                [round(start - run.started_at, 3), round(end - run.started_at, 3)]
                for start, end in (refresher.intervals if refresher else [])
            ],
        }
        modes[mode] = figures
        points[mode] = {
            "reads": [(start - run.started_at, ms) for _, start, ms in run.transactions],
            "refreshes": figures["refresh_intervals_s"],
        }
        log(
            "readers",
            f"refresh {mode}: {figures['reads_per_s']:,.1f} reads/s,"
            f" p99 {_ms(figures['latency'].get('p99_ms'))},"
            f" longest stall {_ms(figures['longest_stall_ms'])},"
            f" {figures['refreshes']} refreshes, up to {sampler.max_blocked} readers waiting on a"
            f" lock, longest lock wait {_ms(figures['longest_lock_wait_ms'])}",
        )
    plain, concurrent = modes.get("plain", {}), modes.get("concurrently", {})
    summary = {
        "relation": view.name,
        "rows": view.rows,
        "readers": options.readers,
        "seconds": options.reader_seconds,
        "mix": names,
        "modes": modes,
        "stall_ratio_plain_over_concurrent": ratio(
            plain.get("longest_stall_ms"), max(concurrent.get("longest_stall_ms") or 0.0, 1.0)
        )
        if concurrent.get("longest_stall_ms") is not None
        else None,
        "throughput_ratio_concurrent_over_plain": ratio(
            concurrent.get("reads_per_s"), plain.get("reads_per_s")
        ),
    }
    return summary, points


def measure_throughput(
    warehouse: Warehouse,
    scripts: Sequence[Path],
    options: BenchOptions,
    workdir: Path,
    log: Progress,
) -> list[dict[str, Any]]:
    names = [path.stem for path in scripts]
    results = []
    for clients in options.clients:
        run = PgbenchProcess(
            warehouse.settings,
            scripts,
            clients,
            options.throughput_seconds,
            workdir,
            f"throughput_{clients}",
        ).finish()
        latencies = run.latencies()
        elapsed = max(run.ended_at - run.started_at, 1e-9)
        result = {
            "clients": clients,
            "seconds": run.seconds,
            "queries": len(latencies),
            "queries_per_s": round(run.tps if run.tps is not None else len(latencies) / elapsed, 2),
            "latency": latency_summary(latencies),
            "errors": run.errors,
            "per_query_p95_ms": {
                names[number]: latency_summary(run.latencies(number)).get("p95_ms")
                for number in range(len(scripts))
            },
        }
        results.append(result)
        log(
            "throughput",
            f"{clients} clients: {result['queries_per_s']:,.1f} queries/s,"
            f" p95 {_ms(result['latency'].get('p95_ms'))}, errors {run.errors}",
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
    elapsed = max(run.ended_at - run.started_at, 1e-9)
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
        "reads_per_s": round(len(latencies) / elapsed, 2),
        "latency": latency_summary(latencies),
        "errors": run.errors,
        "error_messages": run.aborted[:10],
    }
    log(
        "load",
        f"{result['reads']:,} reads, {result['errors']} errors,"
        f" p99 {_ms(result['latency'].get('p99_ms'))}, {len(refreshes)} tier refreshes",
    )
    return result


# --------------------------------------------------------------------------------------
# Phase: scaling
# --------------------------------------------------------------------------------------


def scale_figures(
    warehouse: Warehouse, queries: Sequence[Mapping[str, Any]], refresh: Mapping[str, Any]
) -> dict[str, Any]:
    largest = max(warehouse.views, key=lambda view: view.rows, default=None)
    return {
        "scale": warehouse.scale,
        "database": warehouse.settings.dbname,
        "source_rows": warehouse.source_rows,
        "largest_view": largest.name if largest else None,
        "largest_view_rows": largest.rows if largest else None,
        "load_s": round(warehouse.load_seconds, 3) if warehouse.load_seconds is not None else None,
        "build_s": round(warehouse.build_seconds, 3),
        "refresh_total_s": refresh["total_production_s"],
        "refresh_total_plain_s": refresh["total_plain_s"],
        "queries": {
            row["benchmark"]: {
                "mart_p95_ms": row["mart"].get("p95_ms"),
                "raw_p95_ms": row["raw"].get("p95_ms"),
                "speedup_p95": row["speedup_p95"],
                "budget_fraction": row["budget_fraction"],
                "rows": row["rows"],
            }
            for row in queries
        },
    }


def scaling_ratios(per_scale: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every scale against the smallest: how build, refresh and each p95 grew."""
    if len(per_scale) < 2:
        return []
    base = per_scale[0]
    ratios = []
    for other in per_scale[1:]:
        ratios.append(
            {
                "from_scale": base["scale"],
                "to_scale": other["scale"],
                "data": ratio(other["source_rows"], base["source_rows"]),
                "build": ratio(other["build_s"], base["build_s"]),
                "refresh_total": ratio(other["refresh_total_s"], base["refresh_total_s"]),
                "queries": {
                    name: {
                        "mart_p95": ratio(
                            figures["mart_p95_ms"],
                            base["queries"].get(name, {}).get("mart_p95_ms"),
                        ),
                        "raw_p95": ratio(
                            figures["raw_p95_ms"],
                            base["queries"].get(name, {}).get("raw_p95_ms"),
                        ),
                    }
                    for name, figures in other["queries"].items()
                },
            }
        )
    return ratios


# --------------------------------------------------------------------------------------
# Ambitions
# --------------------------------------------------------------------------------------


def _heatmap_query(report: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The benchmark on the largest materialized view (the ODI heatmap by the spec's volumes)."""
    relation = report["refresh"].get("largest_view")
    if relation is None:
        return None
    return next((row for row in report["queries"] if row["model"] == relation), None)


def ambitions(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    found = []
    scales = {row["scale"]: row for row in report["scaling"]["per_scale"]}

    at_scale = scales.get(AMBITION_BUDGET_SCALE)
    if at_scale is not None:
        fractions = {
            name: figures["budget_fraction"]
            for name, figures in at_scale["queries"].items()
            if figures["budget_fraction"] is not None
        }
        worst = max(fractions.items(), key=lambda item: item[1], default=(None, None))
        met = bool(fractions) and all(
            value <= AMBITION_BUDGET_FRACTION for value in fractions.values()
        )
        actual = f"worst {worst[0]}: p95 at {worst[1]:.1%} of budget" if worst[0] else "-"
    else:
        met, actual = None, f"scale {AMBITION_BUDGET_SCALE} not measured (--scales)"
    found.append(
        {
            "ambition": f"at SCALE={AMBITION_BUDGET_SCALE} every dashboard query's p95 is at most"
            f" {AMBITION_BUDGET_FRACTION:.0%} of its budget",
            "actual": actual,
            "met": met,
        }
    )

    heatmap = _heatmap_query(report)
    speedup = heatmap["speedup_p95"] if heatmap else None
    found.append(
        {
            "ambition": f"the heatmap on the mart is at least {AMBITION_HEATMAP_SPEEDUP:.0f}x"
            " faster than its raw equivalent (p95)",
            "actual": f"{heatmap['benchmark']}: {_times(speedup)}"
            f" at scale {report['parameters']['scale']}"
            if heatmap
            else "no benchmark on the largest materialized view",
            "met": speedup is not None and speedup >= AMBITION_HEATMAP_SPEEDUP,
        }
    )

    at_one = scales.get(AMBITION_REFRESH_SCALE)
    total = at_one["refresh_total_s"] if at_one else None
    found.append(
        {
            "ambition": f"at SCALE={AMBITION_REFRESH_SCALE} all materialized views refresh in under"
            f" {AMBITION_REFRESH_TOTAL_S:g} s together",
            "actual": f"{_secs(total)} as dbt refreshes them (plain REFRESH of all:"
            f" {_secs(at_one['refresh_total_plain_s'])})"
            if at_one is not None
            else f"scale {AMBITION_REFRESH_SCALE} not measured",
            "met": None if total is None else total < AMBITION_REFRESH_TOTAL_S,
        }
    )

    modes = (report.get("reads_under_refresh") or {}).get("modes", {})
    concurrent = modes.get("concurrently", {}).get("longest_stall_ms")
    plain = modes.get("plain", {}).get("longest_stall_ms")
    found.append(
        {
            "ambition": f"with concurrent refresh no reader stalls more than {AMBITION_STALL_MS:g}"
            " ms, while the plain-refresh control shows the stall",
            "actual": f"longest stall: concurrently {_ms(concurrent)}, plain {_ms(plain)},"
            f" no refresh {_ms(modes.get('none', {}).get('longest_stall_ms'))}; longest lock wait:"
            f" concurrently {_ms(modes.get('concurrently', {}).get('longest_lock_wait_ms'))},"
            f" plain {_ms(modes.get('plain', {}).get('longest_lock_wait_ms'))}",
            "met": None
            if concurrent is None or plain is None
            else concurrent <= AMBITION_STALL_MS < plain,
        }
    )

    load = report.get("load") or {}
    found.append(
        {
            "ambition": f"{load.get('readers', '-')} readers for {load.get('seconds', '-')} s while"
            " a tier refreshes, with zero errors",
            "actual": f"{load.get('errors', '-')} reader errors,"
            f" {len(load.get('refresh_errors', []))} failed tier refreshes,"
            f" {load.get('tier_refreshes', 0)} tier refreshes",
            "met": None
            if not load
            else load.get("errors") == 0
            and not load.get("refresh_errors")
            and load.get("tier_refreshes", 0) > 0,
        }
    )
    return found


# --------------------------------------------------------------------------------------
# Output: Markdown, JSON and the chart
# --------------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 10_000:
        return f"{value / 1000:,.1f} s"
    if value >= 1000:
        return f"{value / 1000:,.2f} s"
    if value >= 100:
        return f"{value:,.0f} ms"
    if value >= 10:
        return f"{value:.1f} ms"
    return f"{value:.2f} ms"


def _secs(value: float | None) -> str:
    return "-" if value is None else _ms(value * 1000.0)


def _span(seconds: Sequence[float] | None) -> str:
    """A spec estimate in seconds as the spec writes it: '5 s', '3.8-9.8 min'."""
    if not seconds:
        return "-"
    low, high = seconds
    if high < 60:
        return f"{low:g} s" if low == high else f"{low:g}-{high:g} s"
    return f"{low / 60:.1f}-{high / 60:.1f} min"


def _times(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}x" if value >= 10 else f"{value:.1f}x"


def _speed(value: float | None) -> str:
    """A raw/mart ratio as words: '68x faster', '2.5x slower'."""
    if value is None:
        return "-"
    if value >= 1:
        return f"{_times(value)} faster"
    return f"{_times(1 / value)} slower"


def _budget(value: float | None) -> str:
    return "-" if value is None else f"{value:g} ms"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _yes(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "NO")


def _tables(count: int) -> str:
    return f"{count} table" if count == 1 else f"{count} tables"


def _why(plans: Mapping[str, Any]) -> str:
    mart, raw = plans["mart"], plans["raw"]
    return (
        f"mart: {mart['main_scan']}, {mart['shared_buffers']:,} buffers,"
        f" {_ms(mart['execution_ms'])} in the server; raw: {_tables(raw['relations_read'])},"
        f" {raw['shared_buffers']:,} buffers, {_ms(raw['execution_ms'])}"
    )


def _query_table(report: Mapping[str, Any]) -> str:
    rows = [
        [
            row["benchmark"],
            f"{row['rows']:,}",
            _ms(row["mart"].get("p50_ms")),
            _ms(row["mart"].get("p95_ms")),
            _ms(row["mart"].get("p99_ms")),
            _ms(row["raw"].get("p50_ms")),
            _ms(row["raw"].get("p95_ms")),
            _ms(row["raw"].get("p99_ms")),
            _speed(row["speedup_p95"]),
            _budget(row["p95_budget_ms"]),
            _pct(row["budget_fraction"]),
            _why(row["plan"]),
        ]
        for row in report["queries"]
    ]
    return format_table(
        [
            "benchmark",
            "rows",
            "mart p50",
            "mart p95",
            "mart p99",
            "raw p50",
            "raw p95",
            "raw p99",
            "mart vs raw (p95)",
            "budget",
            "p95/budget",
            "why (plan of one run)",
        ],
        rows,
        title="1. Dashboard queries: mart vs raw source tables (same rows checked, interleaved"
        f" runs, up to {report['parameters']['runs']} per side)",
    )


def _refresh_table(report: Mapping[str, Any]) -> str:
    refresh = report["refresh"]
    rows = [
        [
            row["relation"],
            row["cron"] or "-",
            f"{row['rows']:,}",
            _secs(row["plain_s"]),
            _secs(row["concurrent_s"]) if row["concurrent_possible"] else "n/a",
            row["spec_estimate"] or "-",
            _times(row["spec_low_over_ours"]),
        ]
        for row in refresh["views"]
    ]
    spec = refresh["spec_total_s"]
    rows.append(
        [
            "all together",
            "",
            "",
            _secs(refresh["total_plain_s"]),
            _secs(refresh["total_concurrent_s"]),
            _span(spec),
            _times(ratio(spec[0], refresh["total_production_s"]) if spec else None),
        ]
    )
    return format_table(
        [
            "materialized view",
            "tier (cron)",
            "rows",
            "plain",
            "concurrently",
            "spec estimate",
            "spec low / ours",
        ],
        rows,
        title="2. Refresh cost per materialized view (median of"
        f" {report['parameters']['refresh_runs']} runs; 'ours' is the refresh dbt runs:"
        " concurrently when a unique index allows)",
    )


def _readers_table(reads: Mapping[str, Any]) -> str:
    labels = {
        "none": "none (control)",
        "plain": "plain REFRESH",
        "concurrently": "REFRESH CONCURRENTLY",
    }
    rows = []
    for mode in REFRESH_MODES:
        figures = reads["modes"].get(mode) or {}
        if "reads" not in figures:
            rows.append([labels[mode], figures.get("skipped", "skipped"), *[""] * 8])
            continue
        rows.append(
            [
                labels[mode],
                f"{figures['reads_per_s']:,.1f}",
                _ms(figures["latency"].get("p50_ms")),
                _ms(figures["latency"].get("p99_ms")),
                _ms(figures["longest_read_ms"]),
                _ms(figures["longest_stall_ms"]),
                str(figures["refreshes"]),
                str(figures["max_readers_waiting_on_lock"]),
                _ms(figures["longest_lock_wait_ms"]),
                str(figures["errors"]),
            ]
        )
    return format_table(
        [
            "refresh",
            "reads/s",
            "p50",
            "p99",
            "longest read",
            "longest stall",
            "refreshes",
            "readers waiting on a lock (max)",
            "longest lock wait",
            "errors",
        ],
        rows,
        title=f"3. Reads under refresh: {reads['readers']} readers for {reads['seconds']} s run the"
        f" dashboard mix while {reads['relation']} ({reads['rows']:,} rows) is refreshed back to"
        " back (stall: a read's time minus the control median of the same query)",
    )


def _throughput_table(report: Mapping[str, Any]) -> str:
    rows = [
        [
            str(row["clients"]),
            f"{row['queries_per_s']:,.1f}",
            _ms(row["latency"].get("p50_ms")),
            _ms(row["latency"].get("p95_ms")),
            _ms(row["latency"].get("p99_ms")),
            str(row["errors"]),
        ]
        for row in report["throughput"]
    ]
    return format_table(
        ["clients", "queries/s", "p50", "p95", "p99", "errors"],
        rows,
        title=f"4. Throughput: the dashboard mix through pgbench,"
        f" {report['parameters']['throughput_seconds']} s per client count",
    )


def _load_table(load: Mapping[str, Any]) -> str:
    return format_table(
        [
            "readers",
            "seconds",
            "tier",
            "tier refreshes (dbt run)",
            "reads",
            "reads/s",
            "p99",
            "errors",
        ],
        [
            [
                str(load["readers"]),
                str(load["seconds"]),
                f"{load['tier']}: {', '.join(load['models'])}",
                f"{load['tier_refreshes']} ({len(load['refresh_errors'])} failed)",
                f"{load['reads']:,}",
                f"{load['reads_per_s']:,.1f}",
                _ms(load["latency"].get("p99_ms")),
                str(load["errors"]),
            ]
        ],
        title="5. Load: readers while dbt refreshes a whole tier (reader errors must be 0)",
    )


def _scaling_table(report: Mapping[str, Any]) -> str:
    scaling = report["scaling"]
    per_scale = scaling["per_scale"]
    ratios = scaling["ratios"]
    headers = [
        "measure",
        *[f"scale {figures['scale']}" for figures in per_scale],
        *[f"x{item['to_scale']} / x{item['from_scale']}" for item in ratios],
    ]
    rows = [
        [
            "source rows",
            *[f"{figures['source_rows']:,}" for figures in per_scale],
            *[_times(item["data"]) for item in ratios],
        ],
        [
            "largest view rows",
            *[f"{figures['largest_view_rows'] or 0:,}" for figures in per_scale],
            *["" for _ in ratios],
        ],
        [
            "demo data load",
            *[_secs(figures["load_s"]) for figures in per_scale],
            *["" for _ in ratios],
        ],
        [
            "dbt build of the marts (no tests)",
            *[_secs(figures["build_s"]) for figures in per_scale],
            *[_times(item["build"]) for item in ratios],
        ],
        [
            "refresh all views",
            *[_secs(figures["refresh_total_s"]) for figures in per_scale],
            *[_times(item["refresh_total"]) for item in ratios],
        ],
    ]
    for name in [row["benchmark"] for row in report["queries"]]:
        for side in ("mart", "raw"):
            rows.append(
                [
                    f"{name} p95 {side}",
                    *[
                        _ms(figures["queries"].get(name, {}).get(f"{side}_p95_ms"))
                        for figures in per_scale
                    ],
                    *[_times(item["queries"].get(name, {}).get(f"{side}_p95")) for item in ratios],
                ]
            )
    return format_table(
        headers, rows, title="6. Scaling: each scale in its own database ('-' load: data reused)"
    )


def render_markdown(report: Mapping[str, Any]) -> str:
    params = report["parameters"]
    machine = report["machine"]
    versions = report["versions"]
    parts = [
        f"## Value View benchmark: scale {params['scale']}, seed {params['seed']},"
        f" as of {params['as_of']}\n\n"
        f"Machine: {machine.get('cpu_count')} CPUs ({machine.get('cpu_model', '?')}),"
        f" {(machine.get('memory_bytes') or 0) / 2**30:.1f} GiB RAM, {machine.get('platform')};"
        f" PostgreSQL {versions.get('postgres')} ({versions.get('server_source')}),"
        f" dbt {versions.get('dbt-core')}, Python {versions.get('python')}.\n"
        f"Command: `{report['command']}`",
        _query_table(report),
        _refresh_table(report),
    ]
    if report.get("reads_under_refresh"):
        parts.append(_readers_table(report["reads_under_refresh"]))
    if report.get("throughput"):
        parts.append(_throughput_table(report))
    if report.get("load"):
        parts.append(_load_table(report["load"]))
    parts.append(_scaling_table(report))
    parts.append(
        format_table(
            ["measure", "Value View", "compared with", "ratio", "target", "met", "why"],
            summary_rows(report),
            title="Summary: how fast, compared with what, and why",
        )
    )
    parts.append(
        format_table(
            ["ambition", "measured", "met"],
            [[item["ambition"], item["actual"], _yes(item["met"])] for item in report["ambitions"]],
            title="Ambitions",
        )
    )
    if report["failures"]:
        parts.append("\nFAILURES:\n" + "\n".join(f"- {failure}" for failure in report["failures"]))
    return "\n".join(parts) + "\n"


def summary_rows(report: Mapping[str, Any]) -> list[list[str]]:
    rows = []
    for row in report["queries"]:
        budget = row["p95_budget_ms"]
        rows.append(
            [
                f"{row['benchmark']} p95",
                _ms(row["mart"].get("p95_ms")),
                f"raw tables {_ms(row['raw'].get('p95_ms'))}",
                _speed(row["speedup_p95"]),
                f"{_budget(budget)} ({_pct(row['budget_fraction'])} used)" if budget else "-",
                _yes(row["within_budget"]) if budget else "-",
                _why(row["plan"]),
            ]
        )
    refresh = report["refresh"]
    spec = refresh["spec_total_s"]
    at_scale_one = report["parameters"]["scale"] == AMBITION_REFRESH_SCALE
    rows.append(
        [
            "refresh every materialized view",
            _secs(refresh["total_production_s"]),
            f"spec estimate {_span(spec)}" if spec else "-",
            _speed(ratio(spec[0], refresh["total_production_s"])) if spec else "-",
            f"< {AMBITION_REFRESH_TOTAL_S:g} s at scale {AMBITION_REFRESH_SCALE}",
            _yes(refresh["total_production_s"] < AMBITION_REFRESH_TOTAL_S) if at_scale_one else "-",
            f"plain REFRESH of all: {_secs(refresh['total_plain_s'])};"
            f" concurrently: {_secs(refresh['total_concurrent_s'])}",
        ]
    )
    reads = report.get("reads_under_refresh")
    if reads:
        modes = reads["modes"]
        plain, concurrent = modes.get("plain", {}), modes.get("concurrently", {})
        stall = concurrent.get("longest_stall_ms")
        rows.append(
            [
                "longest reader stall during refresh",
                f"concurrently {_ms(stall)}",
                f"plain {_ms(plain.get('longest_stall_ms'))}; no refresh"
                f" {_ms(modes.get('none', {}).get('longest_stall_ms'))}",
                f"{_times(reads['stall_ratio_plain_over_concurrent'])} shorter",
                f"<= {AMBITION_STALL_MS:g} ms",
                _yes(None if stall is None else stall <= AMBITION_STALL_MS),
                "readers waiting on a lock: plain up to"
                f" {plain.get('max_readers_waiting_on_lock', '-')} for"
                f" {_ms(plain.get('longest_lock_wait_ms'))}, concurrently up to"
                f" {concurrent.get('max_readers_waiting_on_lock', '-')} for"
                f" {_ms(concurrent.get('longest_lock_wait_ms'))}",
            ]
        )
        rows.append(
            [
                "reads/s during refresh",
                f"concurrently {concurrent.get('reads_per_s', 0):,.1f}",
                f"plain {plain.get('reads_per_s', 0):,.1f}",
                _times(reads["throughput_ratio_concurrent_over_plain"]),
                "-",
                "-",
                f"control without refresh: {modes.get('none', {}).get('reads_per_s', 0):,.1f}",
            ]
        )
    throughput = report.get("throughput") or []
    if throughput:
        best = max(throughput, key=lambda row: row["queries_per_s"])
        rows.append(
            [
                "dashboard throughput",
                f"{best['queries_per_s']:,.0f} q/s at {best['clients']} clients",
                ", ".join(f"{row['clients']}: {row['queries_per_s']:,.0f}" for row in throughput),
                "-",
                "-",
                "-",
                f"p95 {_ms(best['latency'].get('p95_ms'))} at {best['clients']} clients",
            ]
        )
    load = report.get("load")
    if load:
        rows.append(
            [
                f"load: {load['readers']} readers x {load['seconds']} s",
                f"{load['errors']} errors",
                f"{load['reads']:,} reads; tier {load['tier']} refreshes: {load['tier_refreshes']}",
                "-",
                "0 errors",
                _yes(load["errors"] == 0 and not load["refresh_errors"]),
                f"read p99 {_ms(load['latency'].get('p99_ms'))}; each tier refresh (dbt run)"
                f" {', '.join(_secs(value) for value in load['tier_refresh_seconds'])}",
            ]
        )
    for item in report["scaling"]["ratios"]:
        growth = [
            (name, figures["mart_p95"])
            for name, figures in item["queries"].items()
            if figures["mart_p95"] is not None
        ]
        worst = max(growth, key=lambda pair: pair[1], default=None)
        rows.append(
            [
                f"scale {item['to_scale']} vs {item['from_scale']}",
                f"build {_times(item['build'])}, refresh {_times(item['refresh_total'])}",
                f"data {_times(item['data'])}",
                f"mart p95 up to {_times(worst[1])}" if worst else "-",
                "-",
                "-",
                f"largest growth: {worst[0]}" if worst else "-",
            ]
        )
    return rows


def write_chart(report: Mapping[str, Any], points: Mapping[str, Any], path: Path) -> None:
    """Latency against budget per query, and the reads-under-refresh timeline."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    queries = report["queries"]
    figure = plt.figure(figsize=(14, 11))
    grid = figure.add_gridspec(2, 2, height_ratios=[1.2, 1.0])
    axis = figure.add_subplot(grid[0, :])
    names = [row["benchmark"] for row in queries]
    positions = list(range(len(names)))
    mart = [max(row["mart"].get("p95_ms") or 0.0, 1e-3) for row in queries]
    raw = [max(row["raw"].get("p95_ms") or 0.0, 1e-3) for row in queries]
    axis.barh([p - 0.2 for p in positions], mart, height=0.38, color="#2b7bba", label="mart p95")
    axis.barh(
        [p + 0.2 for p in positions], raw, height=0.38, color="#b8b8b8", label="raw tables p95"
    )
    labelled = False
    for position, row in zip(positions, queries, strict=True):
        if row["p95_budget_ms"]:
            axis.plot(
                [row["p95_budget_ms"]] * 2,
                [position - 0.45, position + 0.45],
                color="#d62728",
                linewidth=2.5,
                label=None if labelled else "spec p95 budget",
            )
            labelled = True
        axis.text(
            max(mart[position], raw[position]) * 1.15,
            position,
            _speed(row["speedup_p95"]),
            va="center",
            fontsize=9,
        )
    axis.set_xscale("log")
    if queries:
        axis.set_xlim(right=max(mart + raw) * 8)
    axis.set_yticks(positions, names)
    axis.invert_yaxis()
    axis.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=3, frameon=False)
    axis.set_xlabel("p95 latency, ms (log scale)")
    axis.set_title(
        f"Dashboard queries at scale {report['parameters']['scale']}: mart vs raw tables,"
        " against the spec budget",
        pad=28,
    )

    reads = report.get("reads_under_refresh") or {}
    titles = {"plain": "plain REFRESH", "concurrently": "REFRESH CONCURRENTLY"}
    for column, mode in enumerate(titles):
        axis = figure.add_subplot(grid[1, column])
        data = points.get(mode)
        if data and data["reads"]:
            for start, end in data["refreshes"]:
                axis.axvspan(start, end, color="#ffbf00", alpha=0.25, linewidth=0)
                axis.axvline(start, color="#c08a00", linewidth=0.6)
            axis.scatter(
                [point[0] for point in data["reads"]],
                [max(point[1], LATENCY_FLOOR_MS) for point in data["reads"]],
                s=3,
                alpha=0.5,
                color="#d62728" if mode == "plain" else "#2b7bba",
            )
            axis.axhline(AMBITION_STALL_MS, color="#555555", linestyle="--", linewidth=1)
            axis.set_yscale("log")
            axis.set_ylim(bottom=LATENCY_FLOOR_MS)
        else:
            axis.text(0.5, 0.5, "not measured", ha="center", va="center", transform=axis.transAxes)
        axis.set_xlabel("seconds since the readers started (shaded: refreshes, one per line)")
        axis.set_ylabel("read latency, ms (log); dashed: 50 ms")
        axis.set_title(
            f"{titles[mode]}: {reads.get('readers', '-')} readers\n"
            f"{reads.get('relation', '-')} refreshed back to back",
            fontsize=10,
        )
    figure.tight_layout(h_pad=4.0)
    figure.savefig(path, dpi=110)
    plt.close(figure)


# --------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------


@dataclass
class BenchRun:
    report: dict[str, Any]
    warehouses: dict[int, Warehouse]
    paths: dict[str, Path]


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
    report: dict[str, Any] = {
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
    warehouses: dict[int, Warehouse] = {}
    log(
        "setup",
        f"server {server.host}:{server.port} ({server.source}), scales {options.all_scales()}",
    )
    primary = prepare_warehouse(server, options.scale, options, as_of, log)
    warehouses[options.scale] = primary
    report["versions"] = software_versions(primary.settings)
    if not primary.benchmarks:
        raise BenchError("the manifest declares no benchmark analyses (analyses/benchmarks/)")

    answers = check_all_answers(primary.settings, primary.benchmarks, log)
    report["queries"] = measure_queries(primary, options, log, answers)
    report["refresh"] = measure_refreshes(primary, options.refresh_runs, log)

    with tempfile.TemporaryDirectory(prefix="vv-bench-") as scratch:
        workdir = Path(scratch)
        scripts = write_scripts(primary.benchmarks, workdir / "scripts")
        points: dict[str, Any] = {}
        view = _refresh_target(primary, options.refresh_relation)
        if view is not None and options.readers > 0:
            report["reads_under_refresh"], points = reads_under_refresh(
                primary, view, scripts, options, workdir, log
            )
            for mode, figures in report["reads_under_refresh"]["modes"].items():
                for error in figures.get("refresh_errors", []):
                    report["failures"].append(f"refresh {mode} of {view.name} failed: {error}")
        else:
            report["reads_under_refresh"] = None
        report["throughput"] = measure_throughput(primary, scripts, options, workdir, log)
        if options.load_readers > 0 and options.load_seconds > 0:
            report["load"] = load_phase(primary, scripts, report["refresh"], options, workdir, log)
            if report["load"]["errors"]:
                report["failures"].append(
                    f"load: {report['load']['errors']} reader errors while tier"
                    f" {report['load']['tier']} refreshed: {report['load']['error_messages'][:3]}"
                )
            for error in report["load"]["refresh_errors"]:
                report["failures"].append(f"load: tier refresh failed: {error}")
        else:
            report["load"] = None

    per_scale = []
    for scale in options.all_scales():
        if scale == options.scale:
            per_scale.append(scale_figures(primary, report["queries"], report["refresh"]))
            continue
        log("scaling", f"scale {scale}")
        try:
            warehouse = prepare_warehouse(server, scale, options, as_of, log)
            warehouses[scale] = warehouse
            scale_answers = check_all_answers(warehouse.settings, warehouse.benchmarks, log)
        except (BenchError, AnswerMismatch) as error:
            # What was measured so far is still written; the run fails at the end.
            report["failures"].append(f"scale {scale}: {error}")
            log("scaling", f"FAIL scale {scale}: {str(error).splitlines()[0]}")
            continue
        queries = measure_queries(warehouse, options, log, scale_answers)
        refresh = measure_refreshes(warehouse, options.refresh_runs, log, phase="scaling")
        per_scale.append(scale_figures(warehouse, queries, refresh))
    report["scaling"] = {"per_scale": per_scale, "ratios": scaling_ratios(per_scale)}
    report["ambitions"] = ambitions(report)
    with contextlib.suppress(OSError):
        report["machine"]["load_average_end"] = [round(value, 2) for value in os.getloadavg()]

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
    if options.drop_databases:
        for warehouse in warehouses.values():
            database.drop_database(warehouse.settings)
    return BenchRun(report=report, warehouses=warehouses, paths=paths)


def _refresh_target(warehouse: Warehouse, wanted: str | None) -> MaterializedView | None:
    if wanted is not None:
        for view in warehouse.views:
            if wanted in (view.name, view.identifier):
                return view
        raise BenchError(
            f"--refresh-relation {wanted!r} is not a materialized view;"
            f" choose from {[view.name for view in warehouse.views]}"
        )
    return max(warehouse.views, key=lambda view: view.rows, default=None)


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------


def _int_list(raw: str, option: str) -> tuple[int, ...]:

    try:
        values = tuple(int(part) for part in raw.split(",") if part.strip())
    except ValueError:
        raise UsageError(f"{option} must be comma-separated whole numbers, got {raw!r}") from None
    if not values or any(value < 1 for value in values):
        raise UsageError(f"{option} must list whole numbers of at least 1, got {raw!r}")
    return values


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scale", default="1", help="scale of the main measurements (default 1)")
    parser.add_argument(
        "--scales", default="1,10", help="scales compared in the scaling phase (default 1,10)"
    )
    parser.add_argument("--seed", default="42", help="demo data seed (default 42)")
    parser.add_argument("--as-of", default=None, help="demo data anchor date (default today, UTC)")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="output folder (bench_results/)")
    parser.add_argument("--runs", type=int, default=100, help="timed runs per query and side")
    parser.add_argument(
        "--query-seconds",
        type=float,
        default=20.0,
        help="time cap per query and side; slow raw queries stop early (default 20)",
    )
    parser.add_argument("--refresh-runs", type=int, default=3, help="refreshes timed per view")
    parser.add_argument("--readers", type=int, default=16, help="readers under refresh (16)")
    parser.add_argument("--reader-seconds", type=int, default=20, help="seconds per refresh mode")
    parser.add_argument(
        "--refresh-relation",
        default=None,
        help="materialized view refreshed under the readers (default: the largest)",
    )
    parser.add_argument("--clients", default="8,32,64", help="throughput client counts")
    parser.add_argument("--throughput-seconds", type=int, default=10, help="seconds per count")
    parser.add_argument("--load-readers", type=int, default=50, help="readers in the load phase")
    parser.add_argument("--load-seconds", type=int, default=60, help="seconds of the load phase")
    parser.add_argument(
        "--load-tier", default=None, help="cron of the tier refreshed under load (default: slowest)"
    )
    parser.add_argument(
        "--database-prefix", default="vv_bench", help="databases are <prefix>_s<scale>"
    )
    parser.add_argument("--target-path", default=str(DEFAULT_TARGET_PATH), help="dbt target path")
    parser.add_argument("--reload", action="store_true", help="reload demo data even if present")
    parser.add_argument("--drop", action="store_true", help="drop the benchmark databases after")


def options_from_args(args: argparse.Namespace) -> BenchOptions:

    scale = parse_scale(args.scale)
    scales = tuple(parse_scale(str(value)) for value in _int_list(args.scales, "--scales"))
    for option, value in (
        ("--runs", args.runs),
        ("--refresh-runs", args.refresh_runs),
        ("--reader-seconds", args.reader_seconds),
        ("--throughput-seconds", args.throughput_seconds),
    ):
        if value < 1:
            raise UsageError(f"{option} must be at least 1, got {value}")
    for option, value in (("--readers", args.readers), ("--load-readers", args.load_readers)):
        if value < 0:
            raise UsageError(f"{option} must not be negative, got {value}")
    if args.query_seconds <= 0:
        raise UsageError(f"--query-seconds must be positive, got {args.query_seconds}")
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,40}", args.database_prefix):
        raise UsageError(
            f"--database-prefix must be a lowercase identifier, got {args.database_prefix!r}"
        )
    return BenchOptions(
        scale=scale,
        scales=scales,
        seed=parse_seed(args.seed),
        as_of=parse_date(args.as_of) if args.as_of else None,
        out=Path(args.out),
        database_prefix=args.database_prefix,
        target_path=Path(args.target_path).resolve(),
        source_schema=project_settings.source_schema(),
        runs=args.runs,
        query_seconds=args.query_seconds,
        refresh_runs=args.refresh_runs,
        readers=args.readers,
        reader_seconds=args.reader_seconds,
        refresh_relation=args.refresh_relation,
        clients=_int_list(args.clients, "--clients"),
        throughput_seconds=args.throughput_seconds,
        load_readers=args.load_readers,
        load_seconds=max(0, args.load_seconds),
        load_tier=args.load_tier,
        reload=args.reload,
        drop_databases=args.drop,
    )


def run_command(args: argparse.Namespace) -> int:
    """`value-view bench`: 0 when every gate holds, 1 when answers differ or readers failed."""
    options = options_from_args(args)
    command = "value-view " + " ".join(shlex.quote(arg) for arg in sys.argv[1:])
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
