"""Where a run ran: the machine (CPUs, memory, load) and the software versions, server settings
included, that its figures depend on."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from orchestration.lib import database
from orchestration.lib.database import ConnectionSettings
from orchestration.tools.bench.pgbench import pgbench_path

SERVER_SETTINGS = (
    "shared_buffers",
    "work_mem",
    "effective_cache_size",
    "max_parallel_workers_per_gather",
    "wal_buffers",
    "jit",
    "max_connections",
)


def load_average() -> list[float] | None:
    with contextlib.suppress(OSError):
        return [round(value, 2) for value in os.getloadavg()]
    return None


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "machine": platform.machine(),
    }
    if hasattr(os, "sched_getaffinity"):
        info["usable_cpus"] = len(os.sched_getaffinity(0))
    try:
        info["memory_bytes"] = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        info["memory_bytes"] = None
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    average = load_average()
    if average is not None:
        info["load_average"] = average
    return info


def software_versions(settings: ConnectionSettings) -> dict[str, Any]:
    versions: dict[str, Any] = {"python": platform.python_version()}
    for package in ("dbt-core", "dbt-postgres", "dagster", "psycopg"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    with database.connect(settings, autocommit=True) as conn:
        versions["postgres"] = conn.execute("show server_version").fetchone()[0]
        versions["server_settings"] = {
            name: conn.execute(f"show {name}").fetchone()[0] for name in SERVER_SETTINGS
        }
    versions["pgbench"] = subprocess.run(
        [pgbench_path(), "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    versions["server_source"] = settings.source
    return versions
