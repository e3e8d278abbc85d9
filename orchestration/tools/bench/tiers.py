"""Phase 2d: each refresh tier's job run through Dagster twice, forced and then again on
unchanged sources, side by side.

The runs execute in this process against the benchmark warehouse, recorded in a Dagster instance
of their own (its storage database is made for the phase and dropped after it). A forced run
rebuilds everything the tier selects: the quarantine, the tier's marts, their dbt tests and
checks. The run after it finds every input as recorded and skips each mart (or refreshes a view
over a window of the clock in place). Both are timed from the start of the run to its end, and
the steps' own time is read back from the instance; each mart's outcome is counted from the
run's events. Dagster's and dbt's output goes to ``<out>/tier_runs/<tier>_<mode>.log``.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from pathlib import Path
from typing import Any

from orchestration.definitions import build_definitions
from orchestration.defs import project as defs_project
from orchestration.defs.assets import DBT_ASSETS_NAME, REFRESHED_IN_PLACE_METADATA, SKIPPED_METADATA
from orchestration.defs.schedules import Tier, refresh_tiers
from orchestration.defs.translator import ValueViewTranslator
from orchestration.lib import database
from orchestration.lib.dbt_runner import DbtCommandError, dbt_env
from orchestration.tools import instance as dagster_home
from orchestration.tools import pipeline
from orchestration.tools.bench import dbt as bench_dbt
from orchestration.tools.bench import fmt
from orchestration.tools.bench.figures import ratio
from orchestration.tools.bench.options import BenchError, BenchOptions, Progress
from orchestration.tools.bench.warehouse import Warehouse

MODES = ("forced", "unchanged")


def _outcomes(result: Any, tier: Tier) -> dict[str, int]:
    """How many of the tier's marts the run rebuilt, refreshed in place or skipped."""
    marts = set(tier.asset_keys)
    rebuilt, in_place, skipped = set(), set(), set()
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        if materialization.asset_key not in marts:
            continue
        if REFRESHED_IN_PLACE_METADATA in materialization.metadata:
            in_place.add(materialization.asset_key)
        else:
            rebuilt.add(materialization.asset_key)
    for event in result.all_events:
        if event.event_type_value != "ASSET_OBSERVATION":
            continue
        observation = event.asset_observation_data.asset_observation
        if observation.asset_key in marts and SKIPPED_METADATA in observation.metadata:
            skipped.add(observation.asset_key)
    return {"rebuilt": len(rebuilt), "in_place": len(in_place), "skipped": len(skipped)}


def _run(
    defs: Any,
    instance: Any,
    warehouse: Warehouse,
    options: BenchOptions,
    tier: Tier,
    mode: str,
    logs: Path,
) -> dict[str, Any]:
    config = pipeline.run_config(
        scale=warehouse.scale,
        seed=options.seed,
        warehouse_url=warehouse.settings.url,
        console_log_level="INFO",
    )
    config["ops"] = {DBT_ASSETS_NAME: {"config": {"force": mode == "forced"}}}
    log_file = logs / f"{tier.name}_{mode}.log"
    started = time.perf_counter()
    with (
        log_file.open("w") as output,
        contextlib.redirect_stdout(output),
        contextlib.redirect_stderr(output),
    ):
        result = pipeline.run_pipeline(defs, instance, config, job_name=tier.job_name)
    wall_s = time.perf_counter() - started
    steps = instance.get_run_step_stats(result.run_id)
    return {
        "run_id": result.run_id,
        "success": result.success,
        "wall_s": round(wall_s, 3),
        # Steps skipped because their asset was not materialized have no start or end.
        "steps_s": round(
            sum(s.end_time - s.start_time for s in steps if s.start_time and s.end_time), 3
        ),
        "steps": sum(1 for s in steps if s.start_time and s.end_time),
        "failed_steps": sorted(pipeline.step_errors(result)),
        "log": str(log_file),
        **_outcomes(result, tier),
    }


def measure_tier_runs(warehouse: Warehouse, options: BenchOptions, log: Progress) -> dict[str, Any]:
    """Per tier: a forced run and a run on unchanged sources right after it, through Dagster."""
    logs = Path(options.out) / "tier_runs"
    logs.mkdir(parents=True, exist_ok=True)
    storage = dagster_home.storage_settings(warehouse.settings)
    database.drop_database(storage)
    # The warehouse holds the marts and what they read; a tier run also rebuilds the quarantine
    # reconciliation, which reads every staging model: build the models no mart reads first.
    log("tiers", f"{warehouse.settings.dbname}: dbt run of the models no mart reads")
    bench_dbt.run_dbt(
        ["--quiet", "run", "--exclude", "+path:models/marts"], warehouse.settings, options
    )
    dbt_project = defs_project.dbt_project(Path(options.target_path) / "tier_runs")
    try:
        defs_project.parse(dbt_project, env=dbt_env(warehouse.settings))
    except DbtCommandError as error:
        raise BenchError(str(error)) from error
    manifest = defs_project.load_manifest(dbt_project)
    defs = build_definitions(dbt_project)
    tiers = [
        tier
        for tier in refresh_tiers(manifest, ValueViewTranslator())
        if not options.tiers or tier.name in options.tiers
    ]
    unknown = set(options.tiers) - {
        tier.name for tier in refresh_tiers(manifest, ValueViewTranslator())
    }
    if unknown:
        raise BenchError(f"--tiers: no tier named {sorted(unknown)}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="vv-bench-dagster-") as home:
        instance = dagster_home.open_instance(warehouse.settings, Path(home))
        try:
            for tier in tiers:
                runs = {}
                for mode in MODES:
                    log("tiers", f"{tier.name}: {mode} run ({len(tier.asset_keys)} marts)")
                    runs[mode] = _run(defs, instance, warehouse, options, tier, mode, logs)
                forced, unchanged = runs["forced"], runs["unchanged"]
                row = {
                    "tier": tier.name,
                    "cron": tier.cron,
                    "marts": len(tier.asset_keys),
                    "quarantine": len(tier.quarantine_keys),
                    "forced": forced,
                    "unchanged": unchanged,
                    "unchanged_over_forced": ratio(unchanged["wall_s"], forced["wall_s"]),
                    "steps_unchanged_over_forced": ratio(unchanged["steps_s"], forced["steps_s"]),
                }
                rows.append(row)
                log(
                    "tiers",
                    f"{tier.name}: forced {fmt.secs(forced['wall_s'])} (rebuilt"
                    f" {forced['rebuilt']}), unchanged {fmt.secs(unchanged['wall_s'])} (skipped"
                    f" {unchanged['skipped']}, in place {unchanged['in_place']}, rebuilt"
                    f" {unchanged['rebuilt']}): {fmt.pct(row['unchanged_over_forced'])}",
                )
        finally:
            instance.dispose()
            database.drop_database(storage)
    forced_s = sum(row["forced"]["wall_s"] for row in rows)
    unchanged_s = sum(row["unchanged"]["wall_s"] for row in rows)
    return {
        "scale": warehouse.scale,
        "tiers": rows,
        "forced_s": round(forced_s, 3),
        "unchanged_s": round(unchanged_s, 3),
        "unchanged_over_forced": ratio(unchanged_s, forced_s),
        "failures": [
            f"tier {row['tier']} {mode} run failed: steps {row[mode]['failed_steps']}"
            f" (log {row[mode]['log']})"
            for row in rows
            for mode in MODES
            if not row[mode]["success"]
        ],
        "logs": str(logs),
    }
