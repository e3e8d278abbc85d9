"""The `safe_materialized_view` materialization against a real PostgreSQL server.

Each test writes models into a scratch dbt project (its macros are this checkout's
macros/materializations and macros/utils) that builds into a throwaway database, runs `dbt build`
through dbtRunner, and meanwhile keeps readers busy on several connections while a monitor
connection records how long any of them waits on a lock (pg_locks.waitstart of ungranted locks).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from dbt.cli.main import dbtRunner
from psycopg import sql

from orchestration.lib import database
from orchestration.lib.maintained import (
    REFRESH_PARALLEL_WORKERS,
    REFRESH_STATISTICS_TARGET,
    refresh_concurrently,
    refresh_in_place,
    refresh_plainly,
)

# Readers are timed against lock waits: not beside another module's load.
pytestmark = pytest.mark.serial

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SCHEMA = "mv_test"
SOURCE_ROWS = 200_000
PAUSE_SECONDS = 2.0
# Readers aggregate the first rows through the unique index: cheap enough that four of them leave
# the two-core test machines room for dbt and the build, while still holding their locks.
READER_WINDOW = 2_000
FINGERPRINT = re.compile(r"\[value_view:fingerprint=([0-9a-f]{32})\]$")


# --------------------------------------------------------------------------------------
# Scratch project
# --------------------------------------------------------------------------------------


@dataclass
class DbtRun:
    ok: bool
    output: str

    def outcome(self, model: str) -> str:
        """The materialization's log line for `model` (which path it took)."""
        pattern = re.compile(
            rf'(?:safe_materialized_view|maintained_table) "[^"]+"\."{SCHEMA}"\."{model}": (.*)'
        )
        found = pattern.search(self.output)
        assert found, f"no materialization log line for {model}:\n{self.output}"
        return found.group(1)


@dataclass
class ScratchProject:
    root: Path
    settings: database.ConnectionSettings

    def write_model(self, name: str, sql: str, yml: str | None = None) -> None:
        (self.root / "models" / f"{name}.sql").write_text(sql)
        if yml is not None:
            (self.root / "models" / f"{name}.yml").write_text(yml)

    def dbt(self, command: str, *args: str) -> DbtRun:
        """A dbt command run in this process; the output is every event's message."""
        messages: list[str] = []
        arguments = [command, "--project-dir", str(self.root), "--profiles-dir", str(self.root)]
        arguments += ["--quiet", "--no-use-colors", *args]
        runner = dbtRunner(callbacks=[lambda event: messages.append(event.info.msg)])
        # libpq reads the server's password file (PGPASSFILE) from the environment.
        saved = {key: os.environ.get(key) for key in self.settings.env()}
        os.environ.update(self.settings.env())
        try:
            result = runner.invoke(arguments)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        if result.exception is not None:
            messages.append(repr(result.exception))
        return DbtRun(ok=result.success, output="\n".join(messages))

    def build(self, *models: str, full_refresh: bool = False) -> DbtRun:
        return self.dbt("build", "--select", *models, *(["--full-refresh"] if full_refresh else []))

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with database.connect(self.settings, autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()

    def execute(self, sql: str) -> None:
        with database.connect(self.settings, autocommit=True) as conn:
            conn.execute(sql)

    def scalar(self, sql: str, params: tuple = ()):
        return self.query(sql, params)[0][0]

    def totals(self, relation: str) -> tuple:
        return self.query(f"select count(*), sum(doubled) from {SCHEMA}.{relation}")[0]

    def window(self, relation: str) -> tuple:
        return self.query(window_query(relation))[0]

    def comment(self, relation: str) -> str:
        return self.scalar("select obj_description(%s::regclass, 'pg_class')", (relation,))

    def indexes(self, relation: str) -> dict[str, str]:
        rows = self.query(
            "select indexname, indexdef from pg_indexes where schemaname = %s and tablename = %s",
            (SCHEMA, relation),
        )
        return dict(rows)

    def relations_named(self, prefix: str) -> list[str]:
        rows = self.query(
            "select relname from pg_class where relnamespace = %s::regnamespace"
            " and starts_with(relname, %s) order by relname",
            (SCHEMA, prefix),
        )
        return [row[0] for row in rows]


def model_sql(select: str, *, pause: float = 0.0, **config: object) -> str:
    """A model over mv_source.events; `pause` makes every build and refresh last that long."""
    settings = {"materialized": "safe_materialized_view", **config}
    arguments = ", ".join(f"{key}={json.dumps(value)}" for key, value in settings.items())
    return f"""{{{{ config({arguments}) }}}}

with

pause as materialized (

    select pg_sleep({pause}) as slept

),

events as (

    select * from mv_source.events

)

select {select}
from events
cross join pause
"""


@pytest.fixture(scope="module")
def mv_database(server: database.ConnectionSettings) -> Iterator[database.ConnectionSettings]:
    """A throwaway database holding the source table the scratch models read."""
    settings = server.with_database(f"vv_mv_{os.getpid()}_{secrets.token_hex(3)}")
    database.ensure_database(settings)
    try:
        with database.connect(settings, autocommit=True) as conn:
            conn.execute("create schema mv_source")
            conn.execute(
                "create table mv_source.events as"
                " select g as id, g %% 50 as grp, (g %% 1000)::numeric(10, 2) as amount"
                " from generate_series(1, %s) as g",
                (SOURCE_ROWS,),
            )
            conn.execute("alter table mv_source.events add primary key (id)")
            conn.execute("analyze mv_source.events")
        yield settings
    finally:
        database.drop_database(settings)


@pytest.fixture(scope="module")
def project(
    tmp_path_factory: pytest.TempPathFactory, mv_database: database.ConnectionSettings
) -> ScratchProject:
    root = tmp_path_factory.mktemp("mv_project")
    (root / "models").mkdir()
    # The materialization, and the refresh log and latest-version view it writes (macros/utils).
    macros = [str(PROJECT_ROOT / "macros" / folder) for folder in ("materializations", "utils")]
    (root / "dbt_project.yml").write_text(
        "name: mv_scratch\n"
        'version: "1.0.0"\n'
        "config-version: 2\n"
        "profile: mv_scratch\n"
        'model-paths: ["models"]\n'
        f"macro-paths: {json.dumps(macros)}\n"
        "flags:\n"
        "  send_anonymous_usage_stats: false\n"
        "  validate_macro_args: true\n"
    )
    (root / "profiles.yml").write_text(
        "mv_scratch:\n"
        "  target: dev\n"
        "  outputs:\n"
        "    dev:\n"
        "      type: postgres\n"
        f"      host: {json.dumps(mv_database.host)}\n"
        f"      port: {mv_database.port}\n"
        f"      user: {json.dumps(mv_database.user)}\n"
        f"      password: {json.dumps(mv_database.password)}\n"
        f"      dbname: {json.dumps(mv_database.dbname)}\n"
        f"      schema: {SCHEMA}\n"
        "      threads: 4\n"
    )
    return ScratchProject(root=root, settings=mv_database)


# --------------------------------------------------------------------------------------
# Readers and the lock-wait monitor
# --------------------------------------------------------------------------------------


@dataclass
class ReaderReport:
    queries: int = 0
    errors: list[str] = field(default_factory=list)
    max_lock_wait: float = 0.0
    lock_waits: int = 0
    results: dict[str, list[tuple]] = field(default_factory=dict)

    def summary(self, label: str) -> str:
        return (
            f"[{label}] reader queries={self.queries} errors={len(self.errors)}"
            f" lock waits observed={self.lock_waits} max lock wait={self.max_lock_wait:.3f}s"
        )


class ReaderLoop:
    """Readers running `queries` round-robin on their own connections, and a monitor connection
    polling pg_locks for ungranted locks of those readers (how long each wait has lasted)."""

    def __init__(
        self,
        settings: database.ConnectionSettings,
        queries: dict[str, str],
        readers: int = 4,
        think_seconds: float = 0.005,
        poll_seconds: float = 0.01,
    ) -> None:
        self.settings = settings
        self.queries = queries
        self.readers = readers
        self.think_seconds = think_seconds
        self.poll_seconds = poll_seconds
        self.report = ReaderReport(results={name: [] for name in queries})
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._pids: list[int] = []

    def __enter__(self) -> ReaderLoop:
        connections = [
            database.connect(self.settings, autocommit=True) for _ in range(self.readers)
        ]
        self._pids = [conn.info.backend_pid for conn in connections]
        for position, conn in enumerate(connections):
            thread = threading.Thread(target=self._read, args=(conn, position), daemon=True)
            self._threads.append(thread)
        self._threads.append(threading.Thread(target=self._monitor, daemon=True))
        for thread in self._threads:
            thread.start()
        deadline = time.monotonic() + 30
        while self.report.queries < self.readers and time.monotonic() < deadline:
            time.sleep(0.05)
        return self

    def __exit__(self, *exc_info: object) -> None:
        time.sleep(0.3)
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def _read(self, conn: psycopg.Connection, offset: int) -> None:
        names = list(self.queries)
        turn = offset
        with conn:
            while not self._stop.is_set():
                name = names[turn % len(names)]
                turn += 1
                try:
                    row = conn.execute(self.queries[name]).fetchone()
                except psycopg.Error as error:
                    with self._lock:
                        self.report.errors.append(f"{name}: {error}".strip())
                    continue
                with self._lock:
                    self.report.queries += 1
                    results = self.report.results[name]
                    if not results or results[-1] != row:
                        results.append(row)
                self._stop.wait(self.think_seconds)

    def _monitor(self) -> None:
        episodes: set[tuple[int, object]] = set()
        with database.connect(self.settings, autocommit=True) as conn:
            while not self._stop.is_set():
                rows = conn.execute(
                    "select pid, waitstart, extract(epoch from clock_timestamp() - waitstart)"
                    " from pg_locks where not granted and waitstart is not null"
                    " and pid = any(%s)",
                    (self._pids,),
                ).fetchall()
                for pid, waitstart, waited in rows:
                    episodes.add((pid, waitstart))
                    with self._lock:
                        self.report.max_lock_wait = max(self.report.max_lock_wait, float(waited))
                with self._lock:
                    self.report.lock_waits = len(episodes)
                time.sleep(self.poll_seconds)


def window_query(relation: str) -> str:
    return f"select count(*), sum(doubled) from {SCHEMA}.{relation} where id <= {READER_WINDOW}"


def aggregate_queries(*relations: str) -> dict[str, str]:
    return {relation: window_query(relation) for relation in relations}


# --------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_refresh_is_concurrent_with_a_unique_index_and_plain_blocks_readers(project):
    select = "events.id, events.grp, events.amount * 2 as doubled"
    indexes = [{"columns": ["id"], "unique": True}]
    project.write_model("mv_refresh", model_sql(select, pause=PAUSE_SECONDS, indexes=indexes))
    created = project.build("mv_refresh")
    assert created.ok, created.output
    assert created.outcome("mv_refresh").startswith("created")
    expected = project.totals("mv_refresh")
    assert expected[0] == SOURCE_ROWS

    with ReaderLoop(project.settings, aggregate_queries("mv_refresh")) as concurrent:
        refreshed = project.build("mv_refresh")
    print(concurrent.report.summary("refresh concurrently"))
    assert refreshed.ok, refreshed.output
    assert refreshed.outcome("mv_refresh").startswith(
        "refreshed concurrently (unique index mv_refresh__id_uidx)"
    )
    assert "analyzed" in refreshed.outcome("mv_refresh")
    assert concurrent.report.errors == []
    assert concurrent.report.queries > 20
    assert concurrent.report.max_lock_wait < 0.2

    plain_sql = model_sql(select, pause=PAUSE_SECONDS, indexes=indexes, refresh_method="plain")
    project.write_model("mv_refresh", plain_sql)
    with ReaderLoop(project.settings, aggregate_queries("mv_refresh")) as plain:
        refreshed_plain = project.build("mv_refresh")
    print(plain.report.summary("refresh plain"))
    assert refreshed_plain.ok, refreshed_plain.output
    assert refreshed_plain.outcome("mv_refresh").startswith(
        "refreshed plain (refresh_method='plain')"
    )
    assert plain.report.errors == []
    assert plain.report.max_lock_wait > PAUSE_SECONDS / 2
    assert project.totals("mv_refresh") == expected
    last_analyze = project.scalar(
        "select last_analyze from pg_stat_user_tables where schemaname = %s and relname = %s",
        (SCHEMA, "mv_refresh"),
    )
    assert last_analyze is not None


@pytest.mark.slow
def test_changed_sql_is_rebuilt_aside_and_dependent_views_follow(project):
    yml = (
        "models:\n"
        "  - name: mv_rebuild\n"
        "    description: Events with a doubled amount.\n"
        "    config:\n"
        "      persist_docs: {relation: true, columns: true}\n"
        "    columns:\n"
        "      - name: doubled\n"
        "        description: Twice the amount.\n"
    )
    indexes = [{"columns": ["id"], "unique": True}]
    old_select = "events.id, events.grp, events.amount * 2 as doubled"
    project.write_model(
        "mv_rebuild", model_sql(old_select, pause=PAUSE_SECONDS, indexes=indexes), yml
    )
    created = project.build("mv_rebuild")
    assert created.ok, created.output
    old_comment = project.comment(f"{SCHEMA}.mv_rebuild")
    assert old_comment.startswith("Events with a doubled amount.\n\n")
    old_fingerprint = FINGERPRINT.search(old_comment).group(1)
    column_comment = project.scalar(
        "select col_description(%s::regclass, 3)", (f"{SCHEMA}.mv_rebuild",)
    )
    assert column_comment == "Twice the amount."
    project.execute(
        f"create view {SCHEMA}.v_rebuild_dependent as"
        f" select id, doubled from {SCHEMA}.mv_rebuild where grp < 25"
    )
    dependent_oid = project.scalar(f"select '{SCHEMA}.v_rebuild_dependent'::regclass::oid")
    old_totals = project.totals("v_rebuild_dependent")
    old_windows = {name: project.window(name) for name in ("mv_rebuild", "v_rebuild_dependent")}

    new_select = "events.id, events.grp, events.amount * 3 as doubled, events.grp * 10 as grp_x10"
    project.write_model("mv_rebuild", model_sql(new_select, pause=PAUSE_SECONDS, indexes=indexes))
    queries = aggregate_queries("mv_rebuild", "v_rebuild_dependent")
    with ReaderLoop(project.settings, queries) as readers:
        rebuilt = project.build("mv_rebuild")
    print(readers.report.summary("changed-SQL rebuild"))
    assert rebuilt.ok, rebuilt.output
    assert rebuilt.outcome("mv_rebuild").startswith("rebuilt (fingerprint changed")
    assert readers.report.errors == []

    new_totals = project.totals("v_rebuild_dependent")
    assert new_totals[0] == old_totals[0]
    assert new_totals[1] == old_totals[1] * 3 / 2
    for name, old_window in old_windows.items():
        seen = readers.report.results[name]
        assert seen[0] == old_window
        assert seen[-1] == project.window(name) != old_window
    assert project.scalar(f"select max(grp_x10) from {SCHEMA}.mv_rebuild") == 490
    assert project.scalar(f"select '{SCHEMA}.v_rebuild_dependent'::regclass::oid") == dependent_oid
    assert list(project.indexes("mv_rebuild")) == ["mv_rebuild__id_uidx"]
    new_fingerprint = FINGERPRINT.search(project.comment(f"{SCHEMA}.mv_rebuild")).group(1)
    assert new_fingerprint != old_fingerprint
    assert project.relations_named("mv_rebuild__") == ["mv_rebuild__id_uidx"]


@pytest.mark.slow
def test_failed_rebuilds_leave_the_old_relation_readable(project):
    select = "events.id, events.grp, events.amount * 2 as doubled"
    indexes = [{"columns": ["id"], "unique": True}]
    project.write_model("mv_failure", model_sql(select, pause=PAUSE_SECONDS, indexes=indexes))
    created = project.build("mv_failure")
    assert created.ok, created.output
    project.execute(
        f"create view {SCHEMA}.v_failure_dependent as select id, doubled from {SCHEMA}.mv_failure"
    )
    before = project.totals("mv_failure")
    window_before = project.window("mv_failure")
    comment_before = project.comment(f"{SCHEMA}.mv_failure")

    failing_select = f"{select}, 1 / (events.id - 150000) as division_by_zero_on_one_row"
    duplicate_index = [*indexes, {"columns": ["grp"], "unique": True}]
    queries = aggregate_queries("mv_failure", "v_failure_dependent")
    with ReaderLoop(project.settings, queries) as readers:
        project.write_model(
            "mv_failure", model_sql(failing_select, pause=PAUSE_SECONDS, indexes=indexes)
        )
        division = project.build("mv_failure")
        project.write_model(
            "mv_failure", model_sql(select, pause=PAUSE_SECONDS, indexes=duplicate_index)
        )
        duplicate = project.build("mv_failure")
    print(readers.report.summary("failed rebuilds"))

    assert not division.ok
    assert "division by zero" in division.output
    assert not duplicate.ok
    assert "could not create unique index" in duplicate.output
    assert readers.report.errors == []
    assert readers.report.results["mv_failure"] == [window_before]
    assert project.totals("mv_failure") == before
    assert project.comment(f"{SCHEMA}.mv_failure") == comment_before
    assert project.relations_named("mv_failure__") == ["mv_failure__id_uidx"]
    assert project.scalar(f"select count(*) from {SCHEMA}.v_failure_dependent") == SOURCE_ROWS


@pytest.mark.slow
def test_full_refresh_swaps_in_place_and_keeps_dependent_views(project):
    select = "events.id, events.grp, events.amount * 2 as doubled"
    indexes = [{"columns": ["id"], "unique": True}]
    project.write_model("mv_full_refresh", model_sql(select, pause=1.0, indexes=indexes))
    created = project.build("mv_full_refresh")
    assert created.ok, created.output
    project.execute(
        f"create view {SCHEMA}.v_full_refresh_dependent as"
        f" select id, grp, doubled from {SCHEMA}.mv_full_refresh where grp < 25"
    )
    old_oid = project.scalar(f"select '{SCHEMA}.mv_full_refresh'::regclass::oid")
    queries = aggregate_queries("mv_full_refresh", "v_full_refresh_dependent")
    with ReaderLoop(project.settings, queries) as readers:
        rebuilt = project.build("mv_full_refresh", full_refresh=True)
    print(readers.report.summary("--full-refresh"))
    assert rebuilt.ok, rebuilt.output
    assert rebuilt.outcome("mv_full_refresh").startswith("rebuilt (--full-refresh)")
    assert readers.report.errors == []
    assert project.scalar(f"select '{SCHEMA}.mv_full_refresh'::regclass::oid") != old_oid
    assert project.totals("v_full_refresh_dependent")[0] == SOURCE_ROWS // 2
    dependent_sources = project.query(
        "select distinct source.relname from pg_depend as depends"
        " join pg_rewrite as rewrites on rewrites.oid = depends.objid"
        " join pg_class as source on source.oid = depends.refobjid"
        " where depends.classid = 'pg_rewrite'::regclass"
        " and rewrites.ev_class = %s::regclass and source.oid <> rewrites.ev_class",
        (f"{SCHEMA}.v_full_refresh_dependent",),
    )
    assert dependent_sources == [("mv_full_refresh",)]


@pytest.mark.slow
def test_swap_gives_up_instead_of_queueing_readers_behind_a_long_query(project):
    select = "events.id, events.grp, events.amount * 2 as doubled"
    guard = {"indexes": [{"columns": ["id"], "unique": True}]}
    guard |= {"swap_lock_timeout": "100ms", "swap_attempts": 3}
    project.write_model("mv_lock_guard", model_sql(select, **guard))
    created = project.build("mv_lock_guard")
    assert created.ok, created.output
    before = project.totals("mv_lock_guard")

    project.write_model(
        "mv_lock_guard", model_sql(f"{select}, events.grp * 10 as grp_x10", **guard)
    )
    with database.connect(project.settings) as long_query:
        long_query.execute(f"select count(*) from {SCHEMA}.mv_lock_guard").fetchone()
        with ReaderLoop(project.settings, aggregate_queries("mv_lock_guard")) as readers:
            blocked = project.build("mv_lock_guard")
        long_query.rollback()
    print(readers.report.summary("swap behind a long query"))
    assert not blocked.ok
    assert "could not lock mv_test.mv_lock_guard and its dependent views in 3 attempts" in (
        blocked.output
    )
    assert readers.report.errors == []
    assert readers.report.max_lock_wait < 0.5
    assert project.totals("mv_lock_guard") == before

    unblocked = project.build("mv_lock_guard")
    assert unblocked.ok, unblocked.output
    assert unblocked.outcome("mv_lock_guard").startswith("rebuilt (fingerprint changed")


@pytest.mark.slow
def test_index_config_change_adds_indexes_with_data_intact(project):
    select = "events.id, events.grp, events.amount * 2 as doubled"
    unique_id = {"columns": ["id"], "unique": True}
    project.write_model("mv_indexes", model_sql(select, indexes=[unique_id]))
    created = project.build("mv_indexes")
    assert created.ok, created.output
    assert list(project.indexes("mv_indexes")) == ["mv_indexes__id_uidx"]
    before = project.totals("mv_indexes")

    more_indexes = [unique_id, {"columns": ["grp"]}, {"columns": ["id"], "type": "brin"}]
    project.write_model("mv_indexes", model_sql(select, indexes=more_indexes))
    changed = project.build("mv_indexes")
    assert changed.ok, changed.output
    assert changed.outcome("mv_indexes").startswith("rebuilt (fingerprint changed")
    indexes = project.indexes("mv_indexes")
    assert sorted(indexes) == [
        "mv_indexes__grp_idx",
        "mv_indexes__id_brin_idx",
        "mv_indexes__id_uidx",
    ]
    assert "USING brin (id)" in indexes["mv_indexes__id_brin_idx"]
    assert "UNIQUE INDEX" in indexes["mv_indexes__id_uidx"]
    assert project.totals("mv_indexes") == before

    refreshed = project.build("mv_indexes")
    assert refreshed.ok, refreshed.output
    assert refreshed.outcome("mv_indexes").startswith("refreshed concurrently")


CONTRACT_YML = """models:
  - name: mv_contract
    config:
      contract: {enforced: true}
    columns:
      - {name: id, data_type: int}
      - {name: grp, data_type: integer}
      - {name: doubled, data_type: numeric}
  - name: mv_contract_types
    config:
      contract: {enforced: true}
    columns:
      - {name: a_int, data_type: int4}
      - {name: a_bigint, data_type: bigint}
      - {name: a_numeric, data_type: numeric}
      - {name: a_numeric_exact, data_type: "numeric(6, 2)"}
      - {name: a_tstz, data_type: timestamptz}
      - {name: a_ts, data_type: timestamp}
      - {name: a_text_array, data_type: "_text"}
      - {name: a_int_array, data_type: "integer[]"}
      - {name: a_varchar, data_type: varchar}
      - {name: a_uuid, data_type: uuid}
      - {name: a_jsonb, data_type: jsonb}
      - {name: a_bool, data_type: boolean}
      - {name: a_date, data_type: date}
      - {name: a_text, data_type: text}
  - name: mv_contract_loose
    columns:
      - {name: id, data_type: integer}
      - {name: grp, data_type: integer}
"""

PRECISION_YML = """models:
  - name: mv_contract_precision
    config:
      contract: {enforced: true}
    columns:
      - {name: amount, data_type: "numeric(6, 2)"}
"""

TYPES_SELECT = """1::integer as a_int,
    2::int8 as a_bigint,
    1.5::numeric(4, 1) as a_numeric,
    1.5::numeric(6, 2) as a_numeric_exact,
    now() as a_tstz,
    localtimestamp as a_ts,
    array['x']::text[] as a_text_array,
    array[1, 2] as a_int_array,
    'v'::varchar(20) as a_varchar,
    gen_random_uuid() as a_uuid,
    '{}'::jsonb as a_jsonb,
    true as a_bool,
    current_date as a_date,
    'x'::text as a_text"""


@pytest.mark.slow
def test_enforced_contract_fails_on_drift_and_keeps_the_old_relation(project):
    project.write_model(
        "mv_contract",
        model_sql("events.id, events.grp, events.amount * 2 as doubled"),
        CONTRACT_YML,
    )
    project.write_model(
        "mv_contract_types",
        "{{ config(materialized='safe_materialized_view') }}\nselect " + TYPES_SELECT + "\n",
    )
    project.write_model(
        "mv_contract_loose", model_sql("events.id, events.grp::text as grp, events.amount")
    )
    first = project.build("mv_contract", "mv_contract_types", "mv_contract_loose")
    assert first.ok, first.output
    assert first.outcome("mv_contract").startswith("created")
    assert first.outcome("mv_contract_types").startswith("created")
    assert first.outcome("mv_contract_loose").startswith("created")
    assert re.search(r"YAML columns of mv_contract_loose drift", first.output)
    assert "column `grp` has type `text` but the YAML declares `integer`" in first.output
    assert "column `amount` (numeric(10,2)) is extra" in first.output
    before = project.totals("mv_contract")

    project.write_model(
        "mv_contract", model_sql("events.id, events.grp::text as grp, events.amount * 2 as doubled")
    )
    project.write_model(
        "mv_contract_precision",
        model_sql("events.amount::numeric(4, 1) as amount"),
        PRECISION_YML,
    )
    type_drift = project.build("mv_contract", "mv_contract_precision")
    assert not type_drift.ok
    assert "enforced contract of mv_contract does not match" in type_drift.output
    assert "column `grp` has type `text` but the YAML declares `integer`" in type_drift.output
    assert "column `amount` has type `numeric(4,1)` but the YAML declares `numeric(6, 2)`" in (
        type_drift.output
    )
    assert project.relations_named("mv_contract_precision") == []

    project.write_model("mv_contract", model_sql("events.id, events.grp, events.amount as bonus"))
    missing = project.build("mv_contract")
    assert not missing.ok
    assert "column `doubled` is missing" in missing.output
    assert "column `bonus` (numeric(10,2)) is extra" in missing.output

    assert project.totals("mv_contract") == before
    grp_type = project.scalar(
        "select format_type(atttypid, atttypmod) from pg_attribute"
        " where attrelid = %s::regclass and attname = 'grp'",
        (f"{SCHEMA}.mv_contract",),
    )
    assert grp_type == "integer"
    assert project.relations_named("mv_contract__") == []


@pytest.mark.slow
def test_refresh_without_a_unique_index_falls_back_to_plain(project):
    select = "events.id, events.grp, events.amount * 2 as doubled"
    project.write_model("mv_plain_fallback", model_sql(select))
    project.write_model(
        "mv_concurrent_misconfigured",
        model_sql(select, indexes=[{"columns": ["grp"]}], refresh_method="concurrent"),
    )
    created = project.build("mv_plain_fallback")
    assert created.ok, created.output
    refreshed = project.build("mv_plain_fallback", "mv_concurrent_misconfigured")
    assert refreshed.outcome("mv_plain_fallback").startswith(
        "refreshed plain (no unique index on plain columns)"
    )
    assert not refreshed.ok
    assert "refresh_method='concurrent' needs a unique index on plain columns" in (refreshed.output)
    assert project.relations_named("mv_concurrent_misconfigured") == []


@pytest.mark.slow
def test_a_concurrent_refresh_samples_its_new_rows_at_the_smallest_statistics_target(project):
    """REFRESH ... CONCURRENTLY analyzes its copy of the new rows only for their count. The
    materialization and orchestration's refresh_concurrently run it at target 1 (a column of the
    view records the target its query ran at), and the view's own ANALYZE at the server's."""
    server_target = project.scalar("show default_statistics_target")
    assert server_target != str(REFRESH_STATISTICS_TARGET)
    select = (
        "events.id, events.grp, events.amount * 2 as doubled,"
        " current_setting('default_statistics_target') as query_target"
    )
    project.write_model(
        "mv_sampled", model_sql(select, indexes=[{"columns": ["id"], "unique": True}])
    )

    def query_targets() -> set[str]:
        return {row[0] for row in project.query(f"select query_target from {SCHEMA}.mv_sampled")}

    def histogram_bounds() -> int:
        return project.scalar(
            "select array_length(histogram_bounds, 1) from pg_stats"
            " where schemaname = %s and tablename = 'mv_sampled' and attname = 'id'",
            (SCHEMA,),
        )

    created = project.build("mv_sampled")
    assert created.ok, created.output
    assert query_targets() == {server_target}
    refreshed = project.build("mv_sampled")
    assert refreshed.ok, refreshed.output
    assert refreshed.outcome("mv_sampled").startswith("refreshed concurrently")
    assert query_targets() == {str(REFRESH_STATISTICS_TARGET)}
    # The view's statistics are the server's: a target of 1 would leave 2 histogram bounds.
    assert histogram_bounds() == int(server_target) + 1

    project.execute(f"refresh materialized view {SCHEMA}.mv_sampled")
    assert query_targets() == {server_target}
    with database.connect(project.settings) as conn, conn.transaction():
        refresh_concurrently(conn, sql.Identifier(SCHEMA, "mv_sampled"))
        assert conn.execute("show default_statistics_target").fetchone()[0] == server_target
    assert query_targets() == {str(REFRESH_STATISTICS_TARGET)}


@pytest.mark.slow
def test_every_refresh_runs_its_query_without_parallel_workers(project):
    """A refresh's query keeps few of the rows it reads: dbt's refreshes (plain, concurrent, a
    view's build aside, a maintained table's merge) and orchestration's run it at
    REFRESH_PARALLEL_WORKERS (a column records the setting its query ran at), and hand the
    server's setting back."""
    server_workers = project.scalar("show max_parallel_workers_per_gather")
    assert server_workers != str(REFRESH_PARALLEL_WORKERS)
    workers = "current_setting('max_parallel_workers_per_gather') as query_workers"
    unique = [{"columns": ["id"], "unique": True}]
    project.write_model(
        "mv_workers", model_sql(f"events.id, events.grp, {workers}", indexes=unique)
    )
    project.write_model(
        "mv_workers_plain",
        model_sql(f"events.id, events.grp, {workers}", indexes=unique, refresh_method="plain"),
    )
    project.write_model(
        "mt_workers",
        maintained_sql("mv_source.events").replace(
            "select events.id, events.grp, events.doubled",
            f"select events.id, events.grp, events.doubled, {workers}",
        ),
    )

    def query_workers(relation: str) -> set[str]:
        return {row[0] for row in project.query(f"select query_workers from {SCHEMA}.{relation}")}

    created = project.build("mv_workers", "mv_workers_plain", "mt_workers")
    assert created.ok, created.output
    assert query_workers("mv_workers") == {str(REFRESH_PARALLEL_WORKERS)}
    # A table built aside runs at the server's setting (a rebuild writes every row anyway).
    assert query_workers("mt_workers") == {server_workers}
    project.execute(f"refresh materialized view {SCHEMA}.mv_workers")
    assert query_workers("mv_workers") == {server_workers}

    refreshed = project.build("mv_workers", "mv_workers_plain", "mt_workers")
    assert refreshed.ok, refreshed.output
    assert refreshed.outcome("mv_workers").startswith("refreshed concurrently")
    assert refreshed.outcome("mv_workers_plain").startswith("refreshed plain")
    assert refreshed.outcome("mt_workers").startswith("merged on its key")
    for relation in ("mv_workers", "mv_workers_plain", "mt_workers"):
        assert query_workers(relation) == {str(REFRESH_PARALLEL_WORKERS)}, relation

    for refresh in (refresh_concurrently, refresh_plainly):
        project.execute(f"refresh materialized view {SCHEMA}.mv_workers")
        with database.connect(project.settings) as conn, conn.transaction():
            refresh(conn, sql.Identifier(SCHEMA, "mv_workers"))
            assert conn.execute("show max_parallel_workers_per_gather").fetchone()[0] == (
                server_workers
            )
        assert query_workers("mv_workers") == {str(REFRESH_PARALLEL_WORKERS)}, refresh.__name__


@pytest.mark.slow
def test_macro_docs_cover_the_config_keys_and_match_the_macros(project):
    parsed = project.dbt("parse")
    assert parsed.ok, parsed.output
    assert "does not match the jinja definition" not in parsed.output
    assert "has an invalid type" not in parsed.output
    manifest = json.loads((project.root / "target" / "manifest.json").read_text())
    macros = {
        macro["name"]: macro
        for macro in manifest["macros"].values()
        if macro["package_name"] == "mv_scratch"
    }
    description = macros["materialization_safe_materialized_view_postgres"]["description"]
    for key in ("indexes", "refresh_method", "analyze", "swap_lock_timeout", "swap_attempts"):
        assert f"`{key}`" in description
    assert [name for name, macro in macros.items() if not macro["description"]] == []


def test_rebuilding_an_upstream_view_keeps_the_materialized_view_on_it(project):
    """A view rebuilt under a materialized view is replaced in place, dropping nothing."""
    upstream = "{{ config(materialized='view') }}\nselect id, grp, amount from mv_source.events\n"
    project.write_model("stg_events", upstream)
    mart = model_sql(
        "events.id, events.amount * 2 as doubled", indexes=[{"columns": ["id"], "unique": True}]
    ).replace("mv_source.events", "{{ ref('stg_events') }}")
    project.write_model("mv_on_view", mart)
    assert project.build("stg_events", "mv_on_view").ok
    mart_oid = project.scalar(f"select '{SCHEMA}.mv_on_view'::regclass::oid")

    widened = upstream.replace("amount from", "amount, grp * 2 as grp_doubled from")
    project.write_model("stg_events", widened)
    rebuilt = project.build("stg_events")
    assert rebuilt.ok, rebuilt.output
    assert project.scalar(f"select '{SCHEMA}.mv_on_view'::regclass::oid") == mart_oid
    assert project.scalar(f"select count(*) from {SCHEMA}.mv_on_view") == SOURCE_ROWS
    assert project.scalar(f"select max(grp_doubled) from {SCHEMA}.stg_events") == 98

    narrowed = "{{ config(materialized='view') }}\nselect id, amount from mv_source.events\n"
    project.write_model("stg_events", narrowed)
    replaced = project.dbt("build", "--select", "stg_events", "--quiet")
    assert replaced.ok, replaced.output
    assert "columns changed" in replaced.output
    assert project.build("mv_on_view").ok
    assert project.scalar(f"select count(*) from {SCHEMA}.mv_on_view") == SOURCE_ROWS


# --------------------------------------------------------------------------------------
# Unchanged rows stay unchanged: the refresh time lives in the refresh log
# --------------------------------------------------------------------------------------

STABLE_ROWS = 5_000
REFRESH_LOG = f"{SCHEMA}_meta.refresh_log"


def versioned_model(project: ScratchProject, name: str, select: str, *, log: bool) -> None:
    """`<name>_v1`, the latest version of `name`, over mv_source.stable_events, with the marts'
    latest-version post-hook; `log` sets `meta.last_refreshed: refresh_log`."""
    yml = (
        "models:\n"
        f"  - name: {name}\n"
        "    latest_version: 1\n"
        "    versions:\n"
        "      - v: 1\n"
        "    config:\n"
        "      materialized: safe_materialized_view\n"
        "      indexes: [{columns: [id], unique: true}]\n"
        '      post_hook: "{{ create_latest_version_view() }}"\n'
        + ("      meta: {last_refreshed: refresh_log}\n" if log else "")
    )
    (project.root / "models" / f"{name}.yml").write_text(yml)
    sql = f"select {select}\nfrom mv_source.stable_events as events\n"
    (project.root / "models" / f"{name}_v1.sql").write_text(sql)


def stable_source(project: ScratchProject) -> None:
    project.execute(
        "drop table if exists mv_source.stable_events cascade;"
        " create table mv_source.stable_events as"
        " select g as id, g % 50 as grp, (g % 1000)::numeric(10, 2) as amount"
        f" from generate_series(1, {STABLE_ROWS}) as g;"
        " alter table mv_source.stable_events add primary key (id)"
    )


def row_versions(project: ScratchProject, relation: str) -> int:
    """Rows inserted, updated and deleted in `relation` so far. Each backend flushes its
    statistics when it exits, before it leaves pg_stat_activity, and dbt closes its connections
    at the end of a command: wait for that, then read a fresh snapshot."""
    deadline = time.monotonic() + 30
    with database.connect(project.settings, autocommit=True) as conn:
        while (
            time.monotonic() < deadline
            and conn.execute(
                "select count(*) from pg_stat_activity where datname = current_database()"
                " and backend_type = 'client backend' and pid <> pg_backend_pid()"
            ).fetchone()[0]
        ):
            time.sleep(0.1)
        conn.execute("select pg_stat_clear_snapshot()")
        return conn.execute(
            "select n_tup_ins + n_tup_upd + n_tup_del from pg_stat_user_tables"
            " where relid = %s::regclass",
            (f"{SCHEMA}.{relation}",),
        ).fetchone()[0]


def row_versions_by_id(project: ScratchProject, relation: str, key: str = "id") -> dict[int, tuple]:
    """Each row's physical version (ctid) and values, by id (or another unique column)."""
    rows = project.query(f"select {key}, ctid::text, * from {SCHEMA}.{relation}")
    return {row[0]: row[1:] for row in rows}


def column_names(project: ScratchProject, relation: str) -> list[str]:
    return [
        row[0]
        for row in project.query(
            "select attname::text from pg_attribute where attrelid = %s::regclass"
            " and attnum > 0 and not attisdropped order by attnum",
            (f"{SCHEMA}.{relation}",),
        )
    ]


def logged_refresh(project: ScratchProject, relation: str):
    return project.scalar(
        f"select refreshed_at from {REFRESH_LOG} where schema_name = %s and relation_name = %s",
        (SCHEMA, relation),
    )


@pytest.mark.slow
def test_a_concurrent_refresh_of_an_unchanged_view_writes_no_row(project):
    stable_source(project)
    versioned_model(
        project, "mv_stable", "events.id, events.grp, events.amount * 2 as doubled", log=True
    )
    created = project.build("mv_stable")
    assert created.ok, created.output
    assert created.outcome("mv_stable_v1").startswith("created")
    assert column_names(project, "mv_stable_v1") == ["id", "grp", "doubled"]
    assert column_names(project, "mv_stable") == ["id", "grp", "doubled", "last_refreshed"]
    first_refresh = logged_refresh(project, "mv_stable_v1")
    assert project.query(f"select distinct last_refreshed from {SCHEMA}.mv_stable") == [
        (first_refresh,)
    ]
    # Only the owner reads the log; the views read it with their owner's rights.
    assert project.scalar(
        "select relacl is null or not exists (select from aclexplode(relacl) as acl"
        " where acl.grantee = 0) from pg_class where oid = %s::regclass",
        (REFRESH_LOG,),
    )

    before = row_versions_by_id(project, "mv_stable_v1")
    written = row_versions(project, "mv_stable_v1")
    refreshed = project.build("mv_stable")
    assert refreshed.ok, refreshed.output
    assert refreshed.outcome("mv_stable_v1").startswith("refreshed concurrently")
    assert row_versions(project, "mv_stable_v1") == written
    assert row_versions_by_id(project, "mv_stable_v1") == before
    second_refresh = logged_refresh(project, "mv_stable_v1")
    assert second_refresh > first_refresh
    assert project.query(f"select distinct last_refreshed from {SCHEMA}.mv_stable") == [
        (second_refresh,)
    ]

    project.execute("update mv_source.stable_events set amount = amount + 1 where id = 42")
    changed = project.build("mv_stable")
    assert changed.ok, changed.output
    assert row_versions(project, "mv_stable_v1") == written + 2  # the old row out, the new in
    after = row_versions_by_id(project, "mv_stable_v1")
    assert {key for key in after if after[key] != before[key]} == {42}
    assert after[42][1:] == (42, 42 % 50, (before[42][3] + 2))
    assert logged_refresh(project, "mv_stable_v1") > second_refresh


@pytest.mark.slow
def test_the_row_version_check_fails_for_a_current_timestamp_column(project):
    """The design this replaces: `current_timestamp as last_refreshed` in every row makes each
    concurrent refresh delete and re-insert the whole view, which the check above would see."""
    stable_source(project)
    versioned_model(
        project,
        "mv_volatile",
        "events.id, events.grp, events.amount * 2 as doubled, current_timestamp as last_refreshed",
        log=False,
    )
    created = project.build("mv_volatile")
    assert created.ok, created.output
    written = row_versions(project, "mv_volatile_v1")
    refreshed = project.build("mv_volatile")
    assert refreshed.ok, refreshed.output
    assert refreshed.outcome("mv_volatile_v1").startswith("refreshed concurrently")
    assert row_versions(project, "mv_volatile_v1") - written == 2 * STABLE_ROWS


@pytest.mark.slow
def test_moving_last_refreshed_to_the_log_keeps_dependent_views_readable(project):
    """An existing relation with the column in its rows, a latest-version view over it and views
    reading the column (as tenant views and the opportunity pipeline do): the rebuild without
    the column re-points them at the latest-version view, which still has it, and no reader
    errs."""
    stable_source(project)
    old_select = "events.id, events.grp, events.amount * 2 as doubled"
    versioned_model(
        project, "mv_moving", f"{old_select}, current_timestamp as last_refreshed", log=False
    )
    created = project.build("mv_moving")
    assert created.ok, created.output
    project.execute(
        f"create view {SCHEMA}.v_moving_all as select * from {SCHEMA}.mv_moving_v1;"
        f" create view {SCHEMA}.v_moving_fresh as"
        f" select id, doubled, last_refreshed from {SCHEMA}.mv_moving_v1 where grp < 25"
    )
    before = project.totals("mv_moving")

    versioned_model(project, "mv_moving", old_select, log=True)
    queries = aggregate_queries("mv_moving", "v_moving_all", "v_moving_fresh")
    queries["fresh"] = f"select max(last_refreshed) from {SCHEMA}.v_moving_fresh"
    with ReaderLoop(project.settings, queries) as readers:
        moved = project.build("mv_moving")
    print(readers.report.summary("last_refreshed moved to the log"))
    assert moved.ok, moved.output
    assert moved.outcome("mv_moving_v1").startswith("rebuilt (fingerprint changed")
    assert readers.report.errors == []

    refreshed_at = logged_refresh(project, "mv_moving_v1")
    assert column_names(project, "mv_moving_v1") == ["id", "grp", "doubled"]
    assert column_names(project, "mv_moving")[-1] == "last_refreshed"
    assert project.totals("mv_moving") == before
    for view in ("mv_moving", "v_moving_all", "v_moving_fresh"):
        assert project.query(f"select distinct last_refreshed from {SCHEMA}.{view}") == [
            (refreshed_at,)
        ], view
    reads = project.query(
        "select distinct dependent.relname::text, source.relname::text from pg_depend as depends"
        " join pg_rewrite as rewrites on rewrites.oid = depends.objid"
        " join pg_class as dependent on dependent.oid = rewrites.ev_class"
        " join pg_class as source on source.oid = depends.refobjid"
        " where depends.classid = 'pg_rewrite'::regclass and source.oid <> dependent.oid"
        " and dependent.relname in ('mv_moving', 'v_moving_all', 'v_moving_fresh')"
        " and source.relkind in ('m', 'v') order by 1"
    )
    assert reads == [
        ("mv_moving", "mv_moving_v1"),
        ("v_moving_all", "mv_moving"),
        ("v_moving_fresh", "mv_moving"),
    ]
    assert project.relations_named("mv_moving_v1__") == ["mv_moving_v1__id_uidx"]

    comment = project.comment(f"{SCHEMA}.mv_moving")
    refreshed = project.build("mv_moving")
    assert refreshed.ok, refreshed.output
    assert refreshed.outcome("mv_moving_v1").startswith("refreshed concurrently")
    assert project.comment(f"{SCHEMA}.mv_moving") == comment
    assert logged_refresh(project, "mv_moving_v1") > refreshed_at


# --------------------------------------------------------------------------------------
# maintained_table: a table merged with its query on its key
# --------------------------------------------------------------------------------------


def maintained_sql(*sources: str, pause: float = 0.0) -> str:
    """A maintained_table over `sources` (unioned), keyed on id; `pause` makes its query last."""
    config = {
        "materialized": "maintained_table",
        "unique_key": "id",
        "indexes": [{"columns": ["id"], "unique": True}, {"columns": ["grp"]}],
    }
    arguments = ", ".join(f"{key}={json.dumps(value)}" for key, value in config.items())
    unioned = "\n    union all\n    ".join(
        f"select id, grp, amount * 2 as doubled from {source}" for source in sources
    )
    return f"""{{{{ config({arguments}) }}}}

with

pause as materialized (

    select pg_sleep({pause}) as slept

),

events as (

    {unioned}

)

select events.id, events.grp, events.doubled
from events
cross join pause
"""


def differences(project: ScratchProject, relation: str, query: str) -> int:
    """Rows of the relation not returned by the query, plus the converse."""
    return project.scalar(
        f"select (select count(*) from (table {SCHEMA}.{relation} except all {query}) as gone)"
        f" + (select count(*) from ({query} except all table {SCHEMA}.{relation}) as missing)"
    )


@pytest.mark.slow
def test_a_maintained_table_merges_its_query_on_the_key_and_writes_only_what_changed(project):
    stable_source(project)
    query = "select id, grp, amount * 2 from mv_source.stable_events"
    project.write_model("mt_events", maintained_sql("mv_source.stable_events", pause=1.0))
    created = project.build("mt_events")
    assert created.ok, created.output
    assert created.outcome("mt_events").startswith("created: built aside")
    assert (
        project.scalar(
            "select relkind::text from pg_class where oid = %s::regclass", (f"{SCHEMA}.mt_events",)
        )
        == "r"
    )
    # only dbt's role may run the refresh
    assert project.scalar(
        "select not has_function_privilege('public', %s, 'execute')",
        (f"{SCHEMA}_meta.mt_events__refresh()",),
    )
    before = row_versions_by_id(project, "mt_events")
    written = row_versions(project, "mt_events")

    merged = project.build("mt_events")
    assert merged.ok, merged.output
    assert merged.outcome("mt_events").startswith("merged on its key")
    assert row_versions(project, "mt_events") == written
    assert row_versions_by_id(project, "mt_events") == before

    new_id = STABLE_ROWS + 1
    project.execute(
        "update mv_source.stable_events set amount = amount + 1 where id = 42;"
        " delete from mv_source.stable_events where id = 43;"
        f" insert into mv_source.stable_events values ({new_id}, 7, 3.5)"
    )
    # refreshed as the Dagster sensor does it, without dbt, while readers read
    with ReaderLoop(project.settings, aggregate_queries("mt_events")) as readers:
        (done,) = refresh_in_place(project.settings, [(SCHEMA, "mt_events")])
    print(readers.report.summary("maintained_table refresh"))
    assert done.seconds >= 1.0, "the refresh ran the query (and its pause)"
    assert readers.report.errors == []
    assert readers.report.queries > 20
    assert readers.report.max_lock_wait < 0.05
    assert row_versions(project, "mt_events") == written + 3  # one update, delete and insert
    after = row_versions_by_id(project, "mt_events")
    changed = {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}
    assert changed == {42, 43, new_id}
    assert differences(project, "mt_events", query) == 0

    # the comparison would have seen a change the merge missed
    project.execute("update mv_source.stable_events set amount = amount + 1 where id = 44")
    assert differences(project, "mt_events", query) == 2


@pytest.mark.slow
def test_a_maintained_table_refuses_a_query_that_repeats_a_key_and_keeps_its_rows(project):
    stable_source(project)
    project.execute(
        "drop table if exists mv_source.late_events;"
        " create table mv_source.late_events (like mv_source.stable_events)"
    )
    project.write_model(
        "mt_repeated", maintained_sql("mv_source.stable_events", "mv_source.late_events")
    )
    created = project.build("mt_repeated")
    assert created.ok, created.output
    before = row_versions_by_id(project, "mt_repeated")

    project.execute(
        "insert into mv_source.late_events"
        " select id, grp, amount + 1 from mv_source.stable_events where id = 7"
    )
    with pytest.raises(psycopg.errors.UniqueViolation) as raised:
        refresh_in_place(project.settings, [(SCHEMA, "mt_repeated")])
    message = str(raised.value)
    assert f"the query of {SCHEMA}.mt_repeated returns more than one row for a key (id)" in message
    assert "(id)=(7)" in message
    failed = project.build("mt_repeated")
    assert not failed.ok
    assert "returns more than one row for a key (id)" in failed.output
    assert row_versions_by_id(project, "mt_repeated") == before


@pytest.mark.slow
def test_a_maintained_table_refreshes_in_a_copy_of_its_database(project):
    """dbt names each relation of the compiled SQL with its database; the refresh procedure names
    none, so it runs in a copy made with CREATE DATABASE ... TEMPLATE (or after a rename)."""
    stable_source(project)
    project.write_model("mt_upstream", "select * from mv_source.stable_events")
    project.write_model("mt_copied", maintained_sql("{{ ref('mt_upstream') }}"))
    built = project.build("mt_upstream", "mt_copied")
    assert built.ok, built.output
    procedure = f"{SCHEMA}_meta.mt_copied__refresh()"
    body = project.scalar("select prosrc from pg_proc where oid = %s::regprocedure", (procedure,))
    assert f"{SCHEMA}.mt_upstream" in body.replace('"', "")
    assert project.settings.dbname not in body

    copy = project.settings.with_database(f"{project.settings.dbname}_copy")
    database.drop_database(copy)
    with database.connect(project.settings.with_database("postgres"), autocommit=True) as conn:
        conn.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity"
            " where datname = %s and pid <> pg_backend_pid()",
            (project.settings.dbname,),
        )
        conn.execute(
            sql.SQL("create database {} template {}").format(
                sql.Identifier(copy.dbname), sql.Identifier(project.settings.dbname)
            )
        )
    try:
        with database.connect(copy, autocommit=True) as conn:
            conn.execute("update mv_source.stable_events set amount = amount + 1 where id = 42")
        refresh_in_place(copy, [(SCHEMA, "mt_copied")])
        with database.connect(copy, autocommit=True) as conn:
            doubled = conn.execute(
                f"select (select doubled from {SCHEMA}.mt_copied where id = 42)"
                " = (select amount * 2 from mv_source.stable_events where id = 42)"
            ).fetchone()[0]
        assert doubled
    finally:
        database.drop_database(copy)


@pytest.mark.slow
def test_a_maintained_table_matches_a_nullable_key_column_null_to_null(project):
    """`nullable_key_columns`: a row whose key has a null is matched (not rewritten by every
    refresh), a changed one is updated in place, and a key repeated with its null is refused by
    the refresh and by a rebuild, the rows kept."""
    stable_source(project)
    project.execute(
        "drop table if exists mv_source.late_events;"
        " create table mv_source.late_events (like mv_source.stable_events)"
    )
    config = {
        "materialized": "maintained_table",
        "unique_key": ["grp", "parent"],
        "nullable_key_columns": ["parent"],
        "indexes": [{"columns": ["grp", "parent"], "unique": True}],
    }
    arguments = ", ".join(f"{key}={json.dumps(value)}" for key, value in config.items())
    project.write_model(
        "mt_nullable",
        f"{{{{ config({arguments}) }}}}\n"
        "select grp, case when grp % 5 = 0 then null else grp % 3 end as parent,"
        " sum(amount) as total\n"
        "from mv_source.stable_events\ngroup by 1, 2\n"
        "union all\n"
        "select grp, null, amount from mv_source.late_events\n",
    )
    created = project.build("mt_nullable")
    assert created.ok, created.output
    assert project.scalar(f"select count(*) from {SCHEMA}.mt_nullable where parent is null") == 10
    before = row_versions_by_id(project, "mt_nullable", key="grp")
    written = row_versions(project, "mt_nullable")

    refresh_in_place(project.settings, [(SCHEMA, "mt_nullable")])
    assert row_versions(project, "mt_nullable") == written, "an unchanged null key was rewritten"
    assert row_versions_by_id(project, "mt_nullable", key="grp") == before

    project.execute("update mv_source.stable_events set amount = amount + 1 where id = 50")
    refresh_in_place(project.settings, [(SCHEMA, "mt_nullable")])
    assert row_versions(project, "mt_nullable") == written + 1  # grp 0, parent null: updated
    after = row_versions_by_id(project, "mt_nullable", key="grp")
    assert {key for key in before if before[key] != after.get(key)} == {0}

    project.execute("insert into mv_source.late_events values (0, 0, 1)")
    with pytest.raises(psycopg.errors.UniqueViolation) as raised:
        refresh_in_place(project.settings, [(SCHEMA, "mt_nullable")])
    assert "(grp, parent)=(0, null) is duplicated" in str(raised.value)
    rebuilt = project.build("mt_nullable", full_refresh=True)
    assert not rebuilt.ok
    assert "returns more than one row for a key (grp, parent)" in rebuilt.output
    assert "Key (grp, parent)=(0, null) is duplicated" in rebuilt.output
    assert row_versions_by_id(project, "mt_nullable", key="grp") == after
