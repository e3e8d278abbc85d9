"""Asset checks beyond the dbt tests: dashboard latency and freshness per tier, derived from the
marts' ``meta`` in the manifest (the warehouse's own checks are in ``warehouse_checks``). What
they measure is computed in the library (``lib.measure``, ``lib.health``); this module turns it
into Dagster check results.
"""

import datetime as dt
from collections.abc import Mapping
from typing import Any

import psycopg
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    MetadataValue,
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
from orchestration.lib.measure import latency_verdict, measure_query

BENCHMARK_OP_TAG = "value_view/benchmark"
LATENCY_CHECK = manifests.LATENCY_CHECK
FRESHNESS_CHECK = "freshness"


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
