"""The server resolution rules, the embedded server's lifecycle and `value-view env`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from orchestration.lib import database
from orchestration.lib import server as embedded
from orchestration.lib import settings as project_settings
from orchestration.tools import cli


def test_url_setting_wins_over_pg_settings() -> None:
    env = {
        "VALUE_VIEW_DATABASE_URL": "postgresql://bi:s3cret@db.internal:6543/analytics",
        "PGHOST": "elsewhere",
    }
    settings = project_settings.external_settings(env)
    assert settings is not None
    assert (settings.host, settings.port, settings.user, settings.password, settings.dbname) == (
        "db.internal",
        6543,
        "bi",
        "s3cret",
        "analytics",
    )
    assert settings.source == "url"


def test_pg_settings_select_an_external_server() -> None:
    settings = project_settings.external_settings({"PGHOST": "10.1.2.3", "PGPORT": "5433"})
    assert settings is not None
    assert (settings.host, settings.port, settings.dbname) == ("10.1.2.3", 5433, "value_view")
    assert settings.source == "pg-env"


def test_no_settings_means_embedded() -> None:
    assert project_settings.external_settings({"HOME": "/root"}) is None


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"PGPORT": "fifty"}, "PGPORT"),
        ({"PGPORT": "70000"}, "PGPORT"),
        ({"PGHOST": " "}, "PGHOST"),
        ({"VALUE_VIEW_DATABASE_URL": "mysql://x@y/z"}, "VALUE_VIEW_DATABASE_URL"),
        ({"VALUE_VIEW_DATABASE_URL": "postgresql://u@h:99999/d"}, "VALUE_VIEW_DATABASE_URL"),
    ],
)
def test_wrong_settings_name_the_setting(env: dict[str, str], named: str) -> None:
    with pytest.raises(database.SettingsError, match=named):
        project_settings.external_settings(env)


def test_wrong_setting_is_a_one_line_cli_error() -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    env.pop("VALUE_VIEW_DATABASE_URL", None)
    env["PGPORT"] = "not-a-port"
    result = subprocess.run(
        [sys.executable, "-m", "orchestration.tools.cli", "env"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "PGPORT" in lines[0]


def test_socket_directory_stays_short_for_a_deep_checkout(tmp_path: Path) -> None:
    deep = tmp_path.joinpath(*(["a_rather_long_directory_name"] * 8))
    server = embedded.EmbeddedServer(home=deep / ".value_view")
    socket_file = server.socket_dir / ".s.PGSQL.65535"
    assert len(str(deep)) > embedded.SOCKET_PATH_LIMIT
    assert len(str(socket_file).encode()) <= embedded.SOCKET_PATH_LIMIT


@pytest.mark.skipif(
    project_settings.external_settings() is not None, reason="an external server is configured"
)
def test_embedded_server_lifecycle(tmp_path: Path) -> None:
    """Start, reuse, report and stop a server whose data lives in a fresh home."""
    home = tmp_path.joinpath(*(["deeply_nested_checkout_folder"] * 5)) / ".value_view"
    server = embedded.EmbeddedServer(home=home)
    try:
        first = server.start()
        again = server.start()
        assert again.port == first.port
        assert server.status() == first
        with database.connect(first) as conn:
            assert conn.execute("select current_database()").fetchone() == ("value_view",)
        socket_files = list(server.socket_dir.glob(".s.PGSQL.*"))
        assert socket_files, "the server listens on a unix socket too"
        assert all(len(str(path).encode()) <= embedded.SOCKET_PATH_LIMIT for path in socket_files)
        # A restart keeps the port and ends the sessions open before it.
        session = database.connect(first, autocommit=True)
        started = session.execute("select pg_postmaster_start_time()").fetchone()[0]
        assert server.restart("fast") == first
        with pytest.raises(psycopg.OperationalError):
            session.execute("select 1")
        session.close()
        with database.connect(first) as conn:
            assert conn.execute("select pg_postmaster_start_time()").fetchone()[0] > started
        with pytest.raises(database.SettingsError, match="restart mode"):
            server.restart("abrupt")
        assert server.stop() is True
        assert server.status() is None
        assert server.stop() is False
    finally:
        server.destroy()


def test_env_exports_let_psql_connect(server: database.ConnectionSettings, capsys) -> None:
    """`eval "$(value-view env)"` gives a plain psql everything it needs."""
    assert cli.main(["env"]) == 0
    exports = capsys.readouterr().out
    assert "export PGHOST=" in exports
    assert "export DBT_PROFILES_DIR=" in exports
    psql = database.client_path("psql", embedded.EmbeddedServer.bin_dir())
    script = f'{exports}\n"{psql}" -XAtc "select 40 + 2"'
    clean = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    result = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, env=clean, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "42"


def test_db_url_and_status(server: database.ConnectionSettings, capsys) -> None:
    assert cli.main(["db", "url"]) == 0
    url = capsys.readouterr().out.strip()
    assert url.startswith("postgresql://")
    assert project_settings.settings_from_url(url).port == server.port
    assert cli.main(["db", "status"]) == 0
