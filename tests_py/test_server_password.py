"""The embedded server asks for a password: every connection, TCP or unix socket, as any role, needs
the superuser's password from the checkout's password file (mode 0600); a data folder made when the
server trusted local connections is brought to the same standard by the next `db start`."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from orchestration.lib import database, passwords
from orchestration.lib import server as embedded
from orchestration.lib import settings as project_settings
from orchestration.tools import cli

pytestmark = pytest.mark.skipif(
    project_settings.external_settings() is not None, reason="an external server is configured"
)


def _refused(**params: object) -> str:
    """Connect (as postgres unless ``params`` say) with ``params``; the error when refused (the
    test fails if not)."""
    try:
        psycopg.connect(**{"dbname": "postgres", "user": "postgres", **params}).close()
    except psycopg.OperationalError as error:
        return str(error)
    pytest.fail(f"connected as postgres with {params}")


def _assert_asks_for_the_password(
    server: embedded.EmbeddedServer, settings: database.ConnectionSettings, tmp_path: Path
) -> None:
    no_passfile = tmp_path / "no.pgpass"
    no_passfile.write_text("")
    no_passfile.chmod(0o600)
    tcp = {"host": "127.0.0.1", "port": settings.port, "passfile": str(no_passfile)}
    assert "no password supplied" in _refused(**tcp)
    assert "password authentication failed" in _refused(**tcp, password="not-the-password")
    socket = {"host": str(server.socket_dir), "port": settings.port, "passfile": str(no_passfile)}
    assert "no password supplied" in _refused(**socket)
    # Another role's name is no way in either.
    assert "password authentication failed" in _refused(**tcp, user="value_view", password="x")
    info = server.passfile.stat()
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert info.st_uid == os.geteuid()
    with database.connect(settings.with_database("postgres")) as conn:
        methods = {
            row[0]
            for row in conn.execute(
                "select auth_method from pg_hba_file_rules where error is null"
            ).fetchall()
        }
        assert methods == {"scram-sha-256"}
        stored = conn.execute("select rolpassword from pg_authid where rolname = 'postgres'")
        assert stored.fetchone()[0].startswith("SCRAM-SHA-256$")


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[embedded.EmbeddedServer]:
    server = embedded.EmbeddedServer(home=tmp_path / "home" / ".value_view")
    try:
        yield server
    finally:
        server.destroy()


def test_a_new_server_asks_every_connection_for_the_password(
    fresh: embedded.EmbeddedServer, tmp_path: Path
) -> None:
    settings = fresh.start()
    assert settings.passfile == str(fresh.passfile)
    assert not settings.password
    _assert_asks_for_the_password(fresh, settings, tmp_path)
    # The password survives a restart and a stop/start: it is generated once.
    before = fresh.passfile.read_text()
    fresh.stop()
    assert fresh.start() == settings
    assert fresh.passfile.read_text() == before


def test_a_trusting_data_folder_is_upgraded_by_the_next_start(
    fresh: embedded.EmbeddedServer, tmp_path: Path
) -> None:
    """A data folder made before passwords (initdb --auth=trust), running: `start` sets a
    password, writes the password file and a strict pg_hba.conf, reloads, and keeps the data."""
    fresh.home.mkdir(parents=True)
    fresh.pgdata.mkdir()
    fresh._make_socket_dir()
    fresh._prepare_permissions()
    initdb = fresh._run(
        [
            str(fresh.bin_dir() / "initdb"),
            "-D",
            str(fresh.pgdata),
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "-U",
            "postgres",
        ]
    )
    assert initdb.returncode == 0, initdb.stderr
    port = database.free_port()
    fresh.state_file.write_text(f'{{"port": {port}}}\n')
    started = fresh._run(fresh._pg_ctl_serve("start", port))
    assert started.returncode == 0, started.stderr
    assert not fresh.passfile.exists()
    # Today's folder: anyone on the machine connects as postgres, no password asked.
    with psycopg.connect(
        host="127.0.0.1", port=port, user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        conn.execute("create table kept_across_the_upgrade (id int)")

    settings = fresh.start()
    assert settings.port == port
    _assert_asks_for_the_password(fresh, settings, tmp_path)
    with database.connect(settings.with_database("postgres")) as conn:
        assert conn.execute("select to_regclass('kept_across_the_upgrade')").fetchone()[0]
    assert passwords.hba_is_strict((fresh.pgdata / "pg_hba.conf").read_text())


def test_value_view_env_gives_the_password_file_not_the_password(
    server: database.ConnectionSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    """`eval "$(value-view env)"` lets psql in through PGPASSFILE; without it psql is refused."""
    assert cli.main(["env"]) == 0
    exports = capsys.readouterr().out
    passfile = project_settings.embedded_server().passfile
    assert f"export PGPASSFILE={passfile}" in exports
    assert "PGPASSWORD" not in exports
    assert passfile.read_text().split(":")[-1].strip() not in exports
    psql = database.client_path("psql", embedded.EmbeddedServer.bin_dir())
    clean = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    for unset, expected in (("", 0), ("unset PGPASSFILE", 2)):
        script = f'{exports}\n{unset}\n"{psql}" -XAtw -c "select 40 + 2"'
        result = subprocess.run(
            ["bash", "-c", script], capture_output=True, text=True, env=clean, check=False
        )
        assert result.returncode == expected, result.stderr
        if expected == 0:
            assert result.stdout.strip() == "42"
        else:
            assert "no password supplied" in result.stderr


def test_a_password_file_others_can_read_is_refused(tmp_path: Path) -> None:
    passfile = tmp_path / ".pgpass"
    passwords.write_passfile(passfile, "postgres", "secret")
    assert stat.S_IMODE(passfile.stat().st_mode) == 0o600
    assert passwords.read_password(passfile, "postgres") == "secret"
    passfile.chmod(0o644)
    with pytest.raises(database.SettingsError, match="readable by others"):
        passwords.read_password(passfile, "postgres")
