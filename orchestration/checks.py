"""Asset checks beyond the dbt tests: dashboard latency, freshness per tier, warehouse health.

Latency and freshness checks are derived from the marts' ``meta`` in the manifest; the warehouse
checks (buffer-cache hit ratio, index health) sit on one asset that stands for the database.
"""

import datetime as dt
import hashlib
import json
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    AssetSpec,
    Failure,
    MetadataValue,
    TableColumn,
    TableRecord,
    TableSchema,
    asset_check,
)
from dagster_dbt import DbtProject
from psycopg.sql import SQL, Identifier

from orchestration import project
from orchestration.resources import BenchmarkResource, WarehouseResource
from orchestration.translator import ValueViewTranslator

WAREHOUSE_KEY = AssetKey(["value_view", "warehouse"])
WAREHOUSE_GROUP = "warehouse"
BENCHMARK_OP_TAG = "value_view/benchmark"
LATENCY_CHECK = project.LATENCY_CHECK
FRESHNESS_CHECK = "freshness"
CACHE_HIT_CHECK = "buffer_cache_hit_ratio"
INDEX_HEALTH_CHECK = "index_health"
MIN_CACHE_HIT_RATIO = 0.95
# Below this many block requests the ratio says nothing yet (a freshly created database).
MIN_BLOCK_REQUESTS = 10_000
# An index is judged unused only once its table is read through its other indexes this often (a
# table freshly rebuilt, or read only by whole-table dbt tests, says nothing about its indexes).
MIN_SCANS_FOR_UNUSED = 1_000
# An index is judged inefficient after this many scans that fetched under 1% of what they read.
MIN_SCANS_FOR_INEFFICIENT = 100
INEFFICIENT_RATIO = 0.01


# --------------------------------------------------------------------------------------
# Benchmark SQL: the analysis compiled by dbt for the warehouse's database
# --------------------------------------------------------------------------------------


def _relation(node: Mapping[str, Any]) -> str:
    return f"{node.get('schema')}.{node.get('alias') or node.get('name')}"


def _fingerprint(
    manifest: Mapping[str, Any], analysis: Mapping[str, Any], dbname: str, source_schema: str
) -> str:
    nodes = manifest.get("nodes", {})
    sources = manifest.get("sources", {})
    upstream = sorted(
        _relation(nodes.get(uid) or sources.get(uid) or {"name": uid})
        for uid in analysis.get("depends_on", {}).get("nodes", [])
    )
    payload = [analysis.get("raw_code", ""), upstream, dbname, source_schema]
    return hashlib.sha256(json.dumps(payload).encode()).hexdigest()


def benchmark_sql(
    dbt_project: DbtProject,
    manifest: Mapping[str, Any],
    analysis: str,
    warehouse: WarehouseResource,
) -> str:
    """The compiled SQL of ``analyses/benchmarks/<analysis>.sql`` for this warehouse.

    A parsed manifest holds no compiled code, so the benchmark analyses are compiled with
    ``dbt compile`` into a folder per database (compiled SQL names the database) and reused until
    the analysis, the relations it reads, or the database change.
    """
    node = project.analysis_node(manifest, analysis)
    if node is None:
        raise Failure(f"benchmark analysis {analysis!r} is not in the dbt project")
    settings = warehouse.settings()
    source_schema = warehouse.source()
    directory = project.target_dir(dbt_project) / "benchmarks" / settings.dbname
    cache_file = directory / "compiled_benchmarks.json"
    wanted = _fingerprint(manifest, node, settings.dbname, source_schema)
    with project.locked(directory, "compile"):
        cached = json.loads(cache_file.read_text()) if cache_file.exists() else {}
        entry = cached.get(analysis) or {}
        if entry.get("fingerprint") == wanted and entry.get("sql"):
            return entry["sql"]
        folder = str(node.get("original_file_path", "")).rsplit("/", 1)[0] or "analyses"
        project.run_dbt(
            ["compile", "--quiet", "--select", f"path:{folder}"],
            target_path=directory,
            env=_dbt_env(warehouse),
        )
        compiled = json.loads((directory / "manifest.json").read_text())
        for candidate in compiled.get("nodes", {}).values():
            if candidate.get("resource_type") != "analysis" or not candidate.get("compiled_code"):
                continue
            current = project.analysis_node(manifest, candidate["name"])
            if current is None or current.get("original_file_path") != candidate.get(
                "original_file_path"
            ):
                continue
            cached[candidate["name"]] = {
                "fingerprint": _fingerprint(manifest, current, settings.dbname, source_schema),
                "sql": candidate["compiled_code"],
            }
        cache_file.write_text(json.dumps(cached, indent=2))
    if analysis not in cached:
        raise Failure(f"dbt compile produced no SQL for analysis {analysis!r}")
    return cached[analysis]["sql"]


def _dbt_env(warehouse: WarehouseResource) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PGPASSWORD", None)
    env.update(warehouse.env())
    return env


# --------------------------------------------------------------------------------------
# Measuring a query
# --------------------------------------------------------------------------------------


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
    warehouse: WarehouseResource,
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
    with warehouse.connect(autocommit=True) as conn:
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


def _latency_check(
    dbt_project: DbtProject,
    manifest: Mapping[str, Any],
    bench: project.Benchmark,
    key: AssetKey,
) -> AssetChecksDefinition:
    @asset_check(
        asset=key,
        name=bench.check_name,
        blocking=True,
        description=(
            f"p95 latency of the dashboard query analyses/benchmarks/{bench.analysis}.sql"
            f" within {bench.p95_budget_ms:g} ms"
            + (f", at most {bench.max_rows:,} rows" if bench.max_rows is not None else "")
            + ". Blocks downstream assets when over budget."
        ),
        op_tags={BENCHMARK_OP_TAG: "latency"},
        metadata={"analysis": bench.analysis, "p95_budget_ms": bench.p95_budget_ms},
    )
    def latency(
        context: AssetCheckExecutionContext,
        warehouse: WarehouseResource,
        benchmark: BenchmarkResource,
    ) -> AssetCheckResult:
        budget = benchmark.budget_for(bench.analysis, bench.model_name, bench.p95_budget_ms)
        try:
            sql = benchmark_sql(dbt_project, manifest, bench.analysis, warehouse)
            measured = measure_query(
                warehouse,
                sql,
                runs=benchmark.runs,
                warmup_runs=benchmark.warmup_runs,
                statement_timeout_ms=benchmark.statement_timeout_ms,
            )
        except (Failure, project.DbtCommandError, psycopg.Error) as error:
            message = str(getattr(error, "description", None) or error).strip()
            context.log.error(f"{bench.analysis}: {message}")
            return AssetCheckResult(
                passed=False,
                severity=AssetCheckSeverity.ERROR,
                description=f"the dashboard query could not be measured: {message[:500]}",
                metadata={
                    "analysis": MetadataValue.text(bench.analysis),
                    "p95_budget_ms": MetadataValue.float(float(budget)),
                    "error": MetadataValue.md(f"```\n{message[-3000:]}\n```"),
                },
            )
        passed, verdict = latency_verdict(measured, budget, bench.max_rows)
        flagged = bench.expect_index_scan and measured.plan.seq_scan_at_top
        context.log.info(f"{bench.analysis}: {verdict}")
        metadata = {
            "p50_ms": MetadataValue.float(round(measured.p50_ms, 3)),
            "p95_ms": MetadataValue.float(round(measured.p95_ms, 3)),
            "max_ms": MetadataValue.float(round(measured.max_ms, 3)),
            "p95_budget_ms": MetadataValue.float(float(budget)),
            "runs": MetadataValue.int(len(measured.timings_ms)),
            "rows_returned": MetadataValue.int(measured.rows),
            "analysis": MetadataValue.text(bench.analysis),
            "plan_top_node": MetadataValue.text(measured.plan.top_node),
            "plan_main_scan": MetadataValue.text(measured.plan.main_scan),
            "plan_scans": MetadataValue.text("; ".join(measured.plan.scans) or "none"),
            "expect_index_scan": MetadataValue.bool(bench.expect_index_scan),
            "seq_scan_flagged": MetadataValue.bool(flagged),
        }
        if bench.max_rows is not None:
            metadata["max_rows"] = MetadataValue.int(bench.max_rows)
        return AssetCheckResult(
            passed=passed,
            severity=AssetCheckSeverity.ERROR,
            description=verdict,
            metadata=metadata,
        )

    return latency


def build_latency_checks(
    dbt_project: DbtProject, manifest: Mapping[str, Any], translator: ValueViewTranslator
) -> list[AssetChecksDefinition]:
    """One blocking latency check per ``meta.benchmark``, on the mart that declares it."""
    checks = []
    for bench in project.benchmarks(manifest):
        node = manifest["nodes"][bench.unique_id]
        checks.append(_latency_check(dbt_project, manifest, bench, translator.get_asset_key(node)))
    return checks


# --------------------------------------------------------------------------------------
# Freshness per refresh tier
# --------------------------------------------------------------------------------------


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
        return False, f"last refreshed {_hours(age)} ago, more than {_hours(max_age)}"
    return True, f"last refreshed {_hours(age)} ago, within {_hours(max_age)}"


def _hours(delta: dt.timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.1f} h"


def last_refresh(
    warehouse: WarehouseResource, schema: str, relation: str
) -> tuple[dt.datetime | None, str]:
    """When a relation was last refreshed: its ``last_refreshed`` column, else its last ANALYZE."""
    with warehouse.connect(autocommit=True) as conn:
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
                    return _aware(value), "last_refreshed column"
        row = conn.execute(
            """
            select greatest(last_analyze, last_autoanalyze)
            from pg_stat_user_tables where schemaname = %s and relname = %s
            """,
            (schema, relation),
        ).fetchone()
    if row and row[0] is not None:
        return _aware(row[0]), "pg_stat_user_tables last analyze"
    return None, "none"


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _freshness_check(
    key: AssetKey, schema: str, relation: str, cron: str, tier: str
) -> AssetChecksDefinition:
    max_age = max_age_for_cron(cron)

    @asset_check(
        asset=key,
        name=FRESHNESS_CHECK,
        description=f"Refreshed within {_hours(max_age)} (tier {tier}, cron `{cron}` UTC).",
        metadata={"tier": tier, "max_age_hours": max_age.total_seconds() / 3600},
    )
    def freshness(
        context: AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> AssetCheckResult:
        refreshed, basis = last_refresh(warehouse, schema, relation)
        if refreshed is None:
            event = context.instance.get_latest_materialization_event(key)
            if event is not None:
                refreshed = dt.datetime.fromtimestamp(event.timestamp, tz=dt.timezone.utc)
                basis = "last Dagster materialization"
        now = dt.datetime.now(dt.timezone.utc)
        passed, verdict = freshness_verdict(refreshed, now, max_age)
        metadata: dict[str, Any] = {
            "tier": MetadataValue.text(tier),
            "max_age_hours": MetadataValue.float(max_age.total_seconds() / 3600),
            "based_on": MetadataValue.text(basis),
        }
        if refreshed is not None:
            metadata["last_refreshed"] = MetadataValue.timestamp(refreshed)
            metadata["age_hours"] = MetadataValue.float(
                round((now - refreshed).total_seconds() / 3600, 3)
            )
        return AssetCheckResult(
            passed=passed,
            severity=AssetCheckSeverity.WARN,
            description=verdict,
            metadata=metadata,
        )

    return freshness


def build_freshness_checks(
    manifest: Mapping[str, Any], translator: ValueViewTranslator
) -> list[AssetChecksDefinition]:
    """One freshness check per mart with a refresh cron (real-time views have none)."""
    checks = []
    for node in project.mart_nodes(manifest).values():
        cron = project.refresh_cron(node)
        if not cron:
            continue
        relation = node.get("alias") or node["name"]
        checks.append(
            _freshness_check(
                translator.get_asset_key(node),
                node["schema"],
                relation,
                cron,
                project.tier_name(cron),
            )
        )
    return checks


# --------------------------------------------------------------------------------------
# The warehouse database: buffer-cache hit ratio and index health
# --------------------------------------------------------------------------------------


def warehouse_spec(mart_keys: Iterable[AssetKey]) -> AssetSpec:
    """The warehouse database as an asset Dagster observes but does not build."""
    return AssetSpec(
        key=WAREHOUSE_KEY,
        group_name=WAREHOUSE_GROUP,
        description=(
            "The warehouse database (marts schema `value_view`). Not built by Dagster: it carries"
            " instance-wide checks (buffer-cache hit ratio, index health) evaluated after the"
            " marts refresh."
        ),
        kinds={"postgres"},
        deps=sorted(mart_keys, key=lambda key: key.to_user_string()),
    )


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


def index_stats(warehouse: WarehouseResource, schema: str) -> list[IndexStats]:
    with warehouse.connect(autocommit=True) as conn:
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


def index_table(stats: Sequence[IndexStats]) -> MetadataValue:
    schema = TableSchema(
        columns=[
            TableColumn("relation", "string"),
            TableColumn("index", "string"),
            TableColumn("size_kb", "int"),
            TableColumn("scans", "int"),
            TableColumn("tuples_read", "int"),
            TableColumn("tuples_fetched", "int"),
            TableColumn("efficiency_pct", "float"),
            TableColumn("status", "string"),
        ]
    )
    records = [
        TableRecord(
            {
                "relation": item.table,
                "index": item.index,
                "size_kb": item.size_bytes // 1024,
                "scans": item.scans,
                "tuples_read": item.tuples_read,
                "tuples_fetched": item.tuples_fetched,
                "efficiency_pct": round(item.efficiency * 100, 2)
                if item.efficiency is not None
                else 0.0,
                "status": item.status,
            }
        )
        for item in stats
    ]
    return MetadataValue.table(records=records, schema=schema)


def build_warehouse_checks(mart_keys: Sequence[AssetKey]) -> list[AssetChecksDefinition]:
    """Buffer-cache hit ratio of the warehouse database and index health of the marts schema."""
    deps = list(mart_keys)

    @asset_check(
        asset=WAREHOUSE_KEY,
        name=CACHE_HIT_CHECK,
        additional_deps=deps,
        description=(
            f"Share of block requests served from shared buffers in the warehouse database"
            f" (pg_stat_database) is at least {MIN_CACHE_HIT_RATIO:.0%}."
        ),
    )
    def buffer_cache_hit_ratio(
        context: AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> AssetCheckResult:
        with warehouse.connect(autocommit=True) as conn:
            hits, reads = conn.execute(
                "select blks_hit, blks_read from pg_stat_database"
                " where datname = current_database()"
            ).fetchone()
            per_relation = conn.execute(
                """
                select relname,
                       coalesce(heap_blks_hit, 0) + coalesce(idx_blks_hit, 0),
                       coalesce(heap_blks_read, 0) + coalesce(idx_blks_read, 0)
                from pg_statio_user_tables where schemaname = %s order by relname
                """,
                (warehouse.marts_schema,),
            ).fetchall()
        passed, ratio, verdict = cache_hit_verdict(int(hits), int(reads), MIN_CACHE_HIT_RATIO)
        relations = [
            TableRecord(
                {
                    "relation": name,
                    "hits": int(hit),
                    "reads": int(read),
                    "hit_ratio_pct": round(100.0 * hit / (hit + read), 2) if hit + read else 0.0,
                }
            )
            for name, hit, read in per_relation
        ]
        metadata: dict[str, Any] = {
            "blocks_hit": MetadataValue.int(int(hits)),
            "blocks_read": MetadataValue.int(int(reads)),
            "minimum_ratio": MetadataValue.float(MIN_CACHE_HIT_RATIO),
            "marts_relations": MetadataValue.table(
                records=relations,
                schema=TableSchema(
                    columns=[
                        TableColumn("relation", "string"),
                        TableColumn("hits", "int"),
                        TableColumn("reads", "int"),
                        TableColumn("hit_ratio_pct", "float"),
                    ]
                ),
            ),
        }
        if ratio is not None:
            metadata["hit_ratio"] = MetadataValue.float(round(ratio, 5))
        return AssetCheckResult(
            passed=passed,
            severity=AssetCheckSeverity.ERROR,
            description=verdict,
            metadata=metadata,
        )

    @asset_check(
        asset=WAREHOUSE_KEY,
        name=INDEX_HEALTH_CHECK,
        additional_deps=deps,
        description=(
            "Indexes of the marts schema never used although their table is read through its"
            f" other indexes ({MIN_SCANS_FOR_UNUSED:,}+ index scans), or that fetch under"
            f" {INEFFICIENT_RATIO:.0%} of the tuples they read (report in the metadata)."
        ),
    )
    def index_health(
        context: AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> AssetCheckResult:
        stats = index_stats(warehouse, warehouse.marts_schema)
        flagged = [item for item in stats if item.status != "ok"]
        description = (
            f"{len(stats)} indexes, none unused or inefficient"
            if not flagged
            else ", ".join(f"{item.index} ({item.status})" for item in flagged)
        )
        return AssetCheckResult(
            passed=not flagged,
            severity=AssetCheckSeverity.WARN,
            description=description,
            metadata={
                "indexes": MetadataValue.int(len(stats)),
                "unused": MetadataValue.int(sum(item.status == "unused" for item in stats)),
                "inefficient": MetadataValue.int(
                    sum(item.status == "inefficient" for item in stats)
                ),
                "report": index_table(stats),
            },
        )

    return [buffer_cache_hit_ratio, index_health]
