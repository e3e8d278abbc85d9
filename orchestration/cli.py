"""`value-view`: the project's command line. Thin: each command calls the library function."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shlex
import subprocess
import sys
from collections.abc import Sequence

from orchestration import database
from orchestration.database import SettingsError
from orchestration.demo_data import DemoDataError

DEFAULT_SEED = 42
MAX_SCALE = 1000


class UsageError(ValueError):
    """A bad command-line value; printed as one line."""


def parse_scale(raw: str) -> int:
    try:
        scale = int(raw)
    except ValueError:
        scale = None
    if scale is None or not 1 <= scale <= MAX_SCALE:
        raise UsageError(f"--scale must be a whole number from 1 to {MAX_SCALE}, got {raw!r}")
    return scale


def parse_seed(raw: str) -> int:
    try:
        seed = int(raw)
    except ValueError:
        raise UsageError(f"--seed must be a non-negative whole number, got {raw!r}") from None
    if not 0 <= seed < 2**63:
        raise UsageError(f"--seed must be a non-negative whole number below 2**63, got {seed}")
    return seed


def parse_date(raw: str) -> dt.date:
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise UsageError(f"--as-of must be a date as YYYY-MM-DD, got {raw!r}") from None


def source_schema() -> str:
    return os.environ.get("VALUE_VIEW_SOURCE_SCHEMA", "vital")


def dbt_env(settings: database.ConnectionSettings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(settings.env())
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return env


# -- commands ----------------------------------------------------------------------------


def cmd_db(args: argparse.Namespace) -> int:
    external = database.external_settings()
    if external is not None:
        if args.action in ("start", "stop", "restart"):
            print(
                f"using the external server at {external.host}:{external.port}"
                f" ({external.source}); `db {args.action}` manages only the embedded one"
            )
        if args.action == "url":
            print(external.url)
        if args.action in ("status", "start"):
            database.wait_until_ready(external)
            print(f"external server reachable at {external.host}:{external.port}/{external.dbname}")
        return 0
    server = database.EmbeddedServer()
    if args.action == "start":
        settings = server.start()
        print(
            f"embedded server running at {settings.host}:{settings.port}, data in {server.pgdata}"
        )
    elif args.action == "stop":
        print("embedded server stopped" if server.stop() else "embedded server was not running")
    elif args.action == "restart":
        settings = server.restart(args.mode)
        print(f"embedded server restarted ({args.mode}) at {settings.host}:{settings.port}")
    elif args.action == "status":
        settings = server.status()
        if settings is None:
            print("embedded server not running")
            return 3
        print(
            f"embedded server running at {settings.host}:{settings.port}, data in {server.pgdata}"
        )
    elif args.action == "url":
        print(server.start().url)
    return 0


def cmd_env(args: argparse.Namespace) -> int:
    settings = database.resolve()
    for key, value in settings.env().items():
        print(f"export {key}={shlex.quote(value)}")
    print(f"export VALUE_VIEW_DATABASE_URL={shlex.quote(settings.url)}")
    return 0


def cmd_demo_data(args: argparse.Namespace) -> int:
    from orchestration import demo_data

    scale = parse_scale(args.scale)
    seed = parse_seed(args.seed)
    as_of = parse_date(args.as_of) if args.as_of else dt.datetime.now(dt.timezone.utc).date()
    settings = database.resolve()
    counts = demo_data.load_demo_data(
        settings,
        scale=scale,
        seed=seed,
        schema=args.schema or source_schema(),
        reset=args.reset,
        as_of=as_of,
        progress=not args.quiet,
    )
    if not args.quiet:
        from orchestration.report import print_table

        print_table(
            ["table", "rows"],
            [[name, f"{count:,}"] for name, count in counts.items()],
            title=f"demo data: scale {scale}, seed {seed}, as of {as_of}",
        )
    return 0


def cmd_dbt(args: argparse.Namespace) -> int:
    settings = database.resolve()
    command = [os.path.join(os.path.dirname(sys.executable), "dbt"), *args.dbt_args]
    return subprocess.call(command, env=dbt_env(settings), cwd=database.PROJECT_ROOT)


def cmd_psql(args: argparse.Namespace) -> int:
    settings = database.resolve()
    return subprocess.call([database.psql_path(), *args.psql_args], env=dbt_env(settings))


def cmd_bench(args: argparse.Namespace) -> int:
    from orchestration import bench

    return bench.run_command(args)


def cmd_demo(args: argparse.Namespace) -> int:
    from orchestration import pipeline

    return pipeline.demo(
        scale=parse_scale(args.scale), seed=parse_seed(args.seed), reset=args.reset
    )


def cmd_ui(args: argparse.Namespace) -> int:
    from orchestration import ui

    return ui.run(host=args.host, port=args.port)


def cmd_tenant_login(args: argparse.Namespace) -> int:
    import psycopg

    from orchestration import tenancy
    from orchestration.report import print_table

    password = None
    if args.action == "add" and args.password_env:
        password = os.environ.get(args.password_env)
        if not password:
            raise UsageError(f"--password-env {args.password_env}: the variable is not set")
    settings = database.resolve()
    try:
        if args.action == "add":
            login = tenancy.add_login(
                settings, args.login, args.tenant, password=password, source_schema=source_schema()
            )
            print(
                f"{login.login} reads tenant {login.tenant_id}"
                + (f" ({login.tenant_name})" if login.tenant_name else "")
                + f" through schema {tenancy.TENANT_SCHEMA}"
                + ("; password set (scram-sha-256)" if password else "; no password set")
            )
        elif args.action == "remove":
            if not tenancy.remove_login(settings, args.login, keep_role=args.keep_role):
                print(f"value-view: no tenant mapping for login {args.login}", file=sys.stderr)
                return 1
            print(f"{args.login} removed" + (" (role kept)" if args.keep_role else ""))
        else:
            logins = tenancy.list_logins(settings, source_schema=source_schema())
            print_table(
                ["login", "tenant_id", "tenant", "role", "created_at"],
                [
                    [
                        login.login,
                        login.tenant_id,
                        login.tenant_name or "?",
                        "ok" if login.role_exists and login.can_login else "missing",
                        f"{login.created_at:%Y-%m-%d %H:%M}",
                    ]
                    for login in logins
                ],
            )
    except (tenancy.TenancyError, psycopg.Error) as error:
        print(f"value-view: {str(error).strip().splitlines()[0]}", file=sys.stderr)
        return 2
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="value-view", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="manage the embedded PostgreSQL server")
    db.add_argument("action", choices=["start", "stop", "restart", "status", "url"])
    db.add_argument(
        "--mode",
        choices=database.RESTART_MODES,
        default="fast",
        help="restart: how sessions end (default fast: roll back and disconnect)",
    )
    db.set_defaults(func=cmd_db)

    env = sub.add_parser("env", help="print export lines for dbt, psql and BI tools")
    env.set_defaults(func=cmd_env)

    demo = sub.add_parser("demo-data", help="load deterministic demo data into the source schema")
    demo.add_argument("--scale", default="1", help="multiplies the spec's volumes (default 1)")
    demo.add_argument("--seed", default=str(DEFAULT_SEED), help="random seed (default 42)")
    demo.add_argument("--as-of", default=None, help="anchor date YYYY-MM-DD (default: today, UTC)")
    demo.add_argument("--schema", default=None, help="source schema (default vital)")
    demo.add_argument("--reset", action="store_true", help="replace data already in the schema")
    demo.add_argument("--quiet", action="store_true", help="no progress or summary")
    demo.set_defaults(func=cmd_demo_data)

    dbt = sub.add_parser("dbt", help="run dbt against the resolved server")
    dbt.add_argument("dbt_args", nargs=argparse.REMAINDER)
    dbt.set_defaults(func=cmd_dbt)

    psql = sub.add_parser("psql", help="open psql against the resolved server")
    psql.add_argument("psql_args", nargs=argparse.REMAINDER)
    psql.set_defaults(func=cmd_psql)

    run_demo = sub.add_parser(
        "demo", help="demo data when missing, the whole pipeline through Dagster, a summary"
    )
    run_demo.add_argument("--scale", default="1", help="multiplies the spec's volumes (default 1)")
    run_demo.add_argument(
        "--seed", default=str(DEFAULT_SEED), help=f"random seed (default {DEFAULT_SEED})"
    )
    run_demo.add_argument("--reset", action="store_true", help="reload the demo data")
    run_demo.set_defaults(func=cmd_demo)

    ui = sub.add_parser("ui", help="Dagster UI (webserver + daemon) on the warehouse's instance")
    ui.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    ui.add_argument("--port", type=int, default=3000, help="port (default 3000)")
    ui.set_defaults(func=cmd_ui)

    tenant_login = sub.add_parser(
        "tenant-login", help="per-tenant BI logins: add <login> --tenant <uuid> | remove | list"
    )
    tenant_actions = tenant_login.add_subparsers(dest="action", required=True)
    tenant_add = tenant_actions.add_parser("add", help="create or re-map a tenant login")
    tenant_add.add_argument("login", help="login name (lowercase letters, digits, underscores)")
    tenant_add.add_argument("--tenant", required=True, help="tenant id (UUID) the login reads")
    tenant_add.add_argument(
        "--password-env", default=None, help="environment variable holding the login's password"
    )
    tenant_remove = tenant_actions.add_parser("remove", help="remove a login and its mapping")
    tenant_remove.add_argument("login")
    tenant_remove.add_argument(
        "--keep-role", action="store_true", help="keep the role; only revoke its access"
    )
    tenant_actions.add_parser("list", help="list tenant logins and their tenants")
    tenant_login.set_defaults(func=cmd_tenant_login)

    from orchestration import bench as bench_module

    bench = sub.add_parser(
        "bench",
        help="benchmark: marts vs raw queries, refresh costs, reads under refresh, scaling, load",
    )
    bench_module.add_arguments(bench)
    bench.set_defaults(func=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (UsageError, SettingsError, DemoDataError) as error:
        print(f"value-view: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
