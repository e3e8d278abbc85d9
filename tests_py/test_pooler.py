"""PgBouncer in front of the replica, against real servers.

A primary of this module's own (an embedded server in a temporary folder) gets a warehouse like
the one test_tenancy.py reads (demo data at scale 1, the marts, a login per tenant and a
value_view_reader member), a streaming replica, and the pooler in front of the replica. Then:
the `value-view pooler` lifecycle and its one-line errors; SCRAM for BI logins and nobody else;
the startup parameters BI drivers send; each tenant login sees only its tenant's rows in every
BI relation through the pooler; session state never crosses logins; 1,000 clients use no more
server connections than the pool size."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import socket
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from test_tenancy import PASSWORD, SEED, Warehouse, _counts_by_tenant, isolation_problems

from orchestration.lib import database, tenancy
from orchestration.lib import dbt_runner as project
from orchestration.lib import pooler as poolers
from orchestration.lib import replica as replicas
from orchestration.lib.server import EmbeddedServer
from orchestration.tools import cli, demo_data
from orchestration.tools.bench.options import BenchOptions, Progress
from orchestration.tools.bench.runner import run_users

pytestmark = pytest.mark.slow

CLIENTS = 1_000
QUERIES_PER_CLIENT = 2
HANDSHAKES_AT_ONCE = 100
ROUNDS = 25
PROBE = "value_view.probe"


@dataclass
class Stack:
    built: Warehouse
    primary: EmbeddedServer
    replica: replicas.ReplicaServer
    pooler: poolers.Pooler

    @property
    def status(self) -> poolers.PoolerStatus:
        status = self.pooler.status()
        assert status is not None, "the pooler is not running"
        return status

    @property
    def replica_settings(self) -> database.ConnectionSettings:
        settings = self.replica.status()
        assert settings is not None, "the replica is not running"
        return settings.with_database(self.built.settings.dbname)

    def through(self, login: str, password: str = PASSWORD, **kwargs: Any) -> psycopg.Connection:
        """A client of the pooler as ``login``, which must authenticate with SCRAM."""
        return database.connect(
            self.status.settings(login, password),
            autocommit=True,
            prepare_threshold=None,
            require_auth="scram-sha-256",
            **kwargs,
        )


def _build(settings: database.ConnectionSettings, target: Path) -> Warehouse:
    """The warehouse test_tenancy.py reads (demo data at scale 1, the marts and their parents,
    a login per tenant, a value_view_reader member with a password) in ``settings``' database.
    The logins are added after the build, whose hooks create the security objects."""
    database.ensure_database(settings)
    as_of = dt.datetime.now(dt.timezone.utc).date()
    demo_data.load_demo_data(settings, scale=1, seed=SEED, as_of=as_of, progress=False)
    env = project.dbt_env(settings)
    project.run_dbt(["seed", "--quiet"], target_path=target, env=env)
    marts = ["+path:models/marts", "+path:models/quarantine"]
    project.run_dbt(["run", "--quiet", "--select", *marts], target_path=target, env=env)
    manifest = json.loads((target / "manifest.json").read_text())
    warehouse = Warehouse(settings, manifest, tenancy.bi_relations(manifest), suffix="pooler")
    with database.connect(settings, autocommit=True) as conn:
        warehouse.tenants = dict(conn.execute("select id, slug from vital.tenants order by 2"))
        warehouse.reader = "vv_test_pooler_reader"
        conn.execute(
            sql.SQL("create role {} login password {} in role {}").format(
                sql.Identifier(warehouse.reader),
                sql.Literal(PASSWORD),
                sql.Identifier(tenancy.READER_ROLE),
            )
        )
    for tenant_id, slug in warehouse.tenants.items():
        login = f"vv_test_pooler_{slug.replace('-', '_')}"[:63]
        tenancy.add_login(settings, login, tenant_id, password=PASSWORD)
        warehouse.logins[tenant_id] = login
    return warehouse


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A primary of its own with the warehouse, its replica, and the pooler in front of it."""
    home = tmp_path_factory.mktemp("pooler") / "home"
    primary = EmbeddedServer(home)
    replica = replicas.ReplicaServer(primary)
    pooler = poolers.Pooler(home)
    try:
        warehouse = primary.start().with_database("vv_pooler")
        built = _build(warehouse, tmp_path_factory.mktemp("dbt_pooler"))
        pooler.start(built.settings, replica.start().with_database(warehouse.dbname))
        yield Stack(built, primary, replica, pooler)
    finally:
        pooler.stop()
        replica.destroy()
        primary.destroy()


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key in list(os.environ):
        if key.startswith(("PG", "VALUE_VIEW_REPLICA_")) or key == "VALUE_VIEW_DATABASE_URL":
            monkeypatch.delenv(key)
    yield


def _one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str], *named: str) -> None:
    assert cli.main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    for word in named:
        assert word in lines[0], lines[0]


def _server_connections(settings: database.ConnectionSettings, login: str) -> int:
    with database.connect(settings, autocommit=True) as conn:
        return conn.execute(
            "select count(*) from pg_stat_activity where usename = %s and datname = %s",
            (login, settings.dbname),
        ).fetchone()[0]


# -- lifecycle and errors ----------------------------------------------------------------------


def test_pooler_lifecycle_start_reuse_status_stop(stack: Stack) -> None:
    first = stack.status
    assert stack.pooler.start(stack.built.settings, stack.replica_settings) == first
    with stack.through(stack.built.reader) as conn:
        assert conn.execute("select pg_is_in_recovery(), inet_server_port()").fetchone() == (
            True,
            stack.replica_settings.port,
        )
    # Pointed at the primary and back: a reload, same process and port.
    moved = stack.pooler.start(stack.built.settings)
    assert (moved.pid, moved.endpoint) == (first.pid, first.endpoint)
    with stack.through(stack.built.reader) as conn:
        assert conn.execute("select pg_is_in_recovery()").fetchone() == (False,)
    assert stack.pooler.start(stack.built.settings, stack.replica_settings) == first
    assert stack.pooler.stop() is True
    assert stack.pooler.status() is None
    assert stack.pooler.stop() is False
    assert not stack.pooler.auth_file.exists(), "the runtime passwords go with the process"
    with pytest.raises(psycopg.OperationalError):
        database.connect(first.settings(stack.built.reader, PASSWORD), connect_timeout=3)
    again = stack.pooler.start(stack.built.settings, stack.replica_settings)
    assert again.endpoint == first.endpoint and again.pid != first.pid
    with stack.through(stack.built.reader) as conn:
        assert conn.execute("select pg_is_in_recovery()").fetchone() == (True,)


def test_pooler_cli_errors_are_one_line(
    stack: Stack,
    cli_env: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # An external server (this module's primary) and a fresh home: nothing to start.
    for key, value in stack.built.settings.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("VALUE_VIEW_HOME", str(tmp_path))
    _one_line_error(capsys, ["pooler", "start", "--port", "70000"], "--port", "65535")
    _one_line_error(
        capsys, ["pooler", "start", "--port", str(stack.status.endpoint.port)], "listens"
    )
    _one_line_error(capsys, ["pooler", "start", "--port", "80"], "privileged")
    assert cli.main(["pooler", "status"]) == 3
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setattr(poolers.Pooler, "bin_dir", empty)
    monkeypatch.setenv("PATH", str(empty))
    _one_line_error(capsys, ["pooler", "start"], "pgbouncer not found", "make pgbouncer")
    assert poolers.Pooler(tmp_path).status() is None


def test_cli_status_and_env_bi_name_the_pooler_and_the_logins(
    stack: Stack, cli_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("VALUE_VIEW_HOME", str(stack.primary.home))
    assert cli.main(["pooler", "status"]) == 0
    assert f"127.0.0.1:{stack.status.endpoint.port}" in capsys.readouterr().out
    assert cli.main(["env", "--bi"]) == 0
    printed = capsys.readouterr().out
    assert f"export PGPORT={stack.status.endpoint.port}" in printed
    lines = poolers.bi_environment(stack.built.settings, stack.replica_settings, stack.status)
    text = "\n".join(lines)
    assert f"export PGDATABASE={stack.built.settings.dbname}" in text
    for login in [stack.built.reader, *stack.built.logins.values()]:
        assert f"#   {login}: " in text
    assert PASSWORD not in text and "PGPASSWORD" not in text


# -- authentication ----------------------------------------------------------------------------


def test_only_bi_logins_authenticate_and_only_with_scram(stack: Stack) -> None:
    tenant_login = next(iter(stack.built.logins.values()))
    with stack.through(tenant_login) as conn:
        assert conn.execute("select session_user").fetchone() == (tenant_login,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                sql.SQL("select * from {}.{}(%s)").format(
                    sql.Identifier(poolers.LOOKUP_SCHEMA), sql.Identifier(poolers.LOOKUP_FUNCTION)
                ),
                (stack.built.reader,),
            )
    outsider = f"vv_test_{stack.built.suffix}_outsider"
    with database.connect(stack.built.settings, autocommit=True) as conn:
        conn.execute(
            sql.SQL("create role {} login password {}").format(
                sql.Identifier(outsider), sql.Literal(PASSWORD)
            )
        )
    try:
        replicas.wait_for_replay(stack.built.settings, stack.replica_settings)
        for login, password in (
            (tenant_login, "wrong-password"),
            (outsider, PASSWORD),
            ("postgres", PASSWORD),
            (poolers.STATS_USER, PASSWORD),
        ):
            with pytest.raises(psycopg.OperationalError):
                stack.through(login, password)
    finally:
        with database.connect(stack.built.settings, autocommit=True) as conn:
            conn.execute(sql.SQL("drop role {}").format(sql.Identifier(outsider)))
    for path in (stack.pooler.auth_file, stack.pooler.ini):
        assert path.stat().st_mode & 0o077 == 0, f"{path} is readable by others"
    ini = stack.pooler.ini.read_text()
    secrets = [line.split('"')[3] for line in stack.pooler.auth_file.read_text().splitlines()]
    assert secrets and not any(secret in ini for secret in secrets)


def _startup_reply(endpoint: database.ConnectionSettings, parameters: dict[str, str]) -> bytes:
    """The pooler's first answer to a startup packet carrying ``parameters``, as a driver sends
    it (protocol 3.0)."""
    fields = b"".join(f"{key}\0{value}\0".encode() for key, value in parameters.items())
    body = struct.pack("!i", 196608) + fields + b"\0"
    with socket.create_connection((endpoint.host, endpoint.port), timeout=10) as client:
        client.sendall(struct.pack("!i", len(body) + 4) + body)
        return client.recv(4096)


def test_startup_parameters_bi_drivers_send_are_accepted(stack: Stack) -> None:
    """What JDBC (Metabase, Tableau, Superset through it) sends at startup gets the SCRAM
    challenge; a parameter PgBouncer neither tracks nor ignores is refused (the check can fail)."""
    login = next(iter(stack.built.logins.values()))
    jdbc = {
        "user": login,
        "database": stack.built.settings.dbname,
        "client_encoding": "UTF8",
        "DateStyle": "ISO",
        "TimeZone": "UTC",
        "extra_float_digits": "3",
        "application_name": "PostgreSQL JDBC Driver",
        "search_path": tenancy.BI_SCHEMA,
        "options": f"-c search_path={tenancy.BI_SCHEMA}",
    }
    reply = _startup_reply(stack.status.endpoint, jdbc)
    assert reply[:1] == b"R" and struct.unpack("!i", reply[5:9])[0] == 10, reply
    assert b"SCRAM-SHA-256" in reply
    refused = _startup_reply(stack.status.endpoint, {**jdbc, "geqo": "off"})
    assert refused[:1] == b"E" and b"unsupported startup parameter" in refused
    # Ignored, not passed on: the tenant login keeps its own search_path.
    with stack.through(login, options=f"-c search_path={tenancy.BI_SCHEMA}") as conn:
        assert conn.execute("show search_path").fetchone() == (tenancy.TENANT_SCHEMA,)


# -- tenant isolation through the pooler -------------------------------------------------------


def _seen_by_logins(
    clients: dict[str, tuple[Any, psycopg.Connection]], relation: str
) -> dict[str, tuple[Any, dict[Any, int]]]:
    """Each login's (tenant, rows by tenant_id) in the tenant view of ``relation``."""
    return {
        login: (tenant, _counts_by_tenant(client, tenancy.TENANT_SCHEMA, relation))
        for login, (tenant, client) in clients.items()
    }


def test_each_tenant_login_sees_only_its_rows_through_the_pooler(stack: Stack) -> None:
    built = stack.built
    clients = {login: (tenant, stack.through(login)) for tenant, login in built.logins.items()}
    try:
        with database.connect(built.settings, autocommit=True) as owner:
            problems = [
                f"{relation.relation}: {problem}"
                for relation in built.relations
                for problem in isolation_problems(
                    _counts_by_tenant(owner, relation.schema, relation.relation),
                    _seen_by_logins(clients, relation.relation),
                )
            ]
    finally:
        for _, client in clients.values():
            client.close()
    assert not problems, "\n".join(problems)
    assert len(built.relations) > 5


def test_session_state_never_crosses_logins(stack: Stack) -> None:
    """Two tenant logins interleave transactions through the pooler, each leaving a marker set
    for the session on its server connection. A login sees its own marker again (state does
    stay on a pooled server connection: the check can see a leak) but never the other's, and
    always its own session_user and only its own tenant's rows."""
    (tenant_a, login_a), (tenant_b, login_b) = list(stack.built.logins.items())[:2]
    relation = sql.Identifier(tenancy.TENANT_SCHEMA, stack.built.relations[0].relation)
    seen: list[tuple[str, ...]] = []
    start = threading.Barrier(2, timeout=30)

    def work(login: str, tenant: Any) -> None:
        start.wait()
        for round_number in range(ROUNDS):
            with stack.through(login) as conn, conn.transaction():
                row = conn.execute(
                    sql.SQL(
                        "select session_user::text, coalesce(current_setting(%s, true), ''),"
                        " count(*) filter (where tenant_id <> %s) from {}"
                    ).format(relation),
                    (PROBE, tenant),
                ).fetchone()
                seen.append((login, *row))
                conn.execute("select set_config(%s, %s, false)", (PROBE, f"{login}:{round_number}"))

    workers = [
        threading.Thread(target=work, args=(login_a, tenant_a)),
        threading.Thread(target=work, args=(login_b, tenant_b)),
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert len(seen) == 2 * ROUNDS
    wrong = [row for row in seen if row[1] != row[0] or row[3] != 0]
    crossed = [row for row in seen if row[2] and not row[2].startswith(f"{row[0]}:")]
    assert not wrong and not crossed, (wrong, crossed)
    assert any(row[2] for row in seen), "a login should meet its own pooled server connection"


# -- many clients, few server connections ------------------------------------------------------


async def _many_clients(stack: Stack, login: str, statement: sql.Composable) -> dict[str, int]:
    gate = asyncio.Semaphore(HANDSHAKES_AT_ONCE)
    conninfo = stack.status.settings(login, PASSWORD).conninfo

    async def connect() -> psycopg.AsyncConnection:
        async with gate:
            return await psycopg.AsyncConnection.connect(
                conninfo, autocommit=True, prepare_threshold=None
            )

    clients = await asyncio.gather(*(connect() for _ in range(CLIENTS)))
    try:
        connected = stack.pooler.connections()["clients"]

        async def query(client: psycopg.AsyncConnection) -> int:
            for _ in range(QUERIES_PER_CLIENT):
                await (await client.execute(statement)).fetchone()
            return QUERIES_PER_CLIENT

        answered = sum(await asyncio.gather(*(query(client) for client in clients)))
    finally:
        await asyncio.gather(*(client.close() for client in clients))
    return {"connected": connected, "answered": answered}


def test_a_thousand_clients_need_no_more_server_connections_than_the_pool(stack: Stack) -> None:
    login = next(iter(stack.built.logins.values()))
    relation = sql.Identifier(tenancy.TENANT_SCHEMA, stack.built.relations[0].relation)
    statement = sql.SQL("select count(*) from {}").format(relation)
    peak = {"replica": 0, "pooler": 0}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak["replica"] = max(
                peak["replica"], _server_connections(stack.replica_settings, login)
            )
            pools = [pool for pool in stack.pooler.show("POOLS") if pool["user"] == login]
            in_pool = sum(int(pool[key]) for pool in pools for key in poolers.SERVER_STATES)
            peak["pooler"] = max(peak["pooler"], in_pool)
            done.wait(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        result = asyncio.run(_many_clients(stack, login, statement))
    finally:
        done.set()
        sampler.join()
    print(
        f"\n{CLIENTS:,} clients of {login}: {result['connected']:,} connected at once,"
        f" {result['answered']:,} queries answered; server connections of the login at most"
        f" {peak['replica']} on the replica, {peak['pooler']} in its pool (pool size"
        f" {poolers.POOL_SIZE})"
    )
    assert result["connected"] >= CLIENTS
    assert result["answered"] == CLIENTS * QUERIES_PER_CLIENT
    assert 0 < peak["replica"] <= poolers.POOL_SIZE
    assert 0 < peak["pooler"] <= poolers.POOL_SIZE


# -- value-view bench --users ------------------------------------------------------------------


def test_bench_users_hold_the_pool_size_through_the_pooler_and_exhaust_the_primary(
    stack: Stack, cli_env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("VALUE_VIEW_HOME", str(stack.primary.home))
    users = 400  # more than the primary's max_connections (300)
    options = BenchOptions(
        users=users,
        user_seconds=10,
        clients=(2, 4, 1000),
        throughput_seconds=2,
        out=tmp_path / "out",
        target_path=tmp_path / "target",
        database_prefix="vv_test_users",
    )
    report = run_users(stack.primary.status(), options, log=Progress(enabled=False), command="test")
    sides = {side["target"]: side for side in report["users"]["sides"]}
    pooled, direct = sides["pooler"], sides["primary"]
    assert pooled["errors"] == 0, pooled
    assert pooled["queries"] > 0
    assert 0 < pooled["server_connections"] <= poolers.POOL_SIZE
    assert pooled["replica_lag_s"] is not None
    assert direct["errors"] > 0, direct
    assert "too many clients" in direct["error"] or "connection slots" in direct["error"], direct
    per_query = report["users"]["per_query"]
    assert per_query and all(row["pooler_p95_ms"] is not None for row in per_query)
    # 1,000 closed-loop clients do not fit the primary's connection slots: that count is
    # reported as not run, and the run goes on with the others.
    throughput = {row["clients"]: row for row in report["throughput"]}
    assert list(throughput) == [2, 4, 1000]
    assert all(throughput[clients]["point_reads_per_s"] > 0 for clients in (2, 4))
    assert throughput[1000]["queries_per_s"] is None
    assert "exceed the server's" in throughput[1000]["refused"], throughput[1000]
    saved = json.loads((tmp_path / "out" / "bench.json").read_text())
    assert saved["users"]["users"] == users
    assert (tmp_path / "out" / "bench.png").read_bytes().startswith(b"\x89PNG")
    assert "through the pooler" in (tmp_path / "out" / "bench.md").read_text()
    with database.connect(stack.built.settings, autocommit=True) as conn:
        left = conn.execute(
            "select count(*) from pg_roles where rolname like 'value\\_view\\_bench\\_%'"
        ).fetchone()[0]
    assert left == 0, "the bench's temporary login was not dropped"


def test_bench_users_without_a_pooler_is_a_one_line_error(
    cli_env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys
) -> None:
    monkeypatch.setenv("VALUE_VIEW_HOME", str(tmp_path / "empty-home"))
    assert cli.main(["bench", "--users", "10", "--out", str(tmp_path / "out")]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "value-view pooler start" in lines[0], lines
    # Refused before anything started: no embedded server was made (and left running) there.
    assert not (tmp_path / "empty-home" / "pgdata").exists()
