"""PgBouncer in front of the BI reads: transaction pooling, SCRAM for every BI login.

``value-view pooler start`` runs PgBouncer (the Debian package ``pgbouncer``) on 127.0.0.1 in
front of the replica, or of the primary when no replica runs. Its files live in
``<home>/pooler/``: ``pgbouncer.ini``, ``userlist.txt`` (mode 0600, rewritten at every start),
``pgbouncer.log``, ``pgbouncer.pid`` and ``pooler.json``.

Authentication. Clients authenticate with SCRAM-SHA-256 against the verifiers the server holds:
PgBouncer logs in as ``value_view_pooler_lookup`` and calls ``value_view_pooler.lookup(login)``,
a SECURITY DEFINER function owned by a superuser that returns the verifier of a login that may
read BI relations (a member of ``value_view_reader`` or ``value_view_tenant_reader``, not a
superuser) and nothing for any other role, so no other role can log in through the pooler.
Only the lookup role may call it. Its password is random, set at every start (as a SCRAM
verifier) and written only to ``userlist.txt``; so is the password of the pooler-only
``value_view_pooler_stats`` user that reads ``SHOW POOLS`` on the admin console. The function is
created on the primary and reaches a replica by replication.

Tenant isolation. PgBouncer keeps one pool per (database, login): a server connection opened for
one login only ever serves that login's clients, so ``session_user`` (the key of every tenant
view) and whatever a client leaves set on its server connection stay within that login.
Transaction pooling does not keep session state between one client's transactions: BI tools
must not rely on ``SET`` outside a transaction, and must not use server-side prepared
statements (PgBouncer 1.18 does not track them): JDBC ``prepareThreshold=0``, psycopg
``prepare_threshold=None``.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from psycopg import sql

from orchestration.lib import tenancy
from orchestration.lib.database import ConnectionSettings, connect, free_port, port_in_use
from orchestration.lib.programs import check_port, first_line, require_program
from orchestration.lib.replica import wait_for_replay
from orchestration.lib.server import EmbeddedServer

POOLER_FOLDER = "pooler"
LOOKUP_SCHEMA = "value_view_pooler"
LOOKUP_FUNCTION = "lookup"
LOOKUP_ROLE = "value_view_pooler_lookup"
STATS_USER = "value_view_pooler_stats"
ADMIN_DATABASE = "pgbouncer"
# Server connections per (database, login) pool. Each BI query holds one for its transaction
# only, so twenty serve hundreds of dashboard users (most of them idle between queries).
POOL_SIZE = 20
# Server connections of all logins together: well under the server's max_connections (300).
MAX_DB_CONNECTIONS = 60
MAX_CLIENT_CONNECTIONS = 2000
# Startup parameters BI drivers send that PgBouncer cannot keep per server connection: JDBC sends
# extra_float_digits (and search_path for currentSchema), libpq sends options from PGOPTIONS.
# Ignored, not passed on: a tenant login keeps the search_path its role sets.
IGNORED_STARTUP_PARAMETERS = ("extra_float_digits", "search_path", "options")
START_TIMEOUT_S = 15.0
LOG_WARNING, LOG_FATAL = " WARNING ", " FATAL "
STOP_TIMEOUT_S = 15.0
INSTALL_HINT = "install the Debian package pgbouncer: `make pgbouncer`"
# The columns of SHOW POOLS that count server connections, in every state.
SERVER_STATES = ("sv_active", "sv_idle", "sv_used", "sv_tested", "sv_login")


class PoolerError(RuntimeError):
    """The pooler cannot be set up or run; the message names what is wrong in one line."""


@dataclass(frozen=True)
class PoolerStatus:
    """A running pooler: where BI tools connect (``endpoint``, with no login), its process, and
    the server behind it (``host:port/database``)."""

    endpoint: ConnectionSettings
    pid: int
    backend: str

    @property
    def address(self) -> str:
        return f"{self.endpoint.host}:{self.endpoint.port}/{self.endpoint.dbname}"

    def settings(self, login: str, password: str = "") -> ConnectionSettings:
        return self.endpoint.with_login(login, password)


@dataclass(frozen=True)
class BiLogin:
    login: str
    reads: str


# -- the lookup objects on the primary --------------------------------------------------------

LOOKUP_SQL = """
create schema if not exists {schema};
revoke all on schema {schema} from public;
grant usage on schema {schema} to {role};
create or replace function {schema}.{function}(login text)
returns table (username text, password text)
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $lookup$
    select
        roles.rolname::text,
        case when roles.rolvaliduntil < now() then null else roles.rolpassword end
    from pg_catalog.pg_authid as roles
    where roles.rolname = login
        and roles.rolcanlogin
        and not roles.rolsuper
        and exists (
            select from pg_catalog.pg_roles as bi_groups
            where bi_groups.rolname in ({groups})
                and pg_catalog.pg_has_role(roles.oid, bi_groups.oid, 'member')
        )
$lookup$;
revoke all on function {schema}.{function}(text) from public;
grant execute on function {schema}.{function}(text) to {role};
"""


def install_lookup(primary: ConnectionSettings) -> str:
    """Create (or refresh) the lookup role, schema and function in ``primary``'s database and
    give the role a new random password; returns that password."""
    password = secrets.token_urlsafe(24)
    role = sql.Identifier(LOOKUP_ROLE)
    with connect(primary, autocommit=True) as conn:
        is_super = conn.execute(
            "select rolsuper from pg_catalog.pg_roles where rolname = current_user"
        ).fetchone()[0]
        if not is_super:
            raise PoolerError(
                f"the pooler's password lookup is owned by a superuser; {primary.user} on "
                f"{primary.host}:{primary.port} is not one"
            )
        verifier = conn.pgconn.encrypt_password(
            password.encode(), LOOKUP_ROLE.encode(), b"scram-sha-256"
        ).decode()
        with conn.transaction():
            exists = conn.execute(
                "select 1 from pg_catalog.pg_roles where rolname = %s", (LOOKUP_ROLE,)
            ).fetchone()
            if not exists:
                conn.execute(sql.SQL("create role {}").format(role))
            conn.execute(
                sql.SQL(
                    "alter role {} login nosuperuser nocreatedb nocreaterole noinherit"
                    " noreplication nobypassrls password {}"
                ).format(role, sql.Literal(verifier))
            )
            conn.execute(
                sql.SQL(LOOKUP_SQL).format(
                    schema=sql.Identifier(LOOKUP_SCHEMA),
                    function=sql.Identifier(LOOKUP_FUNCTION),
                    role=role,
                    groups=sql.SQL(", ").join(
                        sql.Literal(group)
                        for group in (tenancy.READER_ROLE, tenancy.TENANT_READER_ROLE)
                    ),
                )
            )
    return password


def bi_logins(primary: ConnectionSettings) -> list[BiLogin]:
    """The logins a BI tool may use: value_view_reader's members (every tenant) and the mapped
    tenant logins (one tenant each)."""
    with connect(primary, autocommit=True) as conn:
        readers = conn.execute(
            "select roles.rolname::text from pg_catalog.pg_roles as roles"
            " inner join pg_catalog.pg_roles as readers on readers.rolname = %s"
            " where roles.rolcanlogin and not roles.rolsuper"
            " and pg_catalog.pg_has_role(roles.oid, readers.oid, 'member')"
            " order by 1",
            (tenancy.READER_ROLE,),
        ).fetchall()
    logins = [BiLogin(name, f"every tenant ({tenancy.BI_SCHEMA})") for (name,) in readers]
    for login in tenancy.list_logins(primary):
        name = f" ({login.tenant_name})" if login.tenant_name else ""
        logins.append(BiLogin(login.login, f"tenant {login.tenant_id}{name}"))
    return logins


def bi_environment(
    primary: ConnectionSettings, replica: ConnectionSettings | None, pooler: PoolerStatus | None
) -> list[str]:
    """``export`` lines and comments that point a BI tool at the pooler when it runs, else the
    replica, else the primary; the logins it may use (their passwords come from an admin)."""
    if pooler is not None:
        target = pooler.endpoint
        via = f"PgBouncer (transaction pooling, scram-sha-256) in front of {pooler.backend}"
    elif replica is not None:
        target, via = replica, "the replica (no pooler runs: `value-view pooler start`)"
    else:
        target, via = primary, "the primary (no replica or pooler runs)"
    lines = [
        f"# BI connection: {via}",
        f"export PGHOST={target.host}",
        f"export PGPORT={target.port}",
        f"export PGDATABASE={target.dbname}",
    ]
    if pooler is not None:
        lines.append(
            "# no server-side prepared statements through the pooler:"
            " JDBC prepareThreshold=0, psycopg prepare_threshold=None"
        )
    logins = bi_logins(primary)
    lines.append("# logins (PGUSER; an admin gives each its password):")
    lines += [f"#   {login.login}: {login.reads}" for login in logins] or [
        "#   none yet: `value-view tenant-login add <login> --tenant <uuid> --password-env VAR`"
    ]
    return lines


# -- PgBouncer -------------------------------------------------------------------------------


def _as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


class Pooler:
    """The PgBouncer of a checkout, with its files in ``<home>/pooler``."""

    program = "pgbouncer"
    bin_dir = Path("/usr/sbin")
    host = "127.0.0.1"

    def __init__(self, home: Path) -> None:
        self.folder = home / POOLER_FOLDER
        self.ini = self.folder / "pgbouncer.ini"
        self.auth_file = self.folder / "userlist.txt"
        self.log = self.folder / "pgbouncer.log"
        self.pidfile = self.folder / "pgbouncer.pid"
        self.state_file = self.folder / "pooler.json"

    # -- state ---------------------------------------------------------------------------
    def _state(self) -> dict:
        return json.loads(self.state_file.read_text()) if self.state_file.exists() else {}

    def _pid(self) -> int | None:
        """The pid of the running PgBouncer, or None (no pid file, or a stale one)."""
        try:
            pid = int(self.pidfile.read_text().strip())
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, ValueError, IndexError):
            return None
        return pid if comm == self.program and state not in ("Z", "X") else None

    def status(self) -> PoolerStatus | None:
        pid = self._pid()
        state = self._state()
        if pid is None or "port" not in state:
            return None
        endpoint = ConnectionSettings(self.host, state["port"], "", "", state["dbname"], "pooler")
        return PoolerStatus(endpoint, pid, state["backend"])

    def _password(self, user: str) -> str:
        for line in self.auth_file.read_text().splitlines():
            name, _, rest = line.partition(" ")
            if name.strip('"') == user:
                return rest.strip().strip('"')
        raise PoolerError(f"{self.auth_file} has no entry for {user}")

    def show(self, what: str) -> list[dict[str, str]]:
        """``SHOW <what>`` on the running pooler's admin console (``POOLS``, ``DATABASES``...)."""
        status = self.status()
        if status is None:
            raise PoolerError("the pooler is not running: run `value-view pooler start`")
        admin = status.settings(STATS_USER, self._password(STATS_USER))
        with connect(admin.with_database(ADMIN_DATABASE), autocommit=True) as conn:
            # The admin console speaks the simple query protocol only.
            result = conn.pgconn.exec_(f"SHOW {what}".encode())
            names = [result.fname(column).decode() for column in range(result.nfields)]
            return [
                {
                    name: (result.get_value(row, column) or b"").decode()
                    for column, name in enumerate(names)
                }
                for row in range(result.ntuples)
            ]

    def _serves(self, backend: ConnectionSettings) -> bool:
        return any(
            row["name"] == backend.dbname
            and row["host"] == backend.host
            and row["port"] == str(backend.port)
            for row in self.show("DATABASES")
        )

    # -- configuration -------------------------------------------------------------------
    def _ini(self, backend: ConnectionSettings, port: int) -> str:
        settings = {
            "listen_addr": self.host,
            "listen_port": port,
            "unix_socket_dir": "",
            # PgBouncer refuses to run as root: it switches to the embedded server's user.
            **({"user": EmbeddedServer.system_user} if _as_root() else {}),
            "pidfile": self.pidfile,
            "logfile": self.log,
            "auth_type": "scram-sha-256",
            "auth_file": self.auth_file,
            "auth_user": LOOKUP_ROLE,
            "auth_query": f"select username, password from {LOOKUP_SCHEMA}.{LOOKUP_FUNCTION}($1)",
            "stats_users": STATS_USER,
            "pool_mode": "transaction",
            "default_pool_size": POOL_SIZE,
            "min_pool_size": 0,
            "reserve_pool_size": 0,
            "max_db_connections": MAX_DB_CONNECTIONS,
            "max_client_conn": MAX_CLIENT_CONNECTIONS,
            # Run only in session pooling (server_reset_query_always = 0); a transaction-pooled
            # server connection goes back to the pool of the same login between transactions.
            "server_reset_query": "DISCARD ALL",
            "server_reset_query_always": 0,
            "ignore_startup_parameters": ",".join(IGNORED_STARTUP_PARAMETERS),
        }
        database = (
            f"{backend.dbname} = host={backend.host} port={backend.port} dbname={backend.dbname}"
        )
        return "\n".join(
            [
                "; value-view pooler: written by `value-view pooler start`",
                "[databases]",
                database,
                "",
                "[pgbouncer]",
                *(f"{key} = {value}" for key, value in settings.items()),
                "",
            ]
        )

    def _write(self, path: Path, text: str, mode: int) -> None:
        path.write_text(text)
        path.chmod(mode)
        self._own(path)

    def _own(self, path: Path) -> None:
        if _as_root():
            owner = pwd.getpwnam(EmbeddedServer.system_user)
            os.chown(path, owner.pw_uid, owner.pw_gid)

    # -- lifecycle -----------------------------------------------------------------------
    def start(
        self,
        primary: ConnectionSettings,
        backend: ConnectionSettings | None = None,
        port: int | None = None,
    ) -> PoolerStatus:
        """Start (or reuse) PgBouncer in front of ``backend`` (default: the primary) for its
        database. A running pooler is pointed at ``backend`` again (a reload) when it moved."""
        backend = backend or primary
        backend_name = f"{backend.host}:{backend.port}/{backend.dbname}"
        running = self.status()
        if running is not None:
            running_port = running.endpoint.port
            if port is not None and port != running_port:
                raise PoolerError(
                    f"the pooler already runs on port {running_port}; stop it to move it to {port}"
                )
            if running.backend != backend_name:
                self._write(self.ini, self._ini(backend, running_port), 0o600)
                self._save(running_port, backend, backend_name)
                os.kill(running.pid, signal.SIGHUP)
                deadline = time.monotonic() + START_TIMEOUT_S
                while not self._serves(backend):
                    if time.monotonic() > deadline:
                        raise PoolerError(f"pgbouncer did not reload {self.ini}; see {self.log}")
                    time.sleep(0.05)
            return self.status() or running
        binary = require_program(
            self.program, self.bin_dir, install_hint=INSTALL_HINT, error=PoolerError
        )
        if port is not None:
            check_port(port)
        else:
            port = self._state().get("port")
            if not port or port_in_use(int(port)):
                port = free_port()
        lookup_password = install_lookup(primary.with_database(backend.dbname))
        if backend != primary:
            wait_for_replay(primary, backend)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o700)
        self._own(self.folder)
        users = {LOOKUP_ROLE: lookup_password, STATS_USER: secrets.token_urlsafe(24)}
        self._write(
            self.auth_file,
            "".join(f'"{user}" "{password}"\n' for user, password in users.items()),
            0o600,
        )
        self._write(self.ini, self._ini(backend, int(port)), 0o600)
        self.log.touch()
        self._own(self.log)
        self.pidfile.unlink(missing_ok=True)
        self._save(int(port), backend, backend_name)
        try:
            return self._launch(binary, int(port))
        except PoolerError:
            self.state_file.unlink(missing_ok=True)
            raise

    def _save(self, port: int, backend: ConnectionSettings, backend_name: str) -> None:
        state = {"port": port, "dbname": backend.dbname, "backend": backend_name}
        self.state_file.write_text(json.dumps(state, indent=2) + "\n")

    def _launch(self, binary: str, port: int) -> PoolerStatus:
        log_start = self.log.stat().st_size
        result = subprocess.run(
            [binary, "-d", str(self.ini)],
            capture_output=True,
            text=True,
            check=False,
            timeout=START_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
        reason = first_line(result.stderr or result.stdout) if result.returncode != 0 else ""
        deadline = time.monotonic() + START_TIMEOUT_S
        while not reason:
            status = self.status()
            if status is not None and port_in_use(port):
                return status
            reason = self._failure(log_start)
            if not reason and time.monotonic() > deadline:
                reason = f"not listening after {START_TIMEOUT_S:.0f} s"
            time.sleep(0.05)
        raise PoolerError(f"pgbouncer did not start on port {port}: {reason} (log: {self.log})")

    def _failure(self, log_start: int) -> str:
        """What the log says since ``log_start`` when PgBouncer gave up (its warnings and the
        fatal line, in one line), else an empty string."""
        with self.log.open() as log:
            log.seek(log_start)
            lines = log.read().splitlines()
        if not any(LOG_FATAL in line for line in lines):
            return ""
        messages = [
            line.split(level, 1)[1].strip()
            for line in lines
            for level in (LOG_WARNING, LOG_FATAL)
            if level in line
        ]
        return "; ".join(messages)

    def stop(self) -> bool:
        """Stop PgBouncer (its clients are disconnected); False when it was not running."""
        pid = self._pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while self._pid() == pid:
            if time.monotonic() > deadline:
                raise PoolerError(f"pgbouncer (pid {pid}) did not stop in {STOP_TIMEOUT_S:.0f} s")
            time.sleep(0.05)
        self.pidfile.unlink(missing_ok=True)
        self.auth_file.unlink(missing_ok=True)
        return True

    def connections(self) -> dict[str, int]:
        """Client and server connections of the running pooler's database, all logins
        together (not the admin console)."""
        totals = {"clients": 0, "servers": 0}
        for pool in self.show("POOLS"):
            if pool["database"] == ADMIN_DATABASE:
                continue
            totals["clients"] += int(pool["cl_active"]) + int(pool["cl_waiting"])
            totals["servers"] += sum(int(pool[key]) for key in SERVER_STATES)
        return totals
