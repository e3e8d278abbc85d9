"""The streaming replica of the embedded server, against real servers.

A primary of this module's own (an embedded server in a temporary folder) and replicas of it:
the `value-view db replica` lifecycle, the one-line errors, how soon a write on the primary is
visible on the replica, that the replica refuses writes, and that a long reader on the replica
is never cancelled by what the primary's refreshes and swaps replay (and, to show the test can
fail, that it is cancelled on a replica without feedback or replay delay).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
from dagster import AssetCheckResult, AssetCheckSeverity, build_asset_check_context
from psycopg import sql

from orchestration.defs.resources import WarehouseResource
from orchestration.defs.warehouse_checks import build_replica_lag_check, shortest_freshness_sla
from orchestration.lib import database, health
from orchestration.lib import replica as replicas
from orchestration.lib import settings as project_settings
from orchestration.lib.server import EmbeddedServer
from orchestration.tools import cli

# A write on the primary is visible on the replica within this bound. The embedded server
# commits asynchronously (WAL flushed within 3 x 200 ms) and the replica applies as it receives;
# measured: 0.2 to 0.5 s here. The bound leaves room for a loaded CI machine.
CATCH_UP_BOUND_S = 5.0
READERS = 4
READER_SLEEP_S = 3
ROWS = 100_000
GROUPS = 1_000


@pytest.fixture(scope="module")
def primary(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    server = EmbeddedServer(tmp_path_factory.mktemp("replica") / "home")
    server.start()
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture(scope="module")
def standby(primary: EmbeddedServer) -> Iterator[replicas.ReplicaServer]:
    """A replica with the project's settings, beside the one the CLI manages."""
    server = replicas.ReplicaServer(primary, name="standby")
    server.start()
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture
def cli_env(primary: EmbeddedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI sees only the module's primary: its home, no external server or replica."""
    for key in list(os.environ):
        if key.startswith(("PG", "VALUE_VIEW_REPLICA_")) or key == "VALUE_VIEW_DATABASE_URL":
            monkeypatch.delenv(key)
    monkeypatch.setenv("VALUE_VIEW_HOME", str(primary.home))


def _settings(server: EmbeddedServer) -> database.ConnectionSettings:
    settings = server.status()
    assert settings is not None, f"{server.home} is not running"
    return settings


def _slot(primary: database.ConnectionSettings, slot: str) -> tuple[bool, bool] | None:
    """(active, holds an xmin) of a replication slot on the primary; None when it is gone."""
    with database.connect(primary, autocommit=True) as conn:
        return conn.execute(
            "select active, xmin is not null from pg_replication_slots where slot_name = %s",
            (slot,),
        ).fetchone()


def _one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str], *named: str) -> str:
    assert cli.main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    for word in named:
        assert word in lines[0]
    return lines[0]


# -- the primary's side ------------------------------------------------------------------------


def test_a_primary_without_a_replication_line_in_pg_hba_gets_one_once(
    primary: EmbeddedServer,
) -> None:
    settings = _settings(primary)
    hba = primary.pgdata / "pg_hba.conf"
    kept = [line for line in hba.read_text().splitlines() if "replication" not in line]
    hba.write_text("\n".join(kept) + "\n")
    slot = "value_view_hba_probe"
    try:
        with database.connect(settings, autocommit=True) as conn:
            conn.execute("select pg_reload_conf()")
        replicas.prepare_primary(settings, slot)
        replicas.prepare_primary(settings, slot)
        assert hba.read_text().count(replicas.REPLICATION_HBA_LINE) == 1
        # A replication connection from 127.0.0.1 is accepted again.
        with psycopg.connect(settings.conninfo + " replication=true", autocommit=True) as conn:
            assert conn.pgconn.exec_(b"IDENTIFY_SYSTEM").ntuples == 1
    finally:
        replicas.drop_slot(settings, slot)


# -- lifecycle ---------------------------------------------------------------------------------


def test_replica_lifecycle_through_the_cli(
    primary: EmbeddedServer, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """start, reuse, status, stop; a write made while it was stopped arrives after the next
    start (the slot kept it); stop --drop removes the data and the slot."""
    server = replicas.ReplicaServer(primary)
    primary_settings = _settings(primary)
    try:
        assert cli.main(["db", "replica", "start"]) == 0
        first = server.status()
        assert first is not None and first.port != primary_settings.port
        assert f"streaming at 127.0.0.1:{first.port}" in capsys.readouterr().out
        assert cli.main(["db", "replica", "start"]) == 0
        assert server.status() == first
        assert cli.main(["db", "replica", "status"]) == 0
        assert "streaming" in capsys.readouterr().out
        assert cli.main(["db", "replica", "stop"]) == 0
        assert server.status() is None
        assert _slot(primary_settings, server.slot) == (False, False), (
            "a stopped replica's slot keeps WAL, not the primary's vacuum horizon"
        )
        assert cli.main(["db", "replica", "status"]) == 3
        assert cli.main(["db", "replica", "stop"]) == 0
        assert "was not running" in capsys.readouterr().out
        with database.connect(primary_settings, autocommit=True) as conn:
            conn.execute("create table written_while_stopped as select 42 as answer")
        assert cli.main(["db", "replica", "start"]) == 0
        assert server.status() == first
        replicas.wait_for_replay(primary_settings, first)
        with database.connect(first) as conn:
            assert conn.execute("select answer from written_while_stopped").fetchone() == (42,)
        assert cli.main(["db", "replica", "stop", "--drop"]) == 0
        assert not server.pgdata.exists()
        assert _slot(primary_settings, server.slot) is None
    finally:
        server.destroy()


def test_a_replica_whose_slot_is_gone_is_copied_again(primary: EmbeddedServer) -> None:
    server = replicas.ReplicaServer(primary, name="recopied")
    try:
        server.start()
        marker = server.pgdata / "PG_VERSION"
        copied_at = marker.stat().st_mtime_ns
        server.stop()
        replicas.drop_slot(_settings(primary), server.slot)
        settings = server.start()
        assert marker.stat().st_mtime_ns != copied_at
        assert replicas.replication(settings, None).receiver == "streaming"
    finally:
        server.destroy()


def test_bad_ports_are_one_line_errors(
    primary: EmbeddedServer, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    start = ["db", "replica", "start", "--port"]
    _one_line_error(capsys, [*start, "70000"], "--port", "65535")
    _one_line_error(capsys, [*start, str(_settings(primary).port)], "already listens")
    _one_line_error(capsys, [*start, "80"], "privileged")
    assert replicas.ReplicaServer(primary).status() is None


def test_a_missing_binary_is_a_one_line_error(
    primary: EmbeddedServer,
    cli_env: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setattr(replicas.ReplicaServer, "bin_dir", staticmethod(lambda: empty))
    monkeypatch.setenv("PATH", str(empty))
    _one_line_error(capsys, ["db", "replica", "start"], "pg_basebackup not found", str(empty))


def test_with_an_external_server_the_replica_settings_name_your_own(
    primary: EmbeddedServer,
    standby: replicas.ReplicaServer,
    cli_env: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for key, value in _settings(primary).env().items():
        monkeypatch.setenv(key, value)
    _one_line_error(capsys, ["db", "replica", "status"], "VALUE_VIEW_REPLICA_HOST")
    own = _settings(standby)
    monkeypatch.setenv("VALUE_VIEW_REPLICA_HOST", own.host)
    monkeypatch.setenv("VALUE_VIEW_REPLICA_PORT", str(own.port))
    assert project_settings.replica_settings() == replace(own, source="replica-env")
    assert cli.main(["db", "replica", "status"]) == 0
    assert f"replica at {own.host}:{own.port}/{own.dbname}: streaming" in capsys.readouterr().out
    assert cli.main(["db", "replica", "stop"]) == 0
    assert "is yours" in capsys.readouterr().out
    assert standby.status() == own
    monkeypatch.setenv("VALUE_VIEW_REPLICA_PORT", "not-a-port")
    _one_line_error(capsys, ["db", "replica", "status"], "VALUE_VIEW_REPLICA_PORT")


# -- following the primary ---------------------------------------------------------------------


def _visible_within(replica: database.ConnectionSettings, query: str, expected: tuple) -> float:
    """Seconds until ``query`` on the replica returns ``expected`` (polled every 10 ms)."""
    started = time.monotonic()
    with database.connect(replica, autocommit=True) as conn:
        while True:
            try:
                if conn.execute(query).fetchone() == expected:
                    return time.monotonic() - started
            except psycopg.errors.UndefinedTable:
                pass
            if time.monotonic() - started > CATCH_UP_BOUND_S * 4:
                pytest.fail(f"{query} never returned {expected} on the replica")
            time.sleep(0.01)


def test_writes_on_the_primary_reach_the_replica_within_the_bound(
    primary: EmbeddedServer, standby: replicas.ReplicaServer
) -> None:
    source, replica = _settings(primary), _settings(standby)
    with database.connect(source, autocommit=True) as conn:
        conn.execute(
            "create table catch_up_rows as select id, id % 100 as grp"
            f" from generate_series(1, {ROWS}) as id"
        )
        created = _visible_within(replica, "select count(*) from catch_up_rows", (ROWS,))
        conn.execute(
            "create materialized view catch_up_groups as"
            " select grp, count(*) as rows_in_group from catch_up_rows group by grp"
        )
        conn.execute("create unique index on catch_up_groups (grp)")
        conn.execute("update catch_up_rows set grp = 0 where grp = 1")
        conn.execute("refresh materialized view concurrently catch_up_groups")
        refreshed = _visible_within(
            replica, "select rows_in_group from catch_up_groups where grp = 0", (2 * ROWS // 100,)
        )
    print(
        f"\ncatch-up: table of {ROWS:,} rows {created:.2f} s, concurrent refresh {refreshed:.2f} s"
    )
    assert created < CATCH_UP_BOUND_S
    assert refreshed < CATCH_UP_BOUND_S


def test_the_replica_refuses_writes(standby: replicas.ReplicaServer) -> None:
    with database.connect(_settings(standby), autocommit=True) as conn:
        conn.execute("set default_transaction_read_only = off")
        for statement in (
            "create table intruder (id int)",
            "create schema intruder",
            "create role intruder",
        ):
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                conn.execute(statement)


def test_the_replica_runs_with_feedback_through_its_slot(
    primary: EmbeddedServer, standby: replicas.ReplicaServer
) -> None:
    with database.connect(_settings(standby), autocommit=True) as conn:
        shown = {
            name: conn.execute(sql.SQL("show {}").format(sql.Identifier(name))).fetchone()[0]
            for name in replicas.REPLICA_SETTINGS
        }
    assert shown == replicas.REPLICA_SETTINGS
    deadline = time.monotonic() + 10
    while _slot(_settings(primary), standby.slot) != (True, True):
        assert time.monotonic() < deadline, "the slot should hold the replica's oldest snapshot"
        time.sleep(0.1)


# -- readers on the replica while the primary refreshes and swaps -------------------------------


def _long_readers_under_changes(
    primary: database.ConnectionSettings, replica: database.ConnectionSettings, tag: str
) -> list[str]:
    """Errors of READERS repeatable-read readers of a materialized view on the replica, each
    holding its snapshot for READER_SLEEP_S, while the primary refreshes that view concurrently,
    swaps (drop + rename) a table they do not read, and vacuums."""
    names = {key: sql.Identifier(f"{key}_{tag}") for key in ("facts", "totals", "swapped")}
    with database.connect(primary, autocommit=True) as conn:
        conn.execute(
            sql.SQL(
                "create table {facts} as select id, id % {groups} as grp, 1 as amount"
                " from generate_series(1, {rows}) as id"
            ).format(**names, groups=sql.Literal(GROUPS), rows=sql.Literal(ROWS))
        )
        conn.execute(
            sql.SQL(
                "create materialized view {totals} as"
                " select grp, sum(amount) as total from {facts} group by grp"
            ).format(**names)
        )
        conn.execute(sql.SQL("create unique index on {totals} (grp)").format(**names))
        conn.execute(sql.SQL("create table {swapped} as select 1 as version").format(**names))
    replicas.wait_for_replay(primary, replica)

    errors: list[str] = []
    snapshots = threading.Barrier(READERS + 1, timeout=30)

    def read() -> None:
        try:
            with database.connect(replica) as conn:
                conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
                count = sql.SQL("select count(*), sum(total) from {totals}").format(**names)
                before = conn.execute(count).fetchone()
                snapshots.wait()
                after = conn.execute(
                    sql.SQL("select pg_sleep({sleep}), count(*), sum(total) from {totals}").format(
                        **names, sleep=sql.Literal(READER_SLEEP_S)
                    )
                ).fetchone()
                conn.commit()
                if after[1:] != before:
                    errors.append(f"the snapshot moved: {before} then {after[1:]}")
        except (psycopg.Error, threading.BrokenBarrierError) as error:
            errors.append(f"{type(error).__name__}: {replicas.first_line(str(error))}")

    readers = [threading.Thread(target=read) for _ in range(READERS)]
    for reader in readers:
        reader.start()
    snapshots.wait()
    deadline = time.monotonic() + 30
    with database.connect(replica, autocommit=True) as conn:
        sleeping = "select count(*) from pg_stat_activity where state = 'active' and query like %s"
        while conn.execute(sleeping, ("select pg_sleep%",)).fetchone()[0] < READERS:
            assert time.monotonic() < deadline, "the readers never started their long read"
            time.sleep(0.01)
    with database.connect(primary, autocommit=True) as conn:
        conn.execute(sql.SQL("update {facts} set amount = amount + 1").format(**names))
        conn.execute(sql.SQL("refresh materialized view concurrently {totals}").format(**names))
        swap = sql.Identifier(f"swapped_{tag}_next")
        conn.execute(sql.SQL("create table {} as select 2 as version").format(swap))
        with conn.transaction():
            conn.execute(sql.SQL("drop table {swapped}").format(**names))
            conn.execute(sql.SQL("alter table {} rename to {swapped}").format(swap, **names))
        conn.execute(sql.SQL("vacuum {facts}, {totals}, pg_catalog.pg_class").format(**names))
    replicas.wait_for_replay(primary, replica)
    for reader in readers:
        reader.join(timeout=60)
    with database.connect(replica) as conn:
        version = conn.execute(sql.SQL("select version from {swapped}").format(**names))
        assert version.fetchone() == (2,), "the swap should have reached the replica"
    return errors


def test_long_readers_survive_a_refresh_and_a_swap_on_the_primary(
    primary: EmbeddedServer, standby: replicas.ReplicaServer
) -> None:
    errors = _long_readers_under_changes(_settings(primary), _settings(standby), "kept")
    assert errors == []


def test_without_feedback_and_delay_the_same_readers_are_cancelled(tmp_path: Path) -> None:
    """The check above can fail: the same readers on a replica that neither reports its
    snapshots nor waits before replaying are cancelled by the vacuum's cleanup records. (A
    primary of its own: another replica's feedback would hold the vacuum back.)"""
    primary = EmbeddedServer(tmp_path / "home")
    bare = replicas.ReplicaServer(
        primary,
        name="no_feedback",
        settings={"hot_standby_feedback": "off", "max_standby_streaming_delay": "0"},
    )
    try:
        errors = _long_readers_under_changes(primary.start(), bare.start(), "cancelled")
    finally:
        bare.destroy()
        primary.destroy()
    assert errors
    assert all("conflict with recovery" in error for error in errors), errors


# -- replica lag as a Dagster check ------------------------------------------------------------


def _lag_check_result(manifest: dict, primary: EmbeddedServer) -> AssetCheckResult:
    """The replica-lag check with a 1 s warning and a 15 s error bound, run once."""
    check = build_replica_lag_check(manifest, [], warn_after_s=1.0, error_after_s=15.0)
    warehouse = WarehouseResource(database_url=_settings(primary).url)
    return check(build_asset_check_context(), warehouse=warehouse)


def test_replica_lag_is_a_check_that_warns_then_fails_past_the_sla(
    primary: EmbeddedServer,
    standby: replicas.ReplicaServer,
    cli_env: None,
    monkeypatch: pytest.MonkeyPatch,
    manifest: dict,
) -> None:
    assert _lag_check_result(manifest, primary).passed  # no replica: reads go to the primary
    own = _settings(standby)
    monkeypatch.setenv("VALUE_VIEW_REPLICA_HOST", own.host)
    monkeypatch.setenv("VALUE_VIEW_REPLICA_PORT", str(own.port))
    # The replica has the primary's logins: its superuser's password is in the same file.
    monkeypatch.setenv("PGPASSFILE", _settings(primary).passfile)
    with database.connect(_settings(primary), autocommit=True) as conn:
        conn.execute("create table if not exists lag_probe (at timestamptz)")
        conn.execute("insert into lag_probe values (now())")
    replicas.wait_for_replay(_settings(primary), own)
    fresh = _lag_check_result(manifest, primary)
    assert fresh.passed, fresh.description
    assert fresh.metadata["lag_s"].value < 1.0

    with database.connect(own, autocommit=True) as standby_conn:
        with database.connect(_settings(primary), autocommit=True) as conn:
            conn.execute("insert into lag_probe values (now())")
        replicas.wait_for_replay(_settings(primary), own)
        standby_conn.execute("select pg_wal_replay_pause()")
        paused = time.monotonic()
        try:
            with database.connect(_settings(primary), autocommit=True) as conn:
                conn.execute("insert into lag_probe values (now())")
            time.sleep(1.5)
            behind = _lag_check_result(manifest, primary)
            assert not behind.passed
            assert behind.severity == AssetCheckSeverity.WARN, behind.description
            assert "over 1 s" in behind.description
            time.sleep(max(0.0, 16.0 - (time.monotonic() - paused)))
            late = _lag_check_result(manifest, primary)
            assert not late.passed
            assert late.severity == AssetCheckSeverity.ERROR, late.description
            assert "past the freshness SLA" in late.description
        finally:
            standby_conn.execute("select pg_wal_replay_resume()")
    replicas.wait_for_replay(_settings(primary), own)
    assert _lag_check_result(manifest, primary).passed


def test_the_lag_check_errors_past_the_shortest_freshness_sla_by_default(manifest: dict) -> None:
    shortest = shortest_freshness_sla(manifest)
    assert shortest.total_seconds() > health.REPLICA_LAG_WARN_S
    check = build_replica_lag_check(manifest, [])
    (spec,) = check.check_specs
    assert spec.metadata["error_after_s"] == shortest.total_seconds()
