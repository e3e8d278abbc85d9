"""`value-view bi start|stop|status|provision`: Superset on the marts of this checkout."""

from __future__ import annotations

import argparse

from orchestration.lib import settings as project_settings
from orchestration.lib.report import print_table
from orchestration.tools.superset import provision as provisioning
from orchestration.tools.superset.server import DEFAULT_PORT, Superset


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["start", "stop", "status", "provision"])
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"start: port (default {DEFAULT_PORT})"
    )


def report(done: provisioning.Provisioned, superset: Superset) -> None:
    print(f"Superset at {done.url}, tenant logins connect to {done.endpoint}")
    rows = [
        [
            tenant.name,
            tenant.viewer,
            tenant.login,
            f"{done.url}/superset/dashboard/{tenant.dashboard_id}/",
            str(len(tenant.charts)),
        ]
        for tenant in done.tenants
    ]
    print_table(["tenant", "viewer user", "database login", "dashboard", "charts"], rows)
    print(f"passwords (admin, the viewers, the database logins): {superset.secrets_path}")


def cmd_bi(args: argparse.Namespace) -> int:
    home = project_settings.home()
    superset = Superset(home)
    if args.action == "stop":
        print("Superset stopped" if superset.stop() else "Superset was not running")
        return 0
    if args.action == "status":
        running = superset.status()
        if running is None:
            print("Superset not running")
            return 3
        print(
            f"Superset running at {running.url} (pid {running.pid}),"
            f" metadata in {superset.database}"
        )
        return 0
    primary = project_settings.resolve()
    provisioning.tenants(primary)  # a missing demo build stops here, before anything starts
    if args.action == "start":
        running = superset.start(args.port)
    else:
        running = superset.status()
        if running is None:
            running = superset.start(args.port)
    report(provisioning.provision(superset, primary, running.url, home), superset)
    return 0
