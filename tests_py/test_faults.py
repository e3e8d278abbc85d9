"""The database restarts in the middle of a Dagster run, against a real server of its own.

A server of this module's own (an embedded PostgreSQL in a temporary folder) holds both the
warehouse and the Dagster instance's storage, as `value-view` sets them up. The pipeline job runs
three times through `dagster job execute`, each run in its own process as a launched run is:

1. a baseline run builds everything;
2. a second run is interrupted while dbt is building: the server crashes and comes back
   (`pg_ctl restart -m immediate`: every session is cut, no shutdown checkpoint, WAL recovery);
3. a re-run.

The interrupted run must end as a recorded failure that names the lost connection, leave no dbt
session or half-built relation behind, and leave the marts readable to a BI login with the rows
they had; the re-run must succeed; the history must still hold all three runs and every event
stored before the crash.

The other faults live with the machinery they test: a refresh that errors keeps the previous
data readable (`test_materialization.py`), and two runs of one tier never overlap (`test_ui.py`).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import yaml
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter
from psycopg import sql

from orchestration import dagster_home, database, pipeline, project, ui
from orchestration.assets import DBT_ASSETS_NAME
from orchestration.report import print_table
from orchestration.schedules import PIPELINE_JOB

pytestmark = pytest.mark.slow

GENEROUS_BUDGET_MS = 60_000.0
RUN_TIMEOUT_S = 900
# The crash comes once dbt has reported this many built nodes: well inside the build.
MATERIALIZATIONS_BEFORE_CRASH = 25
BI_LOGIN = "fault_test_bi"
BI_PASSWORD = "fault-test-password"
LEFTOVER_RELATION = r"__(vv|dbt)_"


@dataclass
class Stack:
    server: database.EmbeddedServer
    warehouse: database.ConnectionSettings
    instance: DagsterInstance
    env: dict[str, str]
    config_file: Path
    logs: Path

    def launch(self, name: str) -> subprocess.Popen:
        """The pipeline job as a run of its own process, recorded in the instance."""
        log = (self.logs / f"{name}.log").open("w")
        return subprocess.Popen(
            [
                str(Path(sys.executable).parent / "dagster"),
                "job",
                "execute",
                "-m",
                ui.DEFINITIONS_MODULE,
                "-j",
                PIPELINE_JOB,
                "-c",
                str(self.config_file),
            ],
            env=self.env,
            cwd=database.PROJECT_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def run_ids(self) -> list[str]:
        """Run ids of the pipeline job, newest first."""
        runs = self.instance.get_runs(filters=RunsFilter(job_name=PIPELINE_JOB))
        return [run.run_id for run in runs]

    def new_run_id(self, known: list[str], process: subprocess.Popen) -> str:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            fresh = [run_id for run_id in self.run_ids() if run_id not in known]
            if fresh:
                return fresh[0]
            assert process.poll() is None, "the run process ended before its run was recorded"
            time.sleep(0.5)
        raise AssertionError("no run was recorded within 120 s")

    def count(self, run_id: str, event_type: DagsterEventType | None = None) -> int:
        return len(self.instance.all_logs(run_id, of_type=event_type))

    def built_by_dbt(self, run_id: str) -> int:
        events = self.instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)
        return sum(1 for event in events if event.step_key == DBT_ASSETS_NAME)

    def dbt_sessions(self) -> int:
        with database.connect(self.warehouse, autocommit=True) as conn:
            return conn.execute(
                "select count(*) from pg_stat_activity"
                " where application_name like 'dbt%%' and pid <> pg_backend_pid()"
            ).fetchone()[0]

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


def wait(process: subprocess.Popen) -> int:
    try:
        return process.wait(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("fault")
    server = database.EmbeddedServer(base / "server")
    settings = server.start()
    try:
        warehouse = settings.with_database("vv_fault")
        database.ensure_database(warehouse)
        handle = project.dbt_project(base / "dbt_target")
        home = dagster_home.prepare(warehouse, base / "dagster_home")
        env = ui.process_env(warehouse, home, {project.TARGET_PATH_ENV: str(handle.target_path)})
        project.parse(handle, env=env)
        config = pipeline.run_config(
            scale=1, seed=42, budget_overrides_ms={"*": GENEROUS_BUDGET_MS}, benchmark_runs=3
        )
        config_file = base / "run_config.yaml"
        config_file.write_text(yaml.safe_dump(config))
        instance = dagster_home.open_instance(warehouse, home)
        try:
            yield Stack(server, warehouse, instance, env, config_file, base)
        finally:
            instance.dispose()
    finally:
        server.destroy()


def test_database_restart_during_a_run(stack: Stack) -> None:
    manifest = project.load_manifest(project.dbt_project(stack.env[project.TARGET_PATH_ENV]))
    marts = sorted(node["name"] for node in project.mart_nodes(manifest).values())
    rows: list[list[str]] = []

    # 1. Baseline.
    started = time.monotonic()
    baseline = stack.launch("1_baseline")
    baseline_id = stack.new_run_id([], baseline)
    assert wait(baseline) == 0, (stack.logs / "1_baseline.log").read_text()[-4000:]
    baseline_events = stack.count(baseline_id)
    baseline_built = stack.count(baseline_id, DagsterEventType.ASSET_MATERIALIZATION)
    rows.append(["1 baseline", "SUCCESS", f"{time.monotonic() - started:.0f}", f"{baseline_built}"])
    with database.connect(stack.warehouse, autocommit=True) as conn:
        conn.execute(
            sql.SQL("create role {} login password {} in role value_view_reader").format(
                sql.Identifier(BI_LOGIN), sql.Literal(BI_PASSWORD)
            )
        )
    before = stack.bi_counts(marts)
    assert all(before.values()), before

    # 2. The server crashes and restarts while dbt builds.
    started = time.monotonic()
    interrupted = stack.launch("2_interrupted")
    interrupted_id = stack.new_run_id([baseline_id], interrupted)
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while True:
        assert interrupted.poll() is None, "the run ended before the crash"
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
    assert interrupted.poll() is None, "the run ended before the crash"
    assert sessions_at_crash >= 1, "dbt was not connected when the server went down"
    assert stack.postmaster_start() > server_started

    assert wait(interrupted) != 0
    run = stack.instance.get_run_by_id(interrupted_id)
    assert run.status == DagsterRunStatus.FAILURE
    assert stack.count(interrupted_id, DagsterEventType.RUN_FAILURE) == 1
    failures = stack.instance.all_logs(interrupted_id, of_type=DagsterEventType.STEP_FAILURE)
    assert [event.step_key for event in failures] == [DBT_ASSETS_NAME]
    message = failures[0].dagster_event.event_specific_data.error.to_string()
    assert "connection" in message.lower(), message[-2000:]
    # Nothing of the failed run goes on: no dbt session, no half-built relation.
    assert stack.dbt_sessions() == 0
    assert stack.leftovers() == []
    # BI logins read what was there.
    assert stack.bi_counts(marts) == before
    built = stack.count(interrupted_id, DagsterEventType.ASSET_MATERIALIZATION)
    rows.append(["2 crash mid-build", "FAILURE", f"{time.monotonic() - started:.0f}", f"{built}"])

    # 3. A re-run succeeds.
    started = time.monotonic()
    rerun = stack.launch("3_rerun")
    rerun_id = stack.new_run_id([baseline_id, interrupted_id], rerun)
    assert wait(rerun) == 0, (stack.logs / "3_rerun.log").read_text()[-4000:]
    rerun_built = stack.count(rerun_id, DagsterEventType.ASSET_MATERIALIZATION)
    assert rerun_built == baseline_built
    assert stack.bi_counts(marts) == before
    rows.append(["3 re-run", "SUCCESS", f"{time.monotonic() - started:.0f}", f"{rerun_built}"])

    # History: all three runs with their outcome, and every event stored before the crash.
    statuses = {
        run_id: stack.instance.get_run_by_id(run_id).status
        for run_id in (baseline_id, interrupted_id, rerun_id)
    }
    assert stack.run_ids() == [rerun_id, interrupted_id, baseline_id]
    assert list(statuses.values()) == [
        DagsterRunStatus.SUCCESS,
        DagsterRunStatus.FAILURE,
        DagsterRunStatus.SUCCESS,
    ]
    assert stack.count(baseline_id) == baseline_events
    assert stack.count(interrupted_id) >= stored_before_crash

    print_table(
        ["run", "status", "seconds", "assets materialized"],
        rows,
        title=(
            f"server crashed and restarted in {restart_s:.1f} s with {sessions_at_crash} dbt"
            f" session(s) open; {stored_before_crash} events of the interrupted run stored"
            " before the crash, all kept"
        ),
    )
