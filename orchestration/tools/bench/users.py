"""``value-view bench --users N``: N concurrent BI users on the warehouse the pooler serves, each
holding its own client connection and running the dashboard mix with think time, side by side
directly on the primary and through the pooler (in front of the replica when one runs).

Each user is a pgbench client, connected for the whole run; ``--rate`` spaces each user's
queries by a random think time of ``THINK_S`` on average (pgbench draws Poisson arrivals), and a
query's latency is counted from when it was due, so time queueing for a server connection is
part of it. The users log in
as a temporary member of ``value_view_reader`` (dropped afterwards), the way a BI service account
reads. While they run, the server connections that login holds are sampled; through the pooler
they stay at its pool size whatever the number of users.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from orchestration.lib import health, tenancy
from orchestration.lib import pooler as bi_pooler
from orchestration.lib import settings as project_settings
from orchestration.lib.database import ConnectionSettings, connect
from orchestration.lib.programs import first_line
from orchestration.tools.bench import fmt
from orchestration.tools.bench.catalog import BenchmarkQuery
from orchestration.tools.bench.figures import latency_summary
from orchestration.tools.bench.options import BenchError, BenchOptions, Progress
from orchestration.tools.bench.pgbench import PgbenchProcess

# Think time between one user's queries, seconds (the mean spaces pgbench's arrivals).
THINK_S = (2.0, 5.0)
LOGIN_PREFIX = "value_view_bench_"
# pgbench's duration includes opening every user's connection (a SCRAM handshake each, which
# PgBouncer answers one at a time): this much is added per user, so that ``--user-seconds`` is
# time spent querying.
CONNECT_ALLOWANCE_S = 0.05
SAMPLE_EVERY_S = 0.25


def running_pooler() -> bi_pooler.PoolerStatus:
    """The pooler ``value-view pooler start`` runs; BenchError when there is none."""
    status = bi_pooler.Pooler(project_settings.home()).status()
    if status is None:
        raise BenchError(
            "--users measures the pooler against the primary: start it first"
            " (`value-view db replica start` for a replica, then `value-view pooler start`)"
        )
    return status


@contextmanager
def reader_login(primary: ConnectionSettings) -> Iterator[tuple[str, str]]:
    """A temporary login in ``value_view_reader`` with a random password; dropped afterwards."""
    login = LOGIN_PREFIX + secrets.token_hex(4)
    password = secrets.token_urlsafe(24)
    with connect(primary, autocommit=True) as conn:
        verifier = conn.pgconn.encrypt_password(
            password.encode(), login.encode(), b"scram-sha-256"
        ).decode()
        conn.execute(
            sql.SQL("create role {} login password {} in role {}").format(
                sql.Identifier(login), sql.Literal(verifier), sql.Identifier(tenancy.READER_ROLE)
            )
        )
    try:
        yield login, password
    finally:
        with connect(primary, autocommit=True) as conn:
            conn.execute(
                "select pg_terminate_backend(pid) from pg_stat_activity where usename = %s",
                (login,),
            )
            for _ in range(100):
                if not conn.execute(
                    "select count(*) from pg_stat_activity where usename = %s", (login,)
                ).fetchone()[0]:
                    break
                time.sleep(0.05)
            conn.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(login)))


class ConnectionSampler:
    """Samples, in the background, how many server connections a login holds on some servers."""

    def __init__(self, servers: Sequence[ConnectionSettings], login: str) -> None:
        self.servers, self.login = servers, login
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ConnectionSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        conns = [connect(server, autocommit=True) for server in self.servers]
        try:
            while not self._stop.wait(SAMPLE_EVERY_S):
                total = sum(
                    conn.execute(
                        "select count(*) from pg_stat_activity where usename = %s", (self.login,)
                    ).fetchone()[0]
                    for conn in conns
                )
                self.peak = max(self.peak, int(total))
        finally:
            for conn in conns:
                conn.close()


def _one_side(
    label: str,
    target: ConnectionSettings,
    servers: Sequence[ConnectionSettings],
    login: str,
    scripts: Sequence[Path],
    names: Sequence[str],
    options: BenchOptions,
    workdir: Path,
) -> dict[str, Any]:
    users = options.users
    rate = users / (sum(THINK_S) / 2)
    with ConnectionSampler(servers, login) as sampler:
        try:
            run = PgbenchProcess(
                target,
                scripts,
                users,
                options.user_seconds + users * CONNECT_ALLOWANCE_S,
                workdir,
                f"users_{label}",
                extra_args=["--rate", f"{rate:.3f}"],
            ).finish()
        except BenchError as error:
            return {
                "target": label,
                "users": users,
                "server_connections": sampler.peak,
                "queries": 0,
                "errors": users,
                "error": first_line(str(error))[:300],
            }
    latencies = run.latencies()
    return {
        "target": label,
        "users": users,
        "seconds": run.seconds,
        "server_connections": sampler.peak,
        "queries": len(latencies),
        "queries_per_s": round(len(latencies) / run.elapsed, 2),
        "latency": latency_summary(latencies),
        "errors": run.errors,
        "error": "; ".join(run.aborted[:3]) or None,
        "per_query_p95_ms": run.per_script(names, "p95_ms"),
    }


def measure_users(
    primary: ConnectionSettings,
    benchmarks: Sequence[BenchmarkQuery],
    scripts: Sequence[Path],
    options: BenchOptions,
    workdir: Path,
    log: Progress,
) -> dict[str, Any]:
    """The users on the primary and through the pooler; per query p95 against its budget."""
    pooler = running_pooler()
    replica = project_settings.replica_settings()
    backend = replica.with_database(primary.dbname) if replica is not None else primary
    names = [path.stem for path in scripts]
    sides: list[dict[str, Any]] = []
    with reader_login(primary) as (login, password):
        for label, target, servers in (
            ("primary", primary.with_login(login, password), [primary]),
            ("pooler", pooler.settings(login, password), [primary, backend]),
        ):
            log("users", f"{options.users:,} users for {options.user_seconds} s on the {label}")
            side = _one_side(label, target, servers, login, scripts, names, options, workdir)
            if label == "pooler" and replica is not None:
                try:
                    lag = health.replica_lag(backend, primary)
                    side["replica_lag_s"] = lag.seconds
                except psycopg.Error as error:
                    side["replica_lag_s"] = None
                    side["error"] = f"replica lag: {error}"
            sides.append(side)
            log(
                "users",
                f"{label}: {side['queries']:,} queries, {side['errors']} errors,"
                f" {side['server_connections']} server connections,"
                f" p95 {fmt.ms((side.get('latency') or {}).get('p95_ms'))}"
                + (f" ({side['error']})" if side.get("error") else ""),
            )
    budgets = {item.name: item.p95_budget_ms for item in benchmarks}
    per_query = [
        {
            "benchmark": name,
            "budget_ms": budgets.get(name),
            **{
                f"{side['target']}_p95_ms": (side.get("per_query_p95_ms") or {}).get(name)
                for side in sides
            },
        }
        for name in names
    ]
    pooled = next(side for side in sides if side["target"] == "pooler")
    within = [
        row["pooler_p95_ms"] is not None
        and (row["budget_ms"] is None or row["pooler_p95_ms"] <= row["budget_ms"])
        for row in per_query
    ]
    return {
        "users": options.users,
        "seconds": options.user_seconds,
        "think_s": list(THINK_S),
        "pooler": pooler.address,
        "pooler_backend": pooler.backend,
        "pool_size": bi_pooler.POOL_SIZE,
        "sides": sides,
        "per_query": per_query,
        "pooler_errors": pooled["errors"],
        "pooler_within_budgets": all(within),
    }


def users_failures(users: Mapping[str, Any]) -> list[str]:
    """What fails a ``--users`` run: an error through the pooler or a p95 over its budget."""
    failures = []
    if users["pooler_errors"]:
        failures.append(f"users: {users['pooler_errors']} errors through the pooler")
    for row in users["per_query"]:
        p95, budget = row.get("pooler_p95_ms"), row["budget_ms"]
        if budget is not None and (p95 is None or p95 > budget):
            failures.append(
                f"users: {row['benchmark']} p95 {fmt.ms(p95)} through the pooler,"
                f" over its {fmt.budget(budget)} budget"
            )
    return failures
