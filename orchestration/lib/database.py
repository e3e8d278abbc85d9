"""Connections to a PostgreSQL server, whichever server it is: the settings that name it, and the
few operations every part of the project needs on it (connect, wait, create or drop a database).

Which server is in use is decided in ``orchestration.lib.settings``.
"""

from __future__ import annotations

import shutil
import socket
import time
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql

DEFAULT_DATABASE = "value_view"


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
    # A libpq password file (``PGPASSFILE``): where the password comes from when ``password`` is
    # empty (the embedded server keeps its superuser's password in one, mode 0600).
    passfile: str = ""

    def with_database(self, dbname: str) -> ConnectionSettings:
        return replace(self, dbname=dbname)

    def with_login(self, user: str, password: str = "") -> ConnectionSettings:
        return replace(self, user=user, password=password)

    @property
    def url(self) -> str:
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        url = f"postgresql://{auth}@{self.host}:{self.port}/{quote(self.dbname, safe='')}"
        if self.passfile and not self.password:
            url += "?passfile=" + quote(self.passfile, safe="/")
        return url

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
        elif self.passfile:
            parts["passfile"] = self.passfile
        return " ".join(f"{key}='{_escape(value)}'" for key, value in parts.items())

    def env(self) -> dict[str, str]:
        """The libpq variables that point a plain psql, dbt (profiles.yml) or BI tool here."""
        values = {
            "PGHOST": self.host,
            "PGPORT": str(self.port),
            "PGUSER": self.user,
            "PGDATABASE": self.dbname,
        }
        if self.password:
            values["PGPASSWORD"] = self.password
        elif self.passfile:
            values["PGPASSFILE"] = self.passfile
        return values


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def connect(settings: ConnectionSettings, **kwargs: object) -> psycopg.Connection:
    return psycopg.connect(settings.conninfo, **kwargs)


def wait_until_ready(settings: ConnectionSettings, timeout: float = 30.0) -> None:
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
    wait_until_ready(settings)
    with connect(settings.with_database("postgres"), autocommit=True) as conn:
        exists = conn.execute(
            "select 1 from pg_database where datname = %s", (settings.dbname,)
        ).fetchone()
        if not exists:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(settings.dbname)))


def drop_database(settings: ConnectionSettings) -> None:
    with connect(settings.with_database("postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(
                sql.Identifier(settings.dbname)
            )
        )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def client_path(program: str, bin_dir: Path) -> str:
    """A PostgreSQL client program (psql, pgbench, pg_basebackup) from ``bin_dir``, the embedded
    server's binaries, falling back to the one on PATH."""
    candidate = bin_dir / program
    return str(candidate) if candidate.exists() else (shutil.which(program) or program)
