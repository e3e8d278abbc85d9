"""The whole pipeline through Dagster, and the per-mart summary `value-view demo` prints.

``run_pipeline`` executes the ``value_view_pipeline`` job (demo data when needed, every dbt model
with its tests, every check) against an instance, so the run and its checks are in the instance's
history afterwards; ``mart_summary`` reads the run back into one row per mart.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from dagster import (
    AssetCheckSeverity,
    AssetKey,
    DagsterInstance,
    Definitions,
    ExecuteInProcessResult,
)
from dagster_dbt import DbtProject
from psycopg import sql

from orchestration.definitions import build_definitions
from orchestration.defs import project
from orchestration.defs.checks import LATENCY_CHECK
from orchestration.defs.demo import DEMO_DATA_NAME
from orchestration.defs.schedules import PIPELINE_JOB
from orchestration.defs.translator import ValueViewTranslator
from orchestration.lib import manifest as manifests
from orchestration.lib import settings as project_settings
from orchestration.lib.database import ConnectionSettings, connect, ensure_database
from orchestration.lib.dbt_runner import dbt_env
from orchestration.lib.report import print_table
from orchestration.tools import instance as dagster_home


def relation_kind(materialized: str) -> str:
    """What a BI tool sees: materialized view, view or table (custom materializations included)."""
    if "materialized_view" in materialized:
        return "materialized view"
    if materialized in ("table", "incremental", "seed", "snapshot") or materialized.endswith(
        "incremental_table"
    ):
        return "table"
    return materialized.replace("_", " ")


def run_config(
    *,
    scale: int,
    seed: int,
    reset: bool = False,
    warehouse_url: str | None = None,
    budget_overrides_ms: Mapping[str, float] | None = None,
    benchmark_runs: int | None = None,
    as_of: str | None = None,
    console_log_level: str | None = None,
) -> dict[str, Any]:
    """Run config for the pipeline job; unset values keep the resources' defaults."""
    demo: dict[str, Any] = {"scale": scale, "seed": seed, "reset": reset}
    if as_of:
        demo["as_of"] = as_of
    config: dict[str, Any] = {"ops": {DEMO_DATA_NAME: {"config": demo}}, "resources": {}}
    if console_log_level:
        config["loggers"] = {"console": {"config": {"log_level": console_log_level}}}
    if warehouse_url:
        config["resources"]["warehouse"] = {"config": {"database_url": warehouse_url}}
    benchmark: dict[str, Any] = {}
    if budget_overrides_ms:
        benchmark["budget_overrides_ms"] = dict(budget_overrides_ms)
    if benchmark_runs:
        benchmark["runs"] = benchmark_runs
    if benchmark:
        config["resources"]["benchmark"] = {"config": benchmark}
    if not config["resources"]:
        del config["resources"]
    return config


def run_pipeline(
    defs: Definitions,
    instance: DagsterInstance,
    config: Mapping[str, Any],
    *,
    job_name: str = PIPELINE_JOB,
) -> ExecuteInProcessResult:
    """Execute a job of ``defs`` in this process, recording it in ``instance``."""
    job = defs.resolve_job_def(job_name)
    return job.execute_in_process(run_config=dict(config), instance=instance, raise_on_error=False)


@dataclass(frozen=True)
class MartRow:
    relation: str
    kind: str
    rows: int | None
    build_seconds: float | None
    p95_ms: float | None
    budget_ms: float | None
    checks_passed: int
    checks_total: int
    failed_errors: tuple[str, ...]
    failed_warnings: tuple[str, ...]

    @property
    def verdict(self) -> str:
        if self.failed_errors:
            return "FAIL"
        if self.checks_total == 0 and self.build_seconds is None:
            return "not built"
        return "warn" if self.failed_warnings else "pass"


def _metadata_value(metadata: Mapping[str, Any], name: str) -> Any:
    value = metadata.get(name)
    return getattr(value, "value", value)


def _row_count(settings: ConnectionSettings, schema: str, relation: str) -> int | None:
    try:
        with connect(settings, autocommit=True) as conn:
            query = sql.SQL("select count(*) from {}.{}").format(
                sql.Identifier(schema), sql.Identifier(relation)
            )
            return int(conn.execute(query).fetchone()[0])
    except psycopg.Error:
        return None


def mart_summary(
    result: ExecuteInProcessResult,
    manifest: Mapping[str, Any],
    settings: ConnectionSettings,
) -> list[MartRow]:
    """One row per mart (latest versions): what the run built and what its checks said."""
    translator = ValueViewTranslator()
    durations: dict[AssetKey, float] = {}
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        duration = _metadata_value(materialization.metadata, "Execution Duration")
        if duration is not None:
            durations[materialization.asset_key] = float(duration)
    evaluations: dict[AssetKey, list[Any]] = {}
    for evaluation in result.get_asset_check_evaluations():
        evaluations.setdefault(evaluation.asset_key, []).append(evaluation)
    rows = []
    for node in manifests.latest_mart_nodes(manifest).values():
        key = translator.get_asset_key(node)
        found = evaluations.get(key, [])
        latency = next((e for e in found if e.check_name == LATENCY_CHECK), None)
        failed = [e for e in found if not e.passed]
        rows.append(
            MartRow(
                relation=node["name"],
                kind=relation_kind(str(node["config"].get("materialized", ""))),
                rows=_row_count(settings, node["schema"], manifests.relation_name(node)),
                build_seconds=durations.get(key),
                p95_ms=_metadata_value(latency.metadata, "p95_ms") if latency else None,
                budget_ms=_metadata_value(latency.metadata, "p95_budget_ms") if latency else None,
                checks_passed=len(found) - len(failed),
                checks_total=len(found),
                failed_errors=tuple(
                    e.check_name for e in failed if e.severity == AssetCheckSeverity.ERROR
                ),
                failed_warnings=tuple(
                    e.check_name for e in failed if e.severity != AssetCheckSeverity.ERROR
                ),
            )
        )
    return rows


def _fmt(value: float | None, pattern: str) -> str:
    return "-" if value is None else format(value, pattern)


def print_summary(rows: Sequence[MartRow], title: str) -> None:
    print_table(
        ["relation", "kind", "rows", "build s", "p95 ms", "budget ms", "checks", "result"],
        [
            [
                row.relation,
                row.kind,
                _fmt(row.rows, ","),
                _fmt(row.build_seconds, ".2f"),
                _fmt(row.p95_ms, ".2f"),
                _fmt(row.budget_ms, "g"),
                f"{row.checks_passed}/{row.checks_total}",
                row.verdict
                + (
                    f" ({', '.join(row.failed_errors + row.failed_warnings)})"
                    if row.failed_errors or row.failed_warnings
                    else ""
                ),
            ]
            for row in rows
        ],
        title=title,
    )


def check_counts(result: ExecuteInProcessResult) -> dict[str, int]:
    """How the run's checks came out: passed, failed with ERROR, failed with WARN severity."""
    counts = {"passed": 0, "error": 0, "warn": 0}
    for evaluation in result.get_asset_check_evaluations():
        if evaluation.passed:
            counts["passed"] += 1
        elif evaluation.severity == AssetCheckSeverity.ERROR:
            counts["error"] += 1
        else:
            counts["warn"] += 1
    return counts


def other_check_errors(result: ExecuteInProcessResult, mart_keys: set[AssetKey]) -> list[str]:
    """ERROR-severity check failures that are not on a mart, as ``asset:check`` strings."""
    return [
        f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
        for evaluation in result.get_asset_check_evaluations()
        if not evaluation.passed
        and evaluation.severity == AssetCheckSeverity.ERROR
        and evaluation.asset_key not in mart_keys
    ]


def demo(*, scale: int, seed: int, reset: bool = False, benchmark_runs: int | None = None) -> int:
    """`value-view demo`: server, data, the whole pipeline through Dagster, a summary table."""
    settings = project_settings.resolve()
    ensure_database(settings)
    print(
        f"warehouse: {settings.host}:{settings.port}/{settings.dbname} ({settings.source})",
        flush=True,
    )
    dbt_project: DbtProject = project.dbt_project()
    project.parse(dbt_project, env=dbt_env(settings))
    manifest = project.load_manifest(dbt_project)
    instance = dagster_home.open_instance(settings)
    defs = build_definitions(dbt_project)
    log_file = Path(instance.root_directory) / "logs" / "demo.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    print(
        f"running {PIPELINE_JOB}: demo data when missing, dbt build with every test, latency,"
        f" freshness and warehouse checks (Dagster home {instance.root_directory};"
        f" dbt and Dagster output in {log_file})",
        flush=True,
    )
    config = run_config(
        scale=scale,
        seed=seed,
        reset=reset,
        benchmark_runs=benchmark_runs,
        console_log_level="CRITICAL",
    )
    with (
        log_file.open("w") as output,
        contextlib.redirect_stdout(output),
        contextlib.redirect_stderr(output),
    ):
        result = run_pipeline(defs, instance, config)
    rows = mart_summary(result, manifest, settings)
    print_summary(rows, title=f"Value View marts (run {result.run_id[:8]}, scale {scale})")
    translator = ValueViewTranslator()
    mart_keys = {translator.get_asset_key(n) for n in manifests.mart_nodes(manifest).values()}
    counts = check_counts(result)
    print(
        f"checks: {counts['passed']} passed, {counts['error']} failed,"
        f" {counts['warn']} warnings (warn-severity checks report; they do not gate)"
    )
    for failure in other_check_errors(result, mart_keys):
        print(f"failed check: {failure}")
    errors = step_errors(result)
    for step, message in errors.items():
        print(f"failed step {step}:\n{message}", file=sys.stderr)
    print("open the Dagster UI with `make ui` (or `value-view ui`) to see the run and its checks")
    if errors:
        return 1
    if counts["error"]:
        print(f"result: every asset built; {counts['error']} check(s) failed (FAIL rows above)")
    else:
        print("result: every asset built and every gating check passed")
    return 0


def step_errors(result: ExecuteInProcessResult) -> dict[str, str]:
    """Steps that failed for a reason other than a failed blocking check, with their error."""
    errors = {}
    for event in result.all_events:
        if event.event_type_value != "STEP_FAILURE":
            continue
        error = event.event_specific_data.error
        if error is not None and error.cls_name == "DagsterAssetCheckFailedError":
            continue
        message = error.message.strip() if error is not None else "failed"
        errors[event.step_key] = "\n".join(message.splitlines()[:25])
    return errors
