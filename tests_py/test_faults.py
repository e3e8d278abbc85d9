"""Faults against a real server: the database restarts in the middle of a Dagster run, and a step
that dies takes its dbt with it.

A server of this module's own (an embedded PostgreSQL in a temporary folder) holds both the
warehouse and the Dagster instance's storage, as `value-view` sets them up, and `value-view ui`'s
webserver and daemon run against it throughout. Runs are launched as ops and schedules launch
them: through the webserver's GraphQL API, queued, and started by the daemon in processes of
their own.

1. A baseline run of the pipeline job builds everything.
2. A second run is interrupted while dbt is building: the server crashes and comes back
   (`pg_ctl restart -m immediate`: every session is cut, no shutdown checkpoint, WAL recovery).
3. Ops re-execute the failed run "from failure".

The interrupted run must end as a recorded failure that names the lost connection, leave no dbt
session or half-built relation behind, and leave the marts readable to a BI login with the rows
they had. The webserver and the daemon must ride through the crash. The re-execution must succeed,
and the history, in the instance and in the UI, must still hold all three runs and every event
stored before the crash.

The other faults live with the machinery they test: a refresh that errors keeps the previous
data readable (`test_materialization.py`), and two runs of one tier never overlap (`test_ui.py`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter
from psycopg import sql

from orchestration.defs import project
from orchestration.defs.assets import DBT_ASSETS_NAME
from orchestration.defs.schedules import PIPELINE_JOB
from orchestration.lib import database, dbt_runner, settings
from orchestration.lib import manifest as manifests
from orchestration.lib.report import print_table
from orchestration.lib.server import EmbeddedServer
from orchestration.tools import instance as dagster_home
from orchestration.tools import pipeline, ui

# Processes are killed and waited for against deadlines: not beside another module's load.
pytestmark = [pytest.mark.slow, pytest.mark.serial]

GENEROUS_BUDGET_MS = 60_000.0
RUN_TIMEOUT_S = 900
# An orphaned dbt would go on for the rest of the build (half a minute or more at scale 1).
DBT_GONE_TIMEOUT_S = 10
# The crash comes once dbt has reported this many built nodes: well inside the build.
MATERIALIZATIONS_BEFORE_CRASH = 25
BI_LOGIN = "fault_test_bi"
BI_PASSWORD = "fault-test-password"
LEFTOVER_RELATION = r"__(vv|dbt)_"
DAEMON_HEALTH = """
{ instance { daemonHealth { allDaemonStatuses { daemonType healthy required } } } }
"""
LAUNCH = """
mutation Launch($location: String!, $job: String!, $config: RunConfigData) {
  launchRun(executionParams: {
    selector: {repositoryLocationName: $location, repositoryName: "__repository__", jobName: $job}
    runConfigData: $config
  }) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""
REEXECUTE = """
mutation Reexecute($parent: String!) {
  launchRunReexecution(reexecutionParams: {parentRunId: $parent, strategy: FROM_FAILURE}) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
  }
}
"""
# What an ops person's first page loads touch: runs and their events, daemon heartbeats, schedules
# (each storage the webserver keeps a pooled connection to).
OVERVIEW = """
query Overview($run: ID!) {
  runOrError(runId: $run) {
    __typename
    ... on Run { status eventConnection { events { __typename } } }
  }
  instance { daemonHealth { allDaemonStatuses { daemonType healthy required } } }
  repositoriesOrError {
    ... on RepositoryConnection { nodes { schedules { name scheduleState { status } } } }
  }
}
"""
RUNS = """
query Runs($ids: [String!]) {
  runsOrError(filter: {runIds: $ids}) { ... on Runs { results { runId status } } }
}
"""


@dataclass
class Stack:
    server: EmbeddedServer
    warehouse: database.ConnectionSettings
    instance: DagsterInstance
    run_config: dict[str, Any]
    services: ui.Services
    logs: Path

    # -- through the UI ------------------------------------------------------------------
    def _mutation(self, query: str, variables: dict[str, Any], field: str) -> str:
        payload = ui.graphql(self.services.url, query, variables)
        assert not payload.get("errors"), payload["errors"]
        launched = payload["data"][field]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        return launched["run"]["runId"]

    def launch(self) -> str:
        """Launch the pipeline job as the UI's Launchpad does; its run id."""
        variables = {"location": ui.LOCATION_NAME, "job": PIPELINE_JOB, "config": self.run_config}
        return self._mutation(LAUNCH, variables, "launchRun")

    def reexecute_from_failure(self, run_id: str) -> str:
        return self._mutation(REEXECUTE, {"parent": run_id}, "launchRunReexecution")

    def ui_overview(self, run_id: str) -> list[Any]:
        """Errors of the overview a person loads first (none expected)."""
        payload = ui.graphql(self.services.url, OVERVIEW, {"run": run_id})
        return payload.get("errors") or []

    def ui_history(self, run_ids: list[str]) -> list[tuple[str, str]]:
        payload = ui.graphql(self.services.url, RUNS, {"ids": run_ids})
        assert not payload.get("errors"), payload["errors"]
        return [(run["runId"], run["status"]) for run in payload["data"]["runsOrError"]["results"]]

    def ui_healthy(self, timeout: float = 180) -> float:
        """Seconds until the webserver answers and every required daemon reports healthy."""
        started = time.monotonic()
        while True:
            for process in self.services.processes:
                assert process.poll() is None, f"{process.args[0]} exited"
            payload = ui.graphql(self.services.url, DAEMON_HEALTH)
            if not payload.get("errors"):
                statuses = payload["data"]["instance"]["daemonHealth"]["allDaemonStatuses"]
                if all(status["healthy"] for status in statuses if status["required"]):
                    return time.monotonic() - started
            assert time.monotonic() - started < timeout, payload
            time.sleep(2)

    # -- the instance --------------------------------------------------------------------
    def run_ids(self) -> list[str]:
        """Run ids of the pipeline job, newest first."""
        runs = self.instance.get_runs(filters=RunsFilter(job_name=PIPELINE_JOB))
        return [run.run_id for run in runs]

    def finished(self, run_id: str) -> bool:
        run = self.instance.get_run_by_id(run_id)
        return run is not None and run.is_finished

    def wait_for_run(self, run_id: str) -> DagsterRunStatus:
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while not self.finished(run_id):
            assert time.monotonic() < deadline, f"run {run_id} did not finish"
            time.sleep(1)
        return self.instance.get_run_by_id(run_id).status

    def failures(self, run_id: str) -> str:
        events = self.instance.all_logs(run_id, of_type=DagsterEventType.STEP_FAILURE)
        return "\n".join(
            f"{event.step_key}: {event.dagster_event.event_specific_data.error.to_string()}"
            for event in events
        )[-4000:]

    def count(self, run_id: str, event_type: DagsterEventType | None = None) -> int:
        return len(self.instance.all_logs(run_id, of_type=event_type))

    def built_by_dbt(self, run_id: str) -> int:
        events = self.instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)
        return sum(1 for event in events if event.step_key == DBT_ASSETS_NAME)

    # -- the warehouse -------------------------------------------------------------------
    def dbt_sessions(self) -> int:
        with database.connect(self.warehouse, autocommit=True) as conn:
            return conn.execute(
                "select count(*) from pg_stat_activity"
                " where application_name like 'dbt%%' and pid <> pg_backend_pid()"
            ).fetchone()[0]

    def wait_for_no_dbt_session(self, timeout: float) -> float:
        started = time.monotonic()
        while (sessions := self.dbt_sessions()) != 0:
            assert time.monotonic() - started < timeout, f"{sessions} dbt session(s) still open"
            time.sleep(0.5)
        return time.monotonic() - started

    def postmaster_start(self) -> object:
        with database.connect(self.warehouse, autocommit=True) as conn:
            return conn.execute("select pg_postmaster_start_time()").fetchone()[0]

    def bi_counts(self, relations: list[str]) -> dict[str, int]:
        """Rows of each BI relation, read as a member of value_view_reader."""
        login = replace(self.warehouse, user=BI_LOGIN, password=BI_PASSWORD)
        with database.connect(login, autocommit=True) as conn:
            return {
                name: conn.execute(
                    sql.SQL("select count(*) from value_view.{}").format(sql.Identifier(name))
                ).fetchone()[0]
                for name in relations
            }

    def leftovers(self) -> list[str]:
        with database.connect(self.warehouse, autocommit=True) as conn:
            rows = conn.execute(
                "select n.nspname || '.' || c.relname from pg_class c"
                " join pg_namespace n on n.oid = c.relnamespace"
                " where n.nspname not in ('pg_catalog', 'information_schema')"
                " and n.nspname not like 'pg_temp%%' and n.nspname not like 'pg_toast%%'"
                " and c.relname ~ %s",
                (LEFTOVER_RELATION,),
            ).fetchall()
        return [row[0] for row in rows]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("fault")
    embedded = EmbeddedServer(base / "server")
    started = embedded.start()
    try:
        warehouse = started.with_database("vv_fault")
        database.ensure_database(warehouse)
        handle = project.dbt_project(base / "dbt_target")
        home = dagster_home.prepare(warehouse, base / "dagster_home")
        extra = {manifests.TARGET_PATH_ENV: str(handle.target_path)}
        project.parse(handle, env=ui.process_env(warehouse, home, extra))
        run_config = pipeline.run_config(
            scale=1, seed=42, budget_overrides_ms={"*": GENEROUS_BUDGET_MS}, benchmark_runs=3
        )
        instance = dagster_home.open_instance(warehouse, home)
        services = ui.start(
            warehouse,
            port=database.free_port(),
            home=home,
            extra_env=extra,
            log_dir=base / "ui",
            timeout=300,
        )
        try:
            yield Stack(embedded, warehouse, instance, run_config, services, base)
        finally:
            services.stop()
            instance.dispose()
    finally:
        embedded.destroy()


def test_database_restart_during_a_run(stack: Stack) -> None:
    manifest = project.load_manifest(project.dbt_project(stack.logs / "dbt_target"))
    marts = sorted(node["name"] for node in manifests.mart_nodes(manifest).values())
    # A mart over a window of the clock (the last 7 days by hour) gains and loses rows at every
    # refresh; the others hold the same rows for the same data.
    windowed = {
        node["name"]
        for node in manifests.mart_nodes(manifest).values()
        if "current_timestamp - interval" in node["raw_code"]
    }
    assert windowed == {"professional_tier_performance_metrics"}

    def same_rows(counts: dict[str, int]) -> bool:
        """Every mart readable; the same rows as the baseline, except clock windows (non-empty)."""
        return set(counts) == set(before) and all(
            counts[name] > 0 if name in windowed else counts[name] == before[name]
            for name in counts
        )

    rows: list[list[object]] = []

    # 1. Baseline.
    started = time.monotonic()
    baseline_id = stack.launch()
    status = stack.wait_for_run(baseline_id)
    assert status == DagsterRunStatus.SUCCESS, stack.failures(baseline_id)
    baseline_events = stack.count(baseline_id)
    baseline_built = stack.count(baseline_id, DagsterEventType.ASSET_MATERIALIZATION)
    rows.append(["1 baseline", status.value, f"{time.monotonic() - started:.0f}", baseline_built])
    with database.connect(stack.warehouse, autocommit=True) as conn:
        conn.execute(
            sql.SQL("create role {} login password {} in role value_view_reader").format(
                sql.Identifier(BI_LOGIN), sql.Literal(BI_PASSWORD)
            )
        )
    before = stack.bi_counts(marts)
    assert all(before.values()), before
    assert stack.ui_overview(baseline_id) == []

    # 2. The server crashes and restarts while dbt builds.
    started = time.monotonic()
    interrupted_id = stack.launch()
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while True:
        assert not stack.finished(interrupted_id), "the run ended before the crash"
        assert time.monotonic() < deadline, "dbt did not get far enough to be interrupted"
        if stack.built_by_dbt(interrupted_id) >= MATERIALIZATIONS_BEFORE_CRASH:
            sessions_at_crash = stack.dbt_sessions()
            if sessions_at_crash:
                break
        time.sleep(0.1)
    server_started = stack.postmaster_start()
    stored_before_crash = stack.count(interrupted_id)
    restart_started = time.monotonic()
    stack.server.restart("immediate")
    restart_s = time.monotonic() - restart_started
    assert stack.postmaster_start() > server_started
    # The UI's first answer after the crash is a good one: its pooled connections died with the
    # server and are replaced before use (orchestration/defs/storage.py).
    assert stack.ui_overview(baseline_id) == []

    status = stack.wait_for_run(interrupted_id)
    assert status == DagsterRunStatus.FAILURE
    assert stack.count(interrupted_id, DagsterEventType.RUN_FAILURE) == 1
    failures = stack.instance.all_logs(interrupted_id, of_type=DagsterEventType.STEP_FAILURE)
    assert [event.step_key for event in failures] == [DBT_ASSETS_NAME]
    assert "connection" in stack.failures(interrupted_id).lower(), stack.failures(interrupted_id)
    # Nothing of the failed run goes on: its dbt ends with it (at once when dbt itself failed;
    # through value-view-dbt's SIGINT when the step failed first, as when Dagster could not
    # record an event during the crash), and no half-built relation is left.
    dbt_gone_s = stack.wait_for_no_dbt_session(timeout=DBT_GONE_TIMEOUT_S)
    assert stack.leftovers() == []
    # BI logins read what was there.
    after = stack.bi_counts(marts)
    assert same_rows(after), (after, before)
    built = stack.count(interrupted_id, DagsterEventType.ASSET_MATERIALIZATION)
    rows.append(["2 crash mid-build", status.value, f"{time.monotonic() - started:.0f}", built])

    # The webserver and the daemon ride through it.
    ui_back_s = stack.ui_healthy()

    # 3. Ops re-execute the failed run from failure; it succeeds.
    started = time.monotonic()
    rerun_id = stack.reexecute_from_failure(interrupted_id)
    status = stack.wait_for_run(rerun_id)
    assert status == DagsterRunStatus.SUCCESS, stack.failures(rerun_id)
    assert stack.instance.get_run_by_id(rerun_id).parent_run_id == interrupted_id
    # From failure: the dbt step again (every model and test) and the checks after it.
    assert stack.built_by_dbt(rerun_id) == stack.built_by_dbt(baseline_id)
    after = stack.bi_counts(marts)
    assert same_rows(after), (after, before)
    rerun_built = stack.count(rerun_id, DagsterEventType.ASSET_MATERIALIZATION)
    seconds = f"{time.monotonic() - started:.0f}"
    rows.append(["3 re-executed from failure", status.value, seconds, rerun_built])

    # History, in the instance and in the UI: all three runs with their outcome, and every
    # event stored before the crash.
    assert stack.run_ids() == [rerun_id, interrupted_id, baseline_id]
    assert stack.ui_history([baseline_id, interrupted_id, rerun_id]) == [
        (rerun_id, "SUCCESS"),
        (interrupted_id, "FAILURE"),
        (baseline_id, "SUCCESS"),
    ]
    assert stack.count(baseline_id) == baseline_events
    assert stack.count(interrupted_id) >= stored_before_crash

    print_table(
        ["run", "status", "seconds", "assets materialized"],
        rows,
        title=(
            f"server crashed and restarted in {restart_s:.1f} s with {sessions_at_crash} dbt"
            f" session(s) open; {stored_before_crash} events of the interrupted run stored"
            f" before the crash, all kept; dbt gone {dbt_gone_s:.1f} s after the run ended;"
            f" webserver and daemon healthy {ui_back_s:.0f} s later"
        ),
    )


# -- dbt ends with the step that started it ------------------------------------------------

# The parent ignores SIGINT, as every process started in the background by a non-interactive
# shell does (`nohup ... &`, a CI script), and its child inherits that.
PARENT = """
import signal, subprocess, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(child.pid, flush=True)
time.sleep(600)
"""
SLEEP_SQL = "select pg_sleep(300) as slept_in_fault_test"


def _alive(pid: int) -> bool:
    """Running, and not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def _sleeping_sessions(warehouse: database.ConnectionSettings) -> list[int]:
    with database.connect(warehouse, autocommit=True) as conn:
        rows = conn.execute(
            "select pid from pg_stat_activity where query like %s and pid <> pg_backend_pid()",
            (f"%{SLEEP_SQL}%",),
        ).fetchall()
    return [row[0] for row in rows]


@pytest.mark.parametrize("guarded", [True, False], ids=["value-view-dbt", "plain-dbt"])
def test_dbt_ends_when_the_process_that_started_it_dies(
    guarded: bool, warehouse: database.ConnectionSettings, tmp_path: Path
) -> None:
    """A step process killed mid-query takes its dbt with it through ``value-view-dbt``; plain
    dbt, the control, goes on running as an orphan."""
    executable = dbt_runner.guarded_dbt_executable() if guarded else dbt_runner.dbt_executable()
    if guarded:
        assert Path(executable).name == "value-view-dbt"
    env = {**os.environ, **warehouse.env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    env.pop("VALUE_VIEW_DATABASE_URL", None)
    command = [
        executable,
        "show",
        "--inline",
        SLEEP_SQL,
        "--target-path",
        str(tmp_path / "target"),
        "--log-path",
        str(tmp_path / "logs"),
    ]
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, *command],
        env=env,
        cwd=settings.PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    dbt_pid = int(parent.stdout.readline())
    try:
        deadline = time.monotonic() + 180
        while not _sleeping_sessions(warehouse):
            assert _alive(dbt_pid), "dbt ended before its query started"
            assert time.monotonic() < deadline, "dbt's query did not start"
            time.sleep(0.5)
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 30
        while _alive(dbt_pid) and time.monotonic() < deadline:
            time.sleep(0.5)
        if guarded:
            assert not _alive(dbt_pid), "dbt outlived its parent"
            assert _sleeping_sessions(warehouse) == []
        else:
            assert _alive(dbt_pid), "plain dbt ended with its parent: the control shows nothing"
            assert _sleeping_sessions(warehouse)
    finally:
        if parent.poll() is None:
            parent.kill()
        if _alive(dbt_pid):
            os.kill(dbt_pid, signal.SIGKILL)
        with database.connect(warehouse, autocommit=True) as conn:
            for pid in _sleeping_sessions(warehouse):
                conn.execute("select pg_terminate_backend(%s)", (pid,))
