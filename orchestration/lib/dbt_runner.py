"""The one way the project runs dbt in a subprocess, and the one environment it runs in.

``dbt_env`` points dbt (profiles.yml) at a server and a source schema; ``run_dbt`` runs one
command with its artifacts and logs in a target folder of the caller's. Dagster's dbt assets run
dbt through ``value-view-dbt`` (``guarded_dbt_executable``) so that dbt ends with the step.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from orchestration.lib import settings as project_settings
from orchestration.lib.database import ConnectionSettings
from orchestration.lib.dbt_guard import dbt_executable
from orchestration.lib.process import CommandError, run_checked


class DbtCommandError(CommandError):
    """A dbt command the project runs itself (parse, compile, build) failed."""


def guarded_dbt_executable() -> str:
    """``value-view-dbt`` (dbt, ended with its parent) when installed, else dbt itself."""
    candidate = Path(sys.executable).parent / "value-view-dbt"
    return str(candidate) if candidate.exists() else dbt_executable()


def dbt_env(
    settings: ConnectionSettings | None = None,
    *,
    source_schema: str | None = None,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of a dbt process: ``base`` (the process environment by default) with the
    server's libpq variables, the source schema and the project's profiles folder.

    An inherited ``PGPASSWORD`` is kept when the settings carry no password of their own, as
    libpq does for this process's own connections.
    """
    env = dict(os.environ if base is None else base)
    if settings is not None:
        env.update(settings.env())
    env[project_settings.SOURCE_SCHEMA_ENV] = source_schema or project_settings.source_schema(env)
    env["DBT_PROFILES_DIR"] = str(project_settings.PROJECT_ROOT)
    env["DBT_PROJECT_DIR"] = str(project_settings.PROJECT_ROOT)
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return env


@contextmanager
def locked(directory: Path, name: str) -> Iterator[None]:
    """Hold an exclusive lock named ``name`` in ``directory`` (created when missing)."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / f".{name}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_dbt(
    args: list[str],
    *,
    target_path: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run one dbt command in the project, its artifacts and logs under ``target_path``.

    ``env`` is the base of ``dbt_env`` (default: the process environment); a failure raises
    DbtCommandError with the tail of dbt's output.
    """
    command_env = dbt_env(base=env)
    command_env["DBT_LOG_PATH"] = str(target_path)
    command_env.pop("DBT_TARGET_PATH", None)
    return run_checked(
        [dbt_executable(), *args, "--target-path", str(target_path)],
        what=f"dbt {' '.join(args)}",
        env=command_env,
        cwd=project_settings.PROJECT_ROOT,
        timeout=timeout,
        error=DbtCommandError,
    )
