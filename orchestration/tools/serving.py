"""`value-view db`, `db replica` and `pooler`: the servers of this checkout (the embedded
PostgreSQL, its streaming replica, PgBouncer in front of them), or a report on yours."""

from __future__ import annotations

import argparse

from orchestration.lib import pooler as bi_pooler
from orchestration.lib import replica as bi_replica
from orchestration.lib import settings as project_settings
from orchestration.lib.database import ConnectionSettings, SettingsError, wait_until_ready
from orchestration.lib.server import EmbeddedServer
from orchestration.tools.options import UsageError

LOCAL_HOSTS = ("127.0.0.1", "localhost")
NOT_RUNNING, ORPHANED = 3, 4


def _points_at(external: ConnectionSettings, server: EmbeddedServer) -> bool:
    """Whether settings from the environment name this checkout's running embedded server (as
    `eval "$(value-view env)"` leaves them)."""
    running = server.status()
    return running is not None and external.host in LOCAL_HOSTS and external.port == running.port


def _running_line(server: EmbeddedServer, settings: ConnectionSettings) -> str:
    return f"embedded server running at {settings.host}:{settings.port}, data in {server.pgdata}"


def cmd_db(args: argparse.Namespace) -> int:
    if args.action == "replica":
        return cmd_replica(args)
    if args.replica_action is not None or args.port is not None or args.drop:
        raise UsageError("start|stop|status, --port and --drop go with `db replica`")
    server = project_settings.embedded_server()
    external = project_settings.external_settings()
    if args.action == "stop":
        return _stop(server, external)
    if external is not None and not _points_at(external, server):
        if args.action in ("start", "restart"):
            print(
                f"using the external server at {external.host}:{external.port}"
                f" ({external.source}); `db {args.action}` manages only the embedded one"
            )
        if args.action == "url":
            print(external.url)
        if args.action in ("status", "start"):
            wait_until_ready(external)
            print(f"external server reachable at {external.host}:{external.port}/{external.dbname}")
        return 0
    if args.action == "start":
        print(_running_line(server, server.start()))
    elif args.action == "restart":
        settings = server.restart(args.mode)
        print(f"embedded server restarted ({args.mode}) at {settings.host}:{settings.port}")
    elif args.action == "status":
        return _status(server)
    elif args.action == "url":
        print(server.start().url)
    return 0


def _status(server: EmbeddedServer) -> int:
    settings = server.status()
    if settings is not None:
        print(_running_line(server, settings))
        return 0
    orphan = server.orphan()
    if orphan is not None:
        pid, port = orphan
        print(
            f"embedded server orphaned: pid {pid} still listens on 127.0.0.1:{port} but its data"
            f" folder {server.pgdata} is gone; `value-view db stop` stops it"
        )
        return ORPHANED
    print("embedded server not running")
    return NOT_RUNNING


def _stop(server: EmbeddedServer, external: ConnectionSettings | None) -> int:
    """Stop this checkout's embedded server (or an orphan of it) whatever PG* settings say."""
    if server.stop():
        print("embedded server stopped")
        return 0
    orphan = server.stop_orphan()
    if orphan is not None:
        print(f"orphaned embedded server stopped (pid {orphan[0]}, port {orphan[1]})")
    elif external is not None:
        print(
            f"embedded server was not running; the external server at {external.host}:"
            f"{external.port} ({external.source}) is not managed by `db stop`"
        )
    else:
        print("embedded server was not running")
    return 0


def cmd_replica(args: argparse.Namespace) -> int:
    if args.replica_action is None:
        raise UsageError("`db replica` takes start, stop or status")
    primary = project_settings.external_settings()
    if primary is not None or project_settings.external_replica() is not None:
        replica = project_settings.external_replica()
        if replica is None:
            raise SettingsError(
                "with an external server, name your replica with VALUE_VIEW_REPLICA_HOST (and "
                "_PORT, _USER, _PASSWORD, _DATABASE, as the dbt replica target reads them)"
            )
        if args.replica_action != "status":
            print(
                f"the replica at {replica.host}:{replica.port} is yours (VALUE_VIEW_REPLICA_*);"
                f" `db replica {args.replica_action}` manages only the embedded one"
            )
            return 0
        state = bi_replica.replication(replica, primary)
        print(f"replica at {replica.host}:{replica.port}/{replica.dbname}: {state.summary()}")
        return 0
    server = project_settings.embedded_replica()
    if args.replica_action == "start":
        settings = server.start(port=args.port)
        print(
            f"replica streaming at {settings.host}:{settings.port} (slot {server.slot}),"
            f" data in {server.pgdata}"
        )
    elif args.replica_action == "stop" and args.drop:
        server.destroy()
        print(f"replica stopped; its data and the slot {server.slot} removed")
    elif args.replica_action == "stop":
        stopped = server.stop()
        print(
            f"replica stopped (the slot {server.slot} keeps its WAL on the primary until the next"
            " start; --drop removes both)"
            if stopped
            else "replica was not running"
        )
    else:
        settings = server.status()
        state = server.replication()
        if settings is None or state is None:
            print("replica not running")
            return 3
        print(f"replica at {settings.host}:{settings.port}: {state.summary()}")
    return 0


def cmd_pooler(args: argparse.Namespace) -> int:
    pooler = bi_pooler.Pooler(project_settings.home())
    if args.action == "start":
        primary = project_settings.resolve()
        status = pooler.start(primary, project_settings.replica_settings(), port=args.port)
        print(
            f"pooler (PgBouncer, transaction pooling) at {status.address} in front of"
            f" {status.backend}; `value-view env --bi` for BI tools"
        )
    elif args.action == "stop":
        print("pooler stopped" if pooler.stop() else "pooler was not running")
    else:
        status = pooler.status()
        if status is None:
            print("pooler not running")
            return 3
        counts = pooler.connections()
        print(
            f"pooler running at {status.address} in front of"
            f" {status.backend} (pid {status.pid}): {counts['clients']} clients,"
            f" {counts['servers']} server connections"
        )
    return 0
