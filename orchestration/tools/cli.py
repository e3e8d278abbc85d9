"""`value-view`: the project's command line. Thin: each command calls the library function."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Sequence

import psycopg

from orchestration.lib import pooler as bi_pooler
from orchestration.lib import replica as bi_replica
from orchestration.lib import settings as project_settings
from orchestration.lib import tenancy, tenant_removal
from orchestration.lib.database import (
    ConnectionSettings,
    SettingsError,
    client_path,
)
from orchestration.lib.dbt_runner import dbt_env, dbt_executable
from orchestration.lib.report import print_table
from orchestration.lib.server import RESTART_MODES, EmbeddedServer
from orchestration.tools import bench, demo_data, describe
from orchestration.tools.demo_data import DemoDataError
from orchestration.tools.options import (
    DEFAULT_SEED,
    UsageError,
    parse_date,
    parse_history_days,
    parse_scale,
    parse_seed,
    parse_tenants,
)
from orchestration.tools.serving import cmd_db, cmd_pooler
from orchestration.tools.superset import commands as bi_commands
from orchestration.tools.superset.api import ApiError
from orchestration.tools.superset.server import SupersetError

# -- commands ----------------------------------------------------------------------------


def cmd_env(args: argparse.Namespace) -> int:
    settings = project_settings.resolve()
    if args.bi:
        pooler = bi_pooler.Pooler(project_settings.home()).status()
        replica = project_settings.replica_settings()
        print("\n".join(bi_pooler.bi_environment(settings, replica, pooler)))
        return 0
    dbt = dbt_env(settings, base={})
    values = {
        **settings.env(),
        "DBT_PROFILES_DIR": dbt["DBT_PROFILES_DIR"],
        "DBT_PROJECT_DIR": dbt["DBT_PROJECT_DIR"],
        project_settings.DATABASE_URL_ENV: settings.url,
    }
    for key, value in values.items():
        print(f"export {key}={shlex.quote(value)}")
    return 0


def existing_counts(settings: ConnectionSettings, schema: str) -> dict[str, int]:
    """Rows per VITAL table already in ``schema``; empty when the tables are not there yet."""
    try:
        return demo_data.table_counts(settings, schema)
    except DemoDataError:
        return {}


def cmd_demo_data(args: argparse.Namespace) -> int:
    scale = parse_scale(args.scale)
    seed = parse_seed(args.seed)
    history_days = parse_history_days(args.history_days)
    tenants = parse_tenants(args.tenants, scale) if args.tenants is not None else None
    as_of = parse_date(args.as_of) if args.as_of else dt.datetime.now(dt.timezone.utc).date()
    schema = args.schema or project_settings.source_schema()
    reset = args.reset or args.rebuild
    settings = project_settings.resolve()
    counts = existing_counts(settings, schema) if args.if_empty and not reset else {}
    loaded = not any(counts.values())
    if loaded:
        counts = demo_data.load_demo_data(
            settings,
            scale=scale,
            seed=seed,
            schema=schema,
            reset=reset,
            rebuild=args.rebuild,
            as_of=as_of,
            progress=not (args.quiet or args.json),
            tenants=tenants,
        )
        demo_data.replay_history(
            settings,
            demo_data.DemoPlan(seed=seed, scale=scale, as_of=as_of, tenants=tenants),
            history_days,
            schema=schema,
            progress=not (args.quiet or args.json),
        )
    if loaded and args.rebuild:
        env = dbt_env(settings, source_schema=schema)
        check_dbt_folders(env)
        code = subprocess.call(
            [dbt_executable(), "run", *(["--quiet"] if args.quiet or args.json else [])],
            env=env,
            cwd=project_settings.PROJECT_ROOT,
            stdout=sys.stderr if args.json else None,
        )
        if code != 0:
            raise DemoDataError(
                f"the demo data is loaded but `dbt run` failed (exit {code}): the marts still "
                "show the previous data; run `value-view dbt run` after fixing it"
            )
    if args.json:
        print(json.dumps({"schema": schema, "loaded": loaded, "counts": dict(counts)}))
    elif not args.quiet:
        print_table(
            ["table", "rows"],
            [[name, f"{count:,}"] for name, count in counts.items()],
            title=f"demo data: scale {scale}, seed {seed}, as of {as_of}",
        )
    return 0


def check_dbt_folders(env: dict[str, str]) -> None:
    """dbt writes its logs and artifacts into folders of the project; a plain file in the way
    makes it exit silently, so name it first."""
    root = project_settings.PROJECT_ROOT
    for variable, default in (("DBT_LOG_PATH", "logs"), ("DBT_TARGET_PATH", "target")):
        path = root / env.get(variable, default)
        if path.exists() and not path.is_dir():
            raise UsageError(f"{path} is a file; dbt needs a folder there ({variable})")


def cmd_dbt(args: argparse.Namespace) -> int:
    settings = project_settings.resolve()
    check_dbt_folders(dict(os.environ))
    return subprocess.call(
        [dbt_executable(), *args.dbt_args],
        env=dbt_env(settings),
        cwd=project_settings.PROJECT_ROOT,
    )


def cmd_psql(args: argparse.Namespace) -> int:
    settings = project_settings.resolve()
    psql = client_path("psql", EmbeddedServer.bin_dir())
    return subprocess.call([psql, *args.psql_args], env=dbt_env(settings))


def cmd_bench(args: argparse.Namespace) -> int:
    return bench.run_command(args)


def cmd_describe(args: argparse.Namespace) -> int:
    return describe.run(args.mart)


def cmd_demo(args: argparse.Namespace) -> int:
    # The two commands that run Dagster import it (about 2 s) themselves; the others start fast.
    from orchestration.tools import pipeline

    return pipeline.demo(
        scale=parse_scale(args.scale), seed=parse_seed(args.seed), reset=args.reset
    )


def cmd_ui(args: argparse.Namespace) -> int:
    from orchestration.tools import ui

    return ui.run(host=args.host, port=args.port)


def cmd_tenant_login(args: argparse.Namespace) -> int:
    password = None
    if args.action == "add" and args.password_env:
        password = os.environ.get(args.password_env)
        if not password:
            raise UsageError(f"--password-env {args.password_env}: the variable is not set")
    settings = project_settings.resolve()
    source_schema = project_settings.source_schema()
    try:
        if args.action == "add":
            login = tenancy.add_login(
                settings, args.login, args.tenant, password=password, source_schema=source_schema
            )
            print(
                f"{login.login} reads tenant {login.tenant_id}"
                + (f" ({login.tenant_name})" if login.tenant_name else "")
                + f" through schema {tenancy.TENANT_SCHEMA}"
                + ("; password set (scram-sha-256)" if password else "; no password set")
            )
            if login.can_write:
                print(
                    f"value-view: warning: {login.login} can write: {login.can_write}",
                    file=sys.stderr,
                )
        elif args.action == "remove":
            print(
                tenant_removal.remove_login(
                    settings, args.login, keep_role=args.keep_role
                ).summary()
            )
        else:
            logins = tenancy.list_logins(settings, source_schema=source_schema)
            print_table(
                ["login", "tenant_id", "tenant", "role", "created_at", "beyond its tenant"],
                [
                    [
                        login.login,
                        login.tenant_id,
                        login.tenant_name or "?",
                        "ok" if login.role_exists and login.can_login else "missing",
                        f"{login.created_at:%Y-%m-%d %H:%M}",
                        login.beyond_tenant or "-",
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
    db.add_argument("action", choices=["start", "stop", "restart", "status", "url", "replica"])
    db.add_argument(
        "replica_action",
        nargs="?",
        choices=["start", "stop", "status"],
        help="replica: a streaming hot standby of the embedded server, for BI reads",
    )
    db.add_argument("--port", type=int, default=None, help="replica start: the port to listen on")
    db.add_argument(
        "--drop", action="store_true", help="replica stop: also remove its data and its slot"
    )
    db.add_argument(
        "--mode",
        choices=RESTART_MODES,
        default="fast",
        help="restart: how sessions end (default fast: roll back and disconnect)",
    )
    db.set_defaults(func=cmd_db)

    env = sub.add_parser("env", help="print export lines for dbt, psql and BI tools")
    env.add_argument(
        "--bi", action="store_true", help="what a BI tool uses: the pooler, replica or primary"
    )
    env.set_defaults(func=cmd_env)

    pooler = sub.add_parser(
        "pooler", help="PgBouncer (transaction pooling, SCRAM) in front of the replica or primary"
    )
    pooler.add_argument("action", choices=["start", "stop", "status"])
    pooler.add_argument("--port", type=int, default=None, help="start: the port to listen on")
    pooler.set_defaults(func=cmd_pooler)

    bi = sub.add_parser(
        "bi", help="Apache Superset on the marts: a dashboard and a viewer per tenant (make bi)"
    )
    bi_commands.add_arguments(bi)
    bi.set_defaults(func=bi_commands.cmd_bi)

    demo = sub.add_parser("demo-data", help="load deterministic demo data into the source schema")
    demo.add_argument("--scale", default="1", help="multiplies the spec's volumes (default 1)")
    demo.add_argument("--seed", default=str(DEFAULT_SEED), help="random seed (default 42)")
    demo.add_argument("--as-of", default=None, help="anchor date YYYY-MM-DD (default: today, UTC)")
    demo.add_argument("--schema", default=None, help="source schema (default vital)")
    demo.add_argument(
        "--tenants",
        default=None,
        help="share the scale's volumes among this many tenants (default: scale + 1)",
    )
    demo.add_argument(
        "--history-days",
        default="0",
        help="replay dated ODI score changes over this many days into the score history "
        "(default 0: none)",
    )
    demo.add_argument(
        "--reset",
        action="store_true",
        help="replace data already in the schema (refused while marts are built on it)",
    )
    demo.add_argument(
        "--rebuild",
        action="store_true",
        help="reset: reload the tables in place, then rebuild every model on them (`dbt run`)",
    )
    demo.add_argument("--quiet", action="store_true", help="no progress or summary")
    demo.add_argument(
        "--if-empty",
        action="store_true",
        help="keep data already in the schema instead of asking for --reset",
    )
    demo.add_argument(
        "--json", action="store_true", help="print {schema, loaded, counts} as JSON, no progress"
    )
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

    bench_parser = sub.add_parser(
        "bench",
        help="benchmark: marts vs raw queries, refresh costs, reads under refresh, scaling, load",
    )
    bench.add_arguments(bench_parser)
    bench_parser.set_defaults(func=cmd_bench)

    describe_parser = sub.add_parser(
        "describe",
        help="everything about one mart: files, versions, tests, cadence, budget, indexes",
    )
    describe_parser.add_argument(
        "mart", help="the mart's name, as in its YAML (an unknown name lists them all)"
    )
    describe_parser.set_defaults(func=cmd_describe)
    return parser


# Errors a command reports in one line (exit 2) instead of a traceback.
ONE_LINE_ERRORS = (
    UsageError,
    SettingsError,
    DemoDataError,
    describe.UnknownMart,
    bi_replica.ReplicaError,
    bi_pooler.PoolerError,
    SupersetError,
    ApiError,
    tenancy.TenancyError,
)


def one_line(error: BaseException) -> str:
    """What went wrong, in one line: the first FATAL/ERROR line of a server's message, else the
    first line, named by the error's kind when the message alone would not say it."""
    text = bi_replica.first_line(str(error))
    if isinstance(error, psycopg.OperationalError):
        return f"cannot use PostgreSQL: {text}"
    if isinstance(error, psycopg.Error):
        return f"PostgreSQL: {text}"
    if isinstance(error, OSError) and error.filename:
        return f"{error.strerror}: {error.filename}"
    return text


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ONE_LINE_ERRORS as error:
        print(f"value-view: {one_line(error)}", file=sys.stderr)
        return 2
    except (psycopg.Error, OSError, subprocess.SubprocessError) as error:
        print(f"value-view: {one_line(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("value-view: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
