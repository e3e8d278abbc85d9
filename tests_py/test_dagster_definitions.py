"""The Dagster code location: it loads, and its schedules match the marts' meta in the manifest.

Expected schedules are derived here straight from manifest.json, independently of
orchestration/, so a schedule that drifts from the YAML fails.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from dagster import AssetKey, AssetObservation, DefaultScheduleStatus
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage
from sqlalchemy import event as sqlalchemy_event

from orchestration.definitions import build_definitions
from orchestration.defs import archive, assets, checks, warehouse_checks
from orchestration.defs.demo import DEMO_DATA_KEY, DemoDataConfig, demo_data_command
from orchestration.defs.translator import TIER_TAG, ValueViewTranslator, owner_of
from orchestration.lib import database, health, inputs, measure, settings
from orchestration.lib import manifest as project
from orchestration.tools import instance as dagster_home

EVENTS_STORED = 50
MART_FOLDERS = {"value_view": "marts", "realtime": "realtime", "rollups": "rollups"}


def _meta(node: dict) -> dict:
    return (node.get("config") or {}).get("meta") or node.get("meta") or {}


def _is_mart(node: dict) -> bool:
    path = Path(node["original_file_path"])
    return node["resource_type"] == "model" and path.parts[:2] == ("models", "marts")


def _expected_key(node: dict) -> AssetKey:
    name = node["name"]
    if node.get("version") is not None and node["version"] != node.get("latest_version"):
        name = f"{name}_v{node['version']}"
    return AssetKey([node["config"]["schema"], name])


def _expected_tiers(manifest: dict) -> dict[str, set[AssetKey]]:
    """The marts and snapshots of each refresh cron (a snapshot is taken on its tier's run)."""
    tiers: dict[str, set[AssetKey]] = defaultdict(set)
    for node in manifest["nodes"].values():
        if not (_is_mart(node) or node["resource_type"] == "snapshot"):
            continue
        cron = (_meta(node).get("refresh") or {}).get("cron")
        if cron:
            tiers[" ".join(cron.split())].add(_expected_key(node))
    return dict(tiers)


def _quarantine(manifest: dict) -> set[AssetKey]:
    """The models of models/quarantine/: every tier run brings them up to date first."""
    return {
        _expected_key(node)
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
        and node["original_file_path"].startswith("models/quarantine/")
    }


# -- the code location loads -------------------------------------------------------------


def test_definitions_load(defs, manifest) -> None:
    repository = defs.get_repository_def()
    keys = set(repository.asset_graph.get_all_asset_keys())
    models = [node for node in manifest["nodes"].values() if node["resource_type"] == "model"]
    assert models, "the dbt project has no models"
    marts = [node for node in models if _is_mart(node)]
    for node in marts:
        assert _expected_key(node) in keys
    for source in manifest["sources"].values():
        assert AssetKey([source["source_name"], source["name"]]) in keys
    assert warehouse_checks.WAREHOUSE_KEY in keys
    assert {"value_view_pipeline", "archive_professional_data"} <= set(repository.job_names)


def test_every_dbt_test_is_a_check_on_an_asset(defs, manifest) -> None:
    """Ops see each dbt test as a check on the asset it guards, never as a loose observation: a
    singular test reading several relations names its asset in ``meta.dagster.ref``."""
    check_keys = defs.get_repository_def().asset_graph.asset_check_keys
    by_name = {key.name: key.asset_key for key in check_keys}
    tests = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "test"}
    assert tests, "the dbt project has no tests"
    assert sorted(set(tests) - set(by_name)) == []
    for name, node in tests.items():
        ref = _meta(node).get("dagster", {}).get("ref")
        if ref:
            assert by_name[name].path[-1] == ref["name"], name


def test_definitions_validate_from_repo_root(dbt_project) -> None:
    env = dict(os.environ, **{project.TARGET_PATH_ENV: str(dbt_project.target_path)})
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate"],
        cwd=settings.PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_assets_carry_layer_owner_and_tier(defs, manifest) -> None:
    graph = defs.get_repository_def().asset_graph
    marts = [node for node in manifest["nodes"].values() if _is_mart(node)]
    assert marts, "no marts in the dbt project yet"
    for node in marts:
        spec = graph.get(_expected_key(node))
        folder = Path(node["original_file_path"]).parts[2]
        assert spec.group_name == (_meta(node).get("layer") or MART_FOLDERS.get(folder, folder))
        if _meta(node).get("owner"):
            assert spec.owners == owner_of(_meta(node))
        cron = (_meta(node).get("refresh") or {}).get("cron")
        if cron:
            assert spec.tags[TIER_TAG] == project.tier_name(cron)
    for node in manifest["nodes"].values():
        if node["resource_type"] == "model" and not _is_mart(node):
            spec = graph.get(AssetKey([node["config"]["schema"], node["name"]]))
            assert spec.group_name == Path(node["original_file_path"]).parts[1]
            assert TIER_TAG not in spec.tags


# -- schedules follow the marts' meta ----------------------------------------------------


def test_one_schedule_per_refresh_cron(defs, manifest) -> None:
    expected = _expected_tiers(manifest)
    assert expected, "no mart declares meta.refresh.cron yet"
    repository = defs.get_repository_def()
    refresh = {
        s.cron_schedule: s for s in repository.schedule_defs if s.name.startswith("refresh_")
    }
    assert set(refresh) == set(expected)
    dbt_keys = {
        _expected_key(node)
        for node in manifest["nodes"].values()
        if node["resource_type"] in ("model", "seed", "snapshot")
    }
    for cron, keys in expected.items():
        schedule = refresh[cron]
        assert schedule.execution_timezone == "UTC"
        assert schedule.default_status == DefaultScheduleStatus.RUNNING
        job = repository.get_job(schedule.job_name)
        selected = set(job.asset_layer.selected_asset_keys)
        # The tier's marts, and the whole quarantine (brought up to date first).
        quarantine = _quarantine(manifest)
        assert len(quarantine) > 20, cron
        assert selected & dbt_keys == keys | quarantine, cron
        assert job.tags[TIER_TAG] == project.tier_name(cron)


def test_tier_jobs_run_their_checks(defs, manifest) -> None:
    repository = defs.get_repository_def()
    by_name = {node["name"]: node for node in manifest["nodes"].values() if _is_mart(node)}
    for schedule in repository.schedule_defs:
        if not schedule.name.startswith("refresh_"):
            continue
        job = repository.get_job(schedule.job_name)
        ops = {node.name for node in job.graph.node_defs}
        for key in job.asset_layer.selected_asset_keys:
            node = by_name.get(key.path[-1])
            if node and _meta(node).get("benchmark"):
                assert f"{key.to_python_identifier()}_{checks.LATENCY_CHECK}" in ops
            if node:
                assert f"{key.to_python_identifier()}_{checks.FRESHNESS_CHECK}" in ops


def test_real_time_views_have_no_schedule(defs, manifest) -> None:
    repository = defs.get_repository_def()
    scheduled = set()
    for schedule in repository.schedule_defs:
        scheduled |= set(repository.get_job(schedule.job_name).asset_layer.selected_asset_keys)
    for node in manifest["nodes"].values():
        if _is_mart(node) and not (_meta(node).get("refresh") or {}).get("cron"):
            assert _expected_key(node) not in scheduled


def test_latency_checks_follow_benchmarks(defs, manifest) -> None:
    repository = defs.get_repository_def()
    latency = {
        (key.asset_key, key.name)
        for key in repository.asset_checks_defs_by_key
        if key.name.startswith(checks.LATENCY_CHECK)
    }
    expected = set()
    for node in manifest["nodes"].values():
        if not _is_mart(node) or node.get("version") not in (None, node.get("latest_version")):
            continue
        meta = _meta(node)
        if (meta.get("benchmark") or {}).get("analysis"):
            expected.add((_expected_key(node), "latency_p95"))
        for extra in meta.get("additional_benchmarks") or []:
            name = extra["analysis"].removeprefix("bench_")
            expected.add((_expected_key(node), f"latency_p95_{name}"))
    assert expected
    assert latency == expected
    for key, check_def in repository.asset_checks_defs_by_key.items():
        if key.name.startswith(checks.LATENCY_CHECK):
            assert check_def.get_spec_for_check_key(key).blocking


def test_archive_schedule() -> None:
    (schedule,) = archive.archive_schedules()
    assert schedule.cron_schedule == "0 2 1 * *"
    assert schedule.execution_timezone == "UTC"
    assert schedule.default_status == DefaultScheduleStatus.RUNNING


# -- pure helpers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cron", "tier"),
    [
        ("0 * * * *", "hourly"),
        ("0 2 * * *", "daily_0200"),
        ("0 6 * * *", "daily_0600"),
        ("0 1 * * 0", "weekly_sun_0100"),
        ("0 2 1 * *", "monthly_01_0200"),
    ],
)
def test_tier_names(cron: str, tier: str) -> None:
    assert project.tier_name(cron) == tier


def test_versioned_models_keep_an_unsuffixed_key() -> None:
    translator = ValueViewTranslator()
    base = {
        "resource_type": "model",
        "name": "mv_value_view_odi_heatmap",
        "schema": "value_view",
        "config": {"schema": "value_view", "meta": {}},
        "original_file_path": "models/marts/value_view/mv_value_view_odi_heatmap_v2.sql",
        "latest_version": 2,
    }
    latest = {**base, "version": 2, "alias": "mv_value_view_odi_heatmap_v2"}
    older = {**base, "version": 1, "alias": "mv_value_view_odi_heatmap_v1"}
    assert translator.get_asset_key(latest) == AssetKey(["value_view", "mv_value_view_odi_heatmap"])
    assert translator.get_asset_key(older) == AssetKey(
        ["value_view", "mv_value_view_odi_heatmap_v1"]
    )
    assert translator.get_group_name(latest) == "marts"


def test_owners() -> None:
    assert owner_of({"owner": "analytics-engineering"}) == ["team:analytics-engineering"]
    assert owner_of({"owner": "ops@example.com"}) == ["ops@example.com"]
    assert owner_of({}) == []


def test_latency_verdict_fails_over_budget() -> None:
    plan = measure.PlanSummary("Limit", ("Index Scan",), "Index Scan", False)
    measured = measure.Measurement(timings_ms=(1.0, 2.0, 3.0, 50.0), rows=10, plan=plan)
    assert measure.latency_verdict(measured, 100, 10)[0]
    assert not measure.latency_verdict(measured, 5, 10)[0]
    assert not measure.latency_verdict(measured, 100, 5)[0]


def test_percentile() -> None:
    values = [float(v) for v in range(1, 21)]
    assert measure.percentile(values, 0.5) == pytest.approx(10.5)
    assert measure.percentile(values, 0.95) == pytest.approx(19.05)
    assert measure.percentile([7.0], 0.95) == 7.0


def test_plan_summary_flags_a_seq_scan_under_the_top() -> None:
    plan = [
        {
            "Plan": {
                "Node Type": "Limit",
                "Plans": [
                    {
                        "Node Type": "Sort",
                        "Plans": [{"Node Type": "Seq Scan", "Relation Name": "mv_x"}],
                    }
                ],
            }
        }
    ]
    summary = measure.summarize_plan(plan)
    assert summary.top_node == "Limit"
    assert summary.seq_scan_at_top
    indexed = [
        {
            "Plan": {
                "Node Type": "Index Scan",
                "Relation Name": "mv_x",
                "Index Name": "mv_x_idx",
            }
        }
    ]
    assert not measure.summarize_plan(indexed).seq_scan_at_top


def test_freshness_windows_and_verdict() -> None:
    assert health.max_age_for_cron("0 * * * *") == dt.timedelta(hours=2)
    assert health.max_age_for_cron("0 3 * * *") == dt.timedelta(hours=26)
    assert health.max_age_for_cron("0 1 * * 0") == dt.timedelta(days=8)
    now = dt.datetime(2025, 9, 17, 12, tzinfo=dt.timezone.utc)
    window = dt.timedelta(hours=2)
    assert health.freshness_verdict(now - dt.timedelta(minutes=30), now, window)[0]
    assert not health.freshness_verdict(now - dt.timedelta(hours=3), now, window)[0]
    assert not health.freshness_verdict(None, now, window)[0]


def test_cache_hit_verdict() -> None:
    assert health.cache_hit_verdict(99_000, 1_000, 0.95)[0]
    assert not health.cache_hit_verdict(90_000, 10_000, 0.95)[0]
    assert health.cache_hit_verdict(10, 90, 0.95)[0]


def test_index_health_status() -> None:
    def stats(scans: int, read: int, fetched: int, table_scans: int, unique: bool = False):
        return health.IndexStats(
            "value_view", "mv_x", "idx", 8192, scans, read, fetched, unique, table_scans
        )

    assert stats(0, 0, 0, table_scans=5_000).status == "unused"
    assert stats(0, 0, 0, table_scans=5_000, unique=True).status == "ok"
    assert stats(0, 0, 0, table_scans=50).status == "ok"
    assert stats(200, 1_000_000, 10, table_scans=5_000).status == "inefficient"
    assert stats(200, 1_000, 900, table_scans=5_000).status == "ok"


def test_instance_config_queues_one_run_per_tier() -> None:
    storage = database.ConnectionSettings("127.0.0.1", 5432, "postgres", "secret", "x", "url")
    config = dagster_home.instance_config(storage)
    for key in ("run_storage", "event_log_storage", "schedule_storage"):
        postgres = config[key]["config"]["postgres_db"]
        assert postgres["db_name"] == "x" and postgres["hostname"] == "127.0.0.1"
        assert postgres["password"] == {"env": dagster_home.PASSWORD_ENV}
    coordinator = config["run_coordinator"]
    assert coordinator["class"] == "QueuedRunCoordinator"
    assert coordinator["config"]["tag_concurrency_limits"] == [
        {"key": TIER_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
    ]


@pytest.mark.slow
def test_postgres_instance_on_the_warehouse_server(warehouse, tmp_path) -> None:
    instance = dagster_home.open_instance(warehouse, tmp_path / "dagster")
    storage = dagster_home.storage_settings(warehouse)
    try:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
        # A process stores its events over a pooled connection, not a new one per event (a
        # SCRAM handshake each: a quarter of a tier run whose marts are all skipped).
        engine = instance.event_log_storage._engine
        opened = []
        sqlalchemy_event.listen(engine, "connect", lambda *_: opened.append(1))
        for number in range(EVENTS_STORED):
            instance.report_runless_asset_event(
                AssetObservation(AssetKey(["pool_probe"]), metadata={"n": number})
            )
        stored = instance.fetch_observations(AssetKey(["pool_probe"]), limit=EVENTS_STORED + 1)
        assert len(stored.records) == EVENTS_STORED
        assert 1 <= len(opened) <= 2, f"{len(opened)} connections for {EVENTS_STORED} events"
        assert engine.pool._pre_ping
        # The webserver's pooled connections are checked before use (they die with a restart).
        instance.optimize_for_webserver(statement_timeout=5000, pool_recycle=3600, max_overflow=5)
        for storage_of_kind in (
            instance.run_storage,
            instance.event_log_storage,
            instance.schedule_storage,
        ):
            assert storage_of_kind._engine.pool._pre_ping
        limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
        assert {"key": TIER_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in [
            dict(limit) for limit in limits
        ]
        assert storage.dbname == f"{warehouse.dbname}_dagster"
        # Run history is committed durably, whatever the server's default.
        with database.connect(storage) as conn:
            assert conn.execute("show synchronous_commit").fetchone()[0] == "on"
    finally:
        instance.dispose()
        database.drop_database(storage)


class _Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def warning(self, message: str) -> None:
        self.lines.append(message)


@dataclass
class _Context:
    log: _Log = field(default_factory=_Log)


@dataclass
class _Invocation:
    process: subprocess.Popen
    termination_timeout_seconds: float = 2.0


@pytest.mark.parametrize(
    "program",
    [
        "import time; time.sleep(60)",
        # Ignores SIGINT: stopped with SIGKILL once the timeout passes.
        "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); time.sleep(60)",
    ],
    ids=["exits-on-sigint", "ignores-sigint"],
)
def test_a_failed_step_leaves_no_dbt_process_running(program: str) -> None:
    process = subprocess.Popen([sys.executable, "-c", program])
    time.sleep(0.5)
    context = _Context()
    assets.stop_dbt(_Invocation(process), context)
    assert process.poll() is not None
    assert context.log.lines == [
        f"step failed while dbt was running: stopping dbt (pid {process.pid})"
    ]
    # A process that has already ended is left alone.
    assets.stop_dbt(_Invocation(process), context)
    assert len(context.log.lines) == 1


# -- the sources are read-only outside dev and ci ---------------------------------------------


def _source_writers(defs, manifest: dict) -> set[AssetKey]:
    """Materializable assets that are a source table or feed one: what could write the sources."""
    graph = defs.get_repository_def().asset_graph
    sources = {AssetKey([s["source_name"], s["name"]]) for s in manifest["sources"].values()}
    writers = {key for key in sources if graph.get(key).is_materializable}
    for key in sources:
        writers |= {
            parent for parent in graph.get(key).parent_keys if graph.get(parent).is_materializable
        }
    return writers


@pytest.mark.parametrize("deployment", ["prod", "replica"])
def test_a_prod_code_location_has_no_asset_that_writes_the_sources(
    dbt_project, manifest, monkeypatch: pytest.MonkeyPatch, deployment: str
) -> None:
    # The deployment is the dbt target: VALUE_VIEW_TARGET, read when the definitions load.
    monkeypatch.setenv(settings.TARGET_ENV, deployment)
    defs = build_definitions(dbt_project)
    graph = defs.get_repository_def().asset_graph
    keys = set(graph.get_all_asset_keys())
    assert _source_writers(defs, manifest) == set()
    assert DEMO_DATA_KEY not in keys
    for source in manifest["sources"].values():
        node = graph.get(AssetKey([source["source_name"], source["name"]]))
        assert node.is_observable and not node.is_materializable
    # Still the whole pipeline: the sources observed, then every model built.
    job = defs.resolve_job_def("value_view_pipeline")
    assert {AssetKey([s["source_name"], s["name"]]) for s in manifest["sources"].values()} <= set(
        job.asset_layer.selected_asset_keys
    )


@pytest.mark.parametrize("deployment", ["dev", "ci"])
def test_dev_and_ci_load_demo_data_upstream_of_every_source(
    dbt_project, manifest, monkeypatch: pytest.MonkeyPatch, deployment: str
) -> None:
    monkeypatch.setenv(settings.TARGET_ENV, deployment)
    defs = build_definitions(dbt_project)
    assert _source_writers(defs, manifest) == {DEMO_DATA_KEY}
    graph = defs.get_repository_def().asset_graph
    for source in manifest["sources"].values():
        assert (
            DEMO_DATA_KEY
            in graph.get(AssetKey([source["source_name"], source["name"]])).parent_keys
        )


def test_the_demo_data_asset_runs_the_tool_without_importing_it() -> None:
    config = DemoDataConfig(scale=2, seed=7, reset=True, as_of="2026-01-31")
    command = demo_data_command(config, "vital_copy")
    assert command[:3] == [sys.executable, "-m", "orchestration.tools.cli"]
    # the default demo shares the scale among at least 6 tenants, with 90 days of history
    assert command[3:] == [
        "demo-data", "--json", "--if-empty", "--scale", "2", "--seed", "7",
        "--schema", "vital_copy", "--tenants", "6", "--history-days", "90",
        "--as-of", "2026-01-31", "--reset",
    ]  # fmt: skip
    wide = DemoDataConfig(scale=8, tenants=None, history_days=0)
    assert demo_data_command(wide, "vital")[12:16] == ["--tenants", "9", "--history-days", "0"]


def _refresh_node(materialized: str, **refresh: object) -> dict:
    return {
        "unique_id": "model.value_view.probe",
        "config": {"materialized": materialized, "meta": {"refresh": refresh}},
    }


def test_the_clock_as_an_input() -> None:
    by_day = _refresh_node("incremental", cron="0 2 * * *", clock="day")
    assert inputs.clock_grain(by_day) == "day" and inputs.skips_when_unchanged(by_day)
    assert inputs.clock_grain(_refresh_node("table")) is None
    # The day is the UTC one, whatever the offset of the time given.
    evening_in_new_york = dt.datetime(
        2026, 12, 3, 20, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5))
    )
    assert inputs.clock_version(evening_in_new_york) == "2026-12-04"
    with pytest.raises(
        ValueError, match=r"model\.value_view\.probe: meta\.refresh\.clock is 'week'"
    ):
        inputs.clock_grain(_refresh_node("table", clock="week"))


def test_only_a_view_over_a_sliding_window_is_refreshed_in_place() -> None:
    for materialized in ("safe_materialized_view", "maintained_table"):
        sliding = _refresh_node(materialized, skip_unchanged=False)
        assert inputs.refreshes_in_place(sliding) and not inputs.skips_when_unchanged(sliding)
    # A table is rebuilt by dbt; a view without a clock is skipped instead.
    assert not inputs.refreshes_in_place(_refresh_node("table", skip_unchanged=False))
    assert not inputs.refreshes_in_place(_refresh_node("safe_materialized_view"))


def test_the_project_declares_its_clock_bound_marts(manifest) -> None:
    marts = project.latest_mart_nodes(manifest).values()
    assert [node["name"] for node in marts if inputs.clock_grain(node)] == ["value_view_odi_trends"]
    assert [node["name"] for node in marts if inputs.refreshes_in_place(node)] == [
        "professional_tier_performance_metrics"
    ]
