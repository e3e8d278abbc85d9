"""Operator commands are safe: the server's socket folder cannot be planted, an orphaned server is
told from a stopped one, `db stop` stops whatever PG* says, `demo-data --reset` never takes the
marts away, and every error is one line naming the problem."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from orchestration.lib import database, dbt_runner
from orchestration.lib import server as embedded
from orchestration.lib import settings as project_settings
from orchestration.tools import demo_data

AS_OF = dt.date(2026, 1, 15)
PERSONA_IDS = "select array_agg(id order by id) from {}.personas"

embedded_only = pytest.mark.skipif(
    project_settings.external_settings() is not None, reason="an external server is configured"
)


def value_view(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI in a process of its own, with no PG*/VALUE_VIEW_* settings unless ``env`` gives
    them."""
    clean = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PG", "VALUE_VIEW_", "DBT_"))
    }
    return subprocess.run(
        [sys.executable, "-m", "orchestration.tools.cli", *args],
        capture_output=True,
        text=True,
        env={**clean, **(env or {})},
        cwd=project_settings.PROJECT_ROOT,
        check=False,
        timeout=600,
    )


def one_line_error(result: subprocess.CompletedProcess[str], *named: str) -> str:
    """The single stderr line of a failed command, which names each of ``named``."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for name in named:
        assert name in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    """A checkout state folder of its own (VALUE_VIEW_HOME), its server destroyed afterwards."""
    folder = tmp_path / ".value_view"
    try:
        yield folder
    finally:
        server = embedded.EmbeddedServer(folder)
        server.stop_orphan()
        server.destroy()
        shutil.rmtree(server.socket_dir, ignore_errors=True)


# -- the socket folder ---------------------------------------------------------------------


@embedded_only
def test_a_symlink_at_the_socket_folder_is_refused(home: Path, tmp_path: Path) -> None:
    server = embedded.EmbeddedServer(home)
    target = tmp_path / "victim"
    target.mkdir(mode=0o755)
    target.chmod(0o755)
    server.socket_dir.symlink_to(target)
    try:
        result = value_view("db", "start", env={"VALUE_VIEW_HOME": str(home)})
        one_line_error(result, str(server.socket_dir), "symlink")
        assert oct(target.stat().st_mode & 0o777) == oct(0o755)
        assert not (home / "pgdata" / "PG_VERSION").exists()
    finally:
        server.socket_dir.unlink()


@embedded_only
def test_a_socket_folder_of_another_user_is_refused(home: Path) -> None:
    server = embedded.EmbeddedServer(home)
    server.socket_dir.mkdir(mode=0o777)
    os.chown(server.socket_dir, 65534, 65534)
    result = value_view("db", "start", env={"VALUE_VIEW_HOME": str(home)})
    one_line_error(result, str(server.socket_dir), "another user")
    assert server.socket_dir.stat().st_uid == 65534


@embedded_only
def test_the_socket_folder_is_private(home: Path) -> None:
    server = embedded.EmbeddedServer(home)
    server.socket_dir.mkdir(mode=0o777)
    server.socket_dir.chmod(0o777)
    server.start()
    info = server.socket_dir.lstat()
    assert oct(info.st_mode & 0o777) == oct(0o700)
    assert info.st_uid in server._socket_owners()


# -- orphaned servers and `db stop` --------------------------------------------------------


@embedded_only
def test_an_orphaned_server_is_reported_refused_and_stopped(home: Path) -> None:
    env = {"VALUE_VIEW_HOME": str(home)}
    server = embedded.EmbeddedServer(home)
    port = server.start().port
    shutil.rmtree(home)
    assert database.port_in_use(port)

    status = value_view("db", "status", env=env)
    assert status.returncode == 4, status.stdout + status.stderr
    assert "orphaned" in status.stdout and f"127.0.0.1:{port}" in status.stdout

    one_line_error(value_view("db", "start", env=env), f"127.0.0.1:{port}", "db stop")
    assert not (home / "pgdata" / "PG_VERSION").exists()

    stop = value_view("db", "stop", env=env)
    assert stop.returncode == 0, stop.stderr
    assert "orphaned embedded server stopped" in stop.stdout
    assert not database.port_in_use(port)
    assert value_view("db", "status", env=env).returncode == 3


@embedded_only
@pytest.mark.parametrize("pg_settings", ["from value-view env", "another server"])
def test_db_stop_stops_the_embedded_server_whatever_pg_settings_say(
    home: Path, pg_settings: str
) -> None:
    server = embedded.EmbeddedServer(home)
    settings = server.start()
    env = {"VALUE_VIEW_HOME": str(home)}
    if pg_settings == "another server":
        env.update({"PGHOST": "db.invalid", "PGPORT": "5433", "PGUSER": "someone"})
    else:
        exported = value_view("env", env=env)
        assert exported.returncode == 0, exported.stderr
        for line in exported.stdout.splitlines():
            key, _, value = line.removeprefix("export ").partition("=")
            env[key] = value.strip("'")
        assert env["PGPORT"] == str(settings.port)
        status = value_view("db", "status", env=env)
        assert status.returncode == 0 and "embedded server running" in status.stdout
    result = value_view("db", "stop", env=env)
    assert result.returncode == 0, result.stderr
    assert "embedded server stopped" in result.stdout
    assert server.status() is None
    assert not database.port_in_use(settings.port)


# -- one-line errors -----------------------------------------------------------------------


def test_demo_data_against_an_unreachable_server_is_one_line() -> None:
    port = database.free_port()
    url = f"postgresql://postgres@127.0.0.1:{port}/value_view"
    result = value_view("demo-data", env={"VALUE_VIEW_DATABASE_URL": url})
    one_line_error(result, "127.0.0.1", f"port {port}", "Connection refused")


@pytest.mark.parametrize("as_of", ["0001-01-01", "9999-12-31"])
def test_an_out_of_range_as_of_is_one_line(as_of: str) -> None:
    port = database.free_port()
    url = f"postgresql://postgres@127.0.0.1:{port}/value_view"
    result = value_view("demo-data", "--as-of", as_of, env={"VALUE_VIEW_DATABASE_URL": url})
    one_line_error(result, "--as-of", as_of)


@embedded_only
@pytest.mark.parametrize("contents", ["", "{not json", "[1, 2]"])
def test_an_empty_or_corrupt_server_json_is_one_line(home: Path, contents: str) -> None:
    home.mkdir(parents=True)
    (home / "server.json").write_text(contents)
    (home / "pgdata").mkdir()
    (home / "pgdata" / "PG_VERSION").write_text("16\n")
    for command in (["db", "start"], ["demo-data", "--if-empty"]):
        result = value_view(*command, env={"VALUE_VIEW_HOME": str(home)})
        one_line_error(result, "server.json")


def test_a_file_where_dbt_writes_its_logs_is_one_line(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.write_text("not a folder\n")
    port = database.free_port()
    env = {
        "VALUE_VIEW_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{port}/value_view",
        "DBT_LOG_PATH": str(logs),
    }
    one_line_error(value_view("dbt", "debug", env=env), str(logs), "folder")


# -- demo-data --reset on a built warehouse ------------------------------------------------

BUILT_SQL = """
create schema {marts};
create view {marts}.stg_tenants as select id, slug from {source}.tenants;
create view {marts}.stg_personas as select id, tenant_id from {source}.personas;
create materialized view {marts}.mv_personas_per_tenant as
    select tenants.id as tenant_id, count(personas.id) as personas
    from {marts}.stg_tenants as tenants
    left join {marts}.stg_personas as personas on personas.tenant_id = tenants.id
    group by tenants.id;
"""


def _relations(conn: psycopg.Connection, schema: str) -> list[str]:
    return [
        row[0]
        for row in conn.execute(
            "select relname from pg_class where relnamespace = %s::regnamespace"
            " and relkind in ('v', 'm', 'r') order by 1",
            (schema,),
        )
    ]


def test_reset_refuses_while_marts_are_built_on_the_sources_and_reloads_in_place(
    warehouse: database.ConnectionSettings,
) -> None:
    source, marts = "vital_reset", "marts_on_reset"
    first = demo_data.load_demo_data(
        warehouse, scale=1, seed=1, schema=source, as_of=AS_OF, progress=False
    )
    with database.connect(warehouse, autocommit=True) as conn:
        conn.execute(BUILT_SQL.format(marts=marts, source=source))
        built = _relations(conn, marts)
        personas_before = conn.execute(PERSONA_IDS.format(source)).fetchone()[0]
    env = {"VALUE_VIEW_DATABASE_URL": warehouse.url}
    if warehouse.password:
        env["PGPASSWORD"] = warehouse.password

    refused = value_view("demo-data", "--schema", source, "--reset", "--seed", "2", env=env)
    one_line_error(refused, "2 relations", source, "--rebuild")
    with database.connect(warehouse, autocommit=True) as conn:
        assert _relations(conn, marts) == built
        assert demo_data.table_counts(warehouse, source) == first

    # In place: every relation built on the sources stays, and reads the new data.
    demo_data.load_demo_data(
        warehouse,
        scale=1,
        seed=2,
        schema=source,
        reset=True,
        rebuild=True,
        as_of=AS_OF,
        progress=False,
    )
    with database.connect(warehouse, autocommit=True) as conn:
        assert _relations(conn, marts) == built
        assert conn.execute(PERSONA_IDS.format(source)).fetchone()[0] != personas_before
        conn.execute(f"refresh materialized view {marts}.mv_personas_per_tenant")
        total = conn.execute(f"select sum(personas) from {marts}.mv_personas_per_tenant")
        assert total.fetchone()[0] == demo_data.table_counts(warehouse, source)["personas"]
        conn.execute(f"drop schema {marts} cascade")
        conn.execute(f"drop schema {source} cascade")


def test_rebuild_reloads_and_rebuilds_every_model(
    warehouse: database.ConnectionSettings, tmp_path: Path
) -> None:
    """`demo-data --reset --rebuild` on a warehouse dbt built: no relation of the marts' schema
    ever goes missing, and the marts show the new data."""
    settings = warehouse.with_database(f"{warehouse.dbname}_rebuild")
    database.ensure_database(settings)
    try:
        demo_data.load_demo_data(settings, scale=1, seed=1, as_of=AS_OF, progress=False)
        env = {**os.environ, **settings.env()}
        dbt_runner.run_dbt(["seed", "--quiet"], target_path=tmp_path / "dbt", env=env)
        dbt_runner.run_dbt(["run", "--quiet"], target_path=tmp_path / "dbt", env=env)
        with database.connect(settings, autocommit=True) as conn:
            built = _relations(conn, project_settings.MARTS_SCHEMA)
            personas_before = conn.execute(
                "select array_agg(persona_id order by persona_id)"
                " from value_view.mv_value_view_persona_dashboard"
            ).fetchone()[0]
        cli_env = {"VALUE_VIEW_DATABASE_URL": settings.url}
        if settings.password:
            cli_env["PGPASSWORD"] = settings.password
        one_line_error(value_view("demo-data", "--reset", env=cli_env), "--rebuild")
        result = value_view("demo-data", "--rebuild", "--seed", "2", "--quiet", env=cli_env)
        assert result.returncode == 0, result.stderr[-2000:]
        with database.connect(settings, autocommit=True) as conn:
            assert _relations(conn, project_settings.MARTS_SCHEMA) == built
            personas_after = conn.execute(
                "select array_agg(persona_id order by persona_id)"
                " from value_view.mv_value_view_persona_dashboard"
            ).fetchone()[0]
            sources = conn.execute(PERSONA_IDS.format("vital")).fetchone()[0]
        assert personas_after != personas_before
        assert set(personas_after) <= set(sources)
    finally:
        database.drop_database(settings)
