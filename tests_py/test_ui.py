"""`value-view ui`: the webserver and the daemon start on the PostgreSQL-backed instance, the
GraphQL API lists the assets, schedules and checks, the run queue keeps two runs of one tier
apart, and headless Chromium renders the asset graph (kept under artifacts/ for the README)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestration.defs import warehouse_checks
from orchestration.defs.schedules import refresh_tiers
from orchestration.defs.translator import TIER_TAG, ValueViewTranslator
from orchestration.lib import database, settings
from orchestration.lib import manifest as project
from orchestration.tools import instance as dagster_home
from orchestration.tools import ui

pytestmark = pytest.mark.slow

ARTIFACTS = settings.PROJECT_ROOT / "artifacts"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1600,1000",
    "--virtual-time-budget=15000",
]


def graphql(url: str, query: str, variables: dict | None = None) -> dict:
    payload = ui.graphql(url, query, variables)
    assert not payload.get("errors"), payload.get("errors")
    return payload["data"]


@pytest.fixture(scope="module")
def webserver(warehouse, dbt_project, tmp_path_factory: pytest.TempPathFactory):
    """`value-view ui` (webserver + daemon) on a free port, against the test warehouse."""
    home = tmp_path_factory.mktemp("ui_dagster_home")
    env = {
        **os.environ,
        **warehouse.env(),
        "DAGSTER_HOME": str(home),
        project.TARGET_PATH_ENV: str(dbt_project.target_path),
    }
    env.pop("VALUE_VIEW_DATABASE_URL", None)
    if not warehouse.password:
        env.pop("PGPASSWORD", None)
    port = database.free_port()
    with (home / "value-view-ui.log").open("w") as log:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "value-view"), "ui", "--port", str(port)],
            env=env,
            cwd=settings.PROJECT_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            ui.wait_for_webserver(url, [process], timeout=300)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            database.drop_database(dagster_home.storage_settings(warehouse))


def test_graphql_lists_assets_schedules_and_checks(webserver, manifest) -> None:
    data = graphql(
        webserver,
        """
        {
          assetNodes {
            assetKey { path }
            groupName
            assetChecksOrError { ... on AssetChecks { checks { name blocking } } }
          }
          repositoriesOrError {
            ... on RepositoryConnection {
              nodes {
                location { name }
                schedules { name cronSchedule executionTimezone scheduleState { status } }
              }
            }
          }
        }
        """,
    )
    nodes = {tuple(node["assetKey"]["path"]): node for node in data["assetNodes"]}
    marts = project.mart_nodes(manifest)
    assert marts
    for node in marts.values():
        name = (
            node["name"]
            if project.is_latest_version(node)
            else f"{node['name']}_v{node['version']}"
        )
        assert (node["config"]["schema"], name) in nodes
    for bench in project.benchmarks(manifest):
        node = manifest["nodes"][bench.unique_id]
        found = nodes[(node["config"]["schema"], bench.model_name)]["assetChecksOrError"]["checks"]
        latency = [check for check in found if check["name"] == bench.check_name]
        assert latency and latency[0]["blocking"]
    assert {
        check["name"]
        for check in nodes[tuple(warehouse_checks.WAREHOUSE_KEY.path)]["assetChecksOrError"][
            "checks"
        ]
    } == {
        warehouse_checks.CACHE_HIT_CHECK,
        warehouse_checks.INDEX_HEALTH_CHECK,
        warehouse_checks.REPLICA_LAG_CHECK,
    }
    (repository,) = data["repositoriesOrError"]["nodes"]
    assert repository["location"]["name"] == ui.LOCATION_NAME
    crons = {schedule["cronSchedule"] for schedule in repository["schedules"]}
    assert crons == set(project.refresh_tiers(manifest)) | {"0 2 1 * *"}
    for schedule in repository["schedules"]:
        assert schedule["executionTimezone"] == "UTC"
        assert schedule["scheduleState"]["status"] == "RUNNING"


def test_chromium_renders_the_asset_graph(webserver, tmp_path) -> None:
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        pytest.skip("chromium is not installed (make chromium)")
    # The UI greets a first visitor on 127.0.0.1 with a newsletter dialog; mark it seen.
    graphql(webserver, "mutation { setNuxSeen }")
    ARTIFACTS.mkdir(exist_ok=True)
    pages = {"dagster_asset_graph.png": "/asset-groups"}
    for name, path in pages.items():
        shot = tmp_path / name
        result = subprocess.run(
            [
                chromium,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={tmp_path / 'profile'}",
                f"--screenshot={shot}",
                f"{webserver}{path}",
            ],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        assert shot.exists() and shot.stat().st_size > 20_000, result.stderr[-2000:]
        shutil.copyfile(shot, ARTIFACTS / name)


def test_daemon_runs_with_the_tier_run_queue(webserver) -> None:
    deadline = time.monotonic() + 180
    while True:
        data = graphql(
            webserver,
            """
            {
              instance {
                daemonHealth { allDaemonStatuses { daemonType healthy required } }
                runQueueConfig { tagConcurrencyLimitsYaml }
              }
            }
            """,
        )["instance"]
        statuses = data["daemonHealth"]["allDaemonStatuses"]
        healthy = {status["daemonType"] for status in statuses if status["healthy"]}
        if {"SCHEDULER", "QUEUED_RUN_COORDINATOR"} <= healthy:
            break
        assert time.monotonic() < deadline, statuses
        time.sleep(5)
    assert TIER_TAG in data["runQueueConfig"]["tagConcurrencyLimitsYaml"]


FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}


def test_two_runs_of_one_tier_never_overlap(webserver, manifest) -> None:
    tier = min(refresh_tiers(manifest, ValueViewTranslator()), key=lambda t: len(t.asset_keys))
    run_ids = []
    for _ in range(2):
        launched = graphql(
            webserver,
            """
            mutation Launch($location: String!, $job: String!) {
              launchRun(executionParams: {
                selector: {
                  repositoryLocationName: $location, repositoryName: "__repository__", jobName: $job
                }
              }) {
                __typename
                ... on LaunchRunSuccess { run { runId } }
                ... on PythonError { message }
              }
            }
            """,
            {"location": ui.LOCATION_NAME, "job": tier.job_name},
        )["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        run_ids.append(launched["run"]["runId"])
    deadline = time.monotonic() + 600
    while True:
        runs = graphql(
            webserver,
            """
            query Runs($ids: [String!]) {
              runsOrError(filter: {runIds: $ids}) {
                ... on Runs { results { runId status startTime endTime tags { key value } } }
              }
            }
            """,
            {"ids": run_ids},
        )["runsOrError"]["results"]
        active = [run for run in runs if run["status"] in ("STARTING", "STARTED")]
        assert len(active) <= 1, runs
        if all(run["status"] in FINISHED for run in runs):
            break
        assert time.monotonic() < deadline, runs
        time.sleep(0.5)
    first, second = sorted(runs, key=lambda run: run["startTime"])
    assert second["startTime"] >= first["endTime"]
    for run in runs:
        if run["status"] != "SUCCESS":
            print(f"\nrun {run['runId']} {run['status']}: {_failure_messages(webserver, run)}")
    took = first["endTime"] - first["startTime"]
    gap = second["startTime"] - first["endTime"]
    print(
        f"\n{tier.job_name}: run 1 {first['status']} in {took:.1f}s,"
        f" run 2 {second['status']} started {gap:.1f}s after run 1 ended"
    )
    for run in runs:
        assert {"key": TIER_TAG, "value": tier.name} in run["tags"]


def _failure_messages(url: str, run: dict) -> list[str]:
    events = graphql(
        url,
        """
        query Events($id: ID!) {
          logsForRun(runId: $id) {
            ... on EventConnection {
              events {
                __typename
                ... on ExecutionStepFailureEvent { stepKey error { message } }
                ... on RunFailureEvent { message }
              }
            }
          }
        }
        """,
        {"id": run["runId"]},
    )["logsForRun"]["events"]
    messages = []
    for event in events:
        if event["__typename"] in ("ExecutionStepFailureEvent", "RunFailureEvent"):
            text = (event.get("error") or {}).get("message") or event.get("message")
            messages.append(f"{event.get('stepKey', 'run')}: {str(text)[:1500]}")
    return messages
