"""Asset checks beyond the dbt tests: dashboard latency, freshness per tier, warehouse health.

Latency and freshness checks are derived from the marts' ``meta`` in the manifest; the warehouse
checks (buffer-cache hit ratio, index health) sit on one asset that stands for the database. What
they measure is computed in the library (``lib.measure``, ``lib.health``); this module turns it
into Dagster check results.
"""

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import psycopg
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    AssetSpec,
    MetadataValue,
    TableColumn,
    TableRecord,
    TableSchema,
    asset_check,
)
from dagster_dbt import DbtProject

from orchestration.defs.assets import SKIPPED_METADATA
from orchestration.defs.project import target_dir
from orchestration.defs.resources import BenchmarkResource, WarehouseResource
from orchestration.defs.translator import ValueViewTranslator
from orchestration.lib import health
from orchestration.lib import manifest as manifests
from orchestration.lib.analyses import AnalysisError, compiled_analysis
from orchestration.lib.dbt_runner import DbtCommandError
from orchestration.lib.health import (
    INEFFICIENT_RATIO,
    MIN_CACHE_HIT_RATIO,
    MIN_SCANS_FOR_UNUSED,
    IndexStats,
)
from orchestration.lib.measure import latency_verdict, measure_query

WAREHOUSE_KEY = AssetKey(["value_view", "warehouse"])
WAREHOUSE_GROUP = "warehouse"
BENCHMARK_OP_TAG = "value_view/benchmark"
LATENCY_CHECK = manifests.LATENCY_CHECK
FRESHNESS_CHECK = "freshness"
CACHE_HIT_CHECK = "buffer_cache_hit_ratio"
INDEX_HEALTH_CHECK = "index_health"


def _latency_check(
    dbt_project: DbtProject,
    manifest: Mapping[str, Any],
    bench: manifests.Benchmark,
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
            sql = compiled_analysis(
                manifest,
                bench.analysis,
                target=target_dir(dbt_project),
                settings=warehouse.settings(),
                source_schema=warehouse.source(),
            )
            measured = measure_query(
                warehouse.settings(),
                sql,
                runs=benchmark.runs,
                warmup_runs=benchmark.warmup_runs,
                statement_timeout_ms=benchmark.statement_timeout_ms,
            )
        except (AnalysisError, DbtCommandError, psycopg.Error) as error:
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
    for bench in manifests.benchmarks(manifest):
        node = manifest["nodes"][bench.unique_id]
        checks.append(_latency_check(dbt_project, manifest, bench, translator.get_asset_key(node)))
    return checks


# --------------------------------------------------------------------------------------
# Freshness per refresh tier
# --------------------------------------------------------------------------------------


def last_skip(context: AssetCheckExecutionContext, key: AssetKey) -> dt.datetime | None:
    """When a tier run last skipped the asset because its inputs were unchanged."""
    for record in context.instance.fetch_observations(key, limit=1).records:
        observation = record.asset_observation
        if observation is not None and SKIPPED_METADATA in observation.metadata:
            return dt.datetime.fromtimestamp(record.timestamp, tz=dt.timezone.utc)
    return None


def _freshness_check(
    key: AssetKey, schema: str, relation: str, cron: str, tier: str
) -> AssetChecksDefinition:
    max_age = health.max_age_for_cron(cron)

    @asset_check(
        asset=key,
        name=FRESHNESS_CHECK,
        description=f"Refreshed within {health.hours(max_age)} (tier {tier}, cron `{cron}` UTC).",
        metadata={"tier": tier, "max_age_hours": max_age.total_seconds() / 3600},
    )
    def freshness(
        context: AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> AssetCheckResult:
        refreshed, basis = health.last_refresh(warehouse.settings(), schema, relation)
        if refreshed is None:
            event = context.instance.get_latest_materialization_event(key)
            if event is not None:
                refreshed = dt.datetime.fromtimestamp(event.timestamp, tz=dt.timezone.utc)
                basis = "last Dagster materialization"
        # A tier run that found the inputs unchanged confirmed the rows current as of then.
        confirmed = last_skip(context, key)
        if confirmed is not None and (refreshed is None or confirmed > refreshed):
            refreshed, basis = confirmed, "refresh skipped: inputs unchanged"
        now = dt.datetime.now(dt.timezone.utc)
        passed, verdict = health.freshness_verdict(refreshed, now, max_age)
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
    for node in manifests.mart_nodes(manifest).values():
        cron = manifests.refresh_cron(node)
        if not cron:
            continue
        relation = manifests.relation_name(node)
        checks.append(
            _freshness_check(
                translator.get_asset_key(node),
                node["schema"],
                relation,
                cron,
                manifests.tier_name(cron),
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


def metadata_table(records: Sequence[Mapping[str, Any]], types: Mapping[str, str]) -> MetadataValue:
    """A table for the UI: one record per row, ``types`` giving each column's name and type."""
    return MetadataValue.table(
        records=[TableRecord(dict(record)) for record in records],
        schema=TableSchema(columns=[TableColumn(name, kind) for name, kind in types.items()]),
    )


INDEX_REPORT_COLUMNS = {
    "relation": "string",
    "index": "string",
    "size_kb": "int",
    "scans": "int",
    "tuples_read": "int",
    "tuples_fetched": "int",
    "efficiency_pct": "float",
    "status": "string",
}
CACHE_REPORT_COLUMNS = {
    "relation": "string",
    "hits": "int",
    "reads": "int",
    "hit_ratio_pct": "float",
}


def index_table(stats: Sequence[IndexStats]) -> MetadataValue:
    return metadata_table(
        [
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
            for item in stats
        ],
        INDEX_REPORT_COLUMNS,
    )


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
        hits, reads, per_relation = health.cache_hits(warehouse.settings(), warehouse.marts_schema)
        passed, ratio, verdict = health.cache_hit_verdict(
            int(hits), int(reads), MIN_CACHE_HIT_RATIO
        )
        relations = [
            {
                "relation": name,
                "hits": hit,
                "reads": read,
                "hit_ratio_pct": round(100.0 * hit / (hit + read), 2) if hit + read else 0.0,
            }
            for name, hit, read in per_relation
        ]
        metadata: dict[str, Any] = {
            "blocks_hit": MetadataValue.int(hits),
            "blocks_read": MetadataValue.int(reads),
            "minimum_ratio": MetadataValue.float(MIN_CACHE_HIT_RATIO),
            "marts_relations": metadata_table(relations, CACHE_REPORT_COLUMNS),
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
        stats = health.index_stats(warehouse.settings(), warehouse.marts_schema)
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
