"""`value-view ui`: the Dagster webserver and daemon on the PostgreSQL-backed instance."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from orchestration.defs import project
from orchestration.lib import manifest as manifests
from orchestration.lib import settings as project_settings
from orchestration.lib.database import ConnectionSettings, ensure_database
from orchestration.lib.dbt_runner import dbt_env
from orchestration.tools import instance as dagster_home

DEFINITIONS_MODULE = "orchestration.definitions"
LOCATION_NAME = "value_view"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 3000


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def process_env(
    settings: ConnectionSettings, home: Path, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment for the webserver, the daemon and the runs they launch: dbt's, pointed
    at ``settings`` (which the runs resolve through the PG* variables), and the instance's."""
    base = dict(os.environ)
    base.pop(project_settings.DATABASE_URL_ENV, None)
    env = dbt_env(settings, base=base)
    env.update(dagster_home.instance_env(settings, home))
    env.update(extra or {})
    return env


def write_workspace(home: Path) -> Path:
    """A workspace.yaml naming the code location as pyproject.toml does (``value_view``)."""
    workspace = {
        "load_from": [
            {
                "python_module": {
                    "module_name": DEFINITIONS_MODULE,
                    "location_name": LOCATION_NAME,
                    "working_directory": str(project_settings.PROJECT_ROOT),
                }
            }
        ]
    }
    path = home / "workspace.yaml"
    path.write_text(yaml.safe_dump(workspace, sort_keys=False))
    return path


def webserver_command(workspace: Path, host: str, port: int) -> list[str]:
    return [
        _bin("dagster-webserver"),
        "--host",
        host,
        "--port",
        str(port),
        "--workspace",
        str(workspace),
    ]


def daemon_command(workspace: Path) -> list[str]:
    return [_bin("dagster-daemon"), "run", "--workspace", str(workspace)]


@dataclass
class Services:
    """The processes of a running UI."""

    url: str
    processes: list[subprocess.Popen]

    def stop(self, timeout: float = 20) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def graphql(url: str, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """POST a GraphQL request to the webserver; the whole response (``data`` and ``errors``)."""
    request = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": query, "variables": dict(variables or {})}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        # GraphQL errors come with a 4xx/5xx status and a JSON body naming them.
        body = error.read()
        try:
            return json.loads(body)
        except ValueError:
            raise error from None


def wait_for_webserver(url: str, processes: Sequence[subprocess.Popen], timeout: float) -> None:
    """Wait until the webserver answers its health endpoint; raise if a process exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise RuntimeError(f"{process.args[0]} exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/server_info", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the Dagster webserver did not answer at {url} within {timeout:.0f}s")


def start(
    settings: ConnectionSettings,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    home: Path | None = None,
    daemon: bool = True,
    extra_env: Mapping[str, str] | None = None,
    log_dir: Path | None = None,
    timeout: float = 180,
) -> Services:
    """Start the webserver (and the daemon) against the instance for ``settings``."""
    home = dagster_home.prepare(settings, home)
    env = process_env(settings, home, extra_env)
    project.load_manifest(project.dbt_project(env.get(manifests.TARGET_PATH_ENV)))
    url = f"http://{host}:{port}"
    processes = []
    workspace = write_workspace(home)
    commands = [webserver_command(workspace, host, port)]
    if daemon:
        commands.append(daemon_command(workspace))
    for command in commands:
        output = None
        if log_dir is not None:
            log_dir.mkdir(parents=True, exist_ok=True)
            output = (log_dir / f"{Path(command[0]).name}.log").open("w")
        processes.append(
            subprocess.Popen(
                command,
                env=env,
                cwd=project_settings.PROJECT_ROOT,
                stdout=output,
                stderr=subprocess.STDOUT if output else None,
                stdin=subprocess.DEVNULL,
            )
        )
    services = Services(url=url, processes=processes)
    try:
        wait_for_webserver(url, processes, timeout)
    except BaseException:
        services.stop()
        raise
    return services


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def run(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> int:
    """Serve the UI until interrupted (Ctrl-C stops the webserver and the daemon)."""
    settings = project_settings.resolve()
    ensure_database(settings)
    dbt_project = project.dbt_project()
    project.parse(dbt_project, env=process_env(settings, dagster_home.dagster_home()))
    services = start(settings, host=host, port=port)
    print(f"Dagster UI on {services.url} (webserver + daemon; Ctrl-C stops both)", flush=True)
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        while all(process.poll() is None for process in services.processes):
            time.sleep(1)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        services.stop()
    failed = [p for p in services.processes if p.returncode not in (0, None, -signal.SIGTERM)]
    return 1 if failed else 0
