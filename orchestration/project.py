"""The dbt project handle, and what its manifest says about the marts.

Everything the Dagster side knows about a mart (layer, owner, refresh cadence, benchmark) comes
from the mart's ``config.meta`` in its YAML (see CONTRIBUTING.md); this module reads it from the
manifest so that schedules, checks and the translator never list model names.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from dagster_dbt import DbtProject

from orchestration.database import PROJECT_ROOT
from orchestration.dbt_guard import dbt_executable

# Dagster keeps its own dbt artifacts apart from an analytics engineer's `target/`.
DEFAULT_TARGET_PATH = Path("target") / "dagster"
TARGET_PATH_ENV = "VALUE_VIEW_DBT_TARGET_PATH"
MART_LAYERS = ("marts", "realtime", "rollups", "professional_tier")
REALTIME_TIER = "realtime"
LATENCY_CHECK = "latency_p95"
BENCHMARKS = Path("analyses") / "benchmarks"
WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


class DbtCommandError(RuntimeError):
    """A dbt command the orchestration runs itself (parse, compile) failed."""


def guarded_dbt_executable() -> str:
    """``value-view-dbt`` (dbt, ended with its parent) when installed, else dbt itself."""
    candidate = Path(sys.executable).parent / "value-view-dbt"
    return str(candidate) if candidate.exists() else dbt_executable()


def dbt_project(target_path: Path | str | None = None) -> DbtProject:
    """The dbt project at the repository root, with Dagster's own target path.

    The path is ``target_path``, else ``VALUE_VIEW_DBT_TARGET_PATH``, else ``target/dagster``;
    it is read when the definitions load, so a test or a second checkout can keep its own.
    """
    chosen = target_path or os.environ.get(TARGET_PATH_ENV) or DEFAULT_TARGET_PATH
    return DbtProject(project_dir=PROJECT_ROOT, target_path=Path(chosen), profiles_dir=PROJECT_ROOT)


def target_dir(project: DbtProject) -> Path:
    """The project's target path as an absolute directory."""
    path = Path(project.target_path)
    return path if path.is_absolute() else Path(project.project_dir) / path


@contextmanager
def locked(directory: Path, name: str) -> Iterator[None]:
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
    """Run one dbt command in the project, its artifacts and logs under ``target_path``."""
    command_env = dict(os.environ if env is None else env)
    command_env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    command_env["DBT_PROFILES_DIR"] = str(PROJECT_ROOT)
    command_env["DBT_LOG_PATH"] = str(target_path)
    command_env.pop("DBT_TARGET_PATH", None)
    result = subprocess.run(
        [dbt_executable(), *args, "--target-path", str(target_path)],
        cwd=PROJECT_ROOT,
        env=command_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-30:])
        raise DbtCommandError(f"dbt {' '.join(args)} failed:\n{tail}")
    return result


def parse(project: DbtProject, env: Mapping[str, str] | None = None) -> Path:
    """Write a fresh manifest.json for ``project`` (``dbt parse``) and return its path."""
    directory = target_dir(project)
    with locked(directory, "parse"):
        run_dbt(["parse", "--quiet"], target_path=directory, env=env)
    _read_manifest.cache_clear()
    return Path(project.manifest_path)


def ensure_manifest(project: DbtProject) -> Path:
    """The manifest path, parsing first under `dagster dev` or when no manifest exists yet."""
    project.prepare_if_dev()
    if not Path(project.manifest_path).exists():
        parse(project)
    return Path(project.manifest_path)


@cache
def _read_manifest(path: str, mtime_ns: int) -> Mapping[str, Any]:
    return json.loads(Path(path).read_text())


def load_manifest(project: DbtProject) -> Mapping[str, Any]:
    """The parsed manifest (cached per file version)."""
    path = ensure_manifest(project)
    return _read_manifest(str(path), path.stat().st_mtime_ns)


# --------------------------------------------------------------------------------------
# What the manifest says about each node
# --------------------------------------------------------------------------------------


def node_meta(node: Mapping[str, Any]) -> Mapping[str, Any]:
    """A node's meta: ``config.meta`` (where the YAML puts it), else the top-level ``meta``."""
    return (node.get("config") or {}).get("meta") or node.get("meta") or {}


def model_layer(node: Mapping[str, Any]) -> str | None:
    """The layer of a model: ``meta.layer`` when set, else its folder under models/."""
    layer = node_meta(node).get("layer")
    if layer:
        return str(layer)
    parts = Path(node.get("original_file_path", "")).parts
    if len(parts) < 2 or parts[0] != "models":
        return None
    if parts[1] == "marts":
        if len(parts) > 3 and parts[2] in MART_LAYERS:
            return parts[2]
        return "marts"
    return parts[1]


def is_mart(node: Mapping[str, Any]) -> bool:
    return node.get("resource_type") == "model" and model_layer(node) in MART_LAYERS


def refresh_cron(node: Mapping[str, Any]) -> str | None:
    refresh = node_meta(node).get("refresh") or {}
    cron = refresh.get("cron") if isinstance(refresh, Mapping) else None
    return " ".join(str(cron).split()) if cron else None


def tier_name(cron: str) -> str:
    """A readable tag value for a refresh cron: hourly, daily_0200, weekly_sun_0100, ..."""
    fields = cron.split()
    if len(fields) != 5:
        raise ValueError(f"refresh cron must have five fields, got {cron!r}")
    minute, hour, day, month, weekday = fields
    if not (minute.isdigit() and (hour == "*" or hour.isdigit())):
        return _sanitized(cron)
    at = f"{int(hour):02d}{int(minute):02d}" if hour.isdigit() else ""
    if hour == "*" and (day, month, weekday) == ("*", "*", "*"):
        return "hourly" if int(minute) == 0 else f"hourly_{int(minute):02d}"
    if not at:
        return _sanitized(cron)
    if (day, month, weekday) == ("*", "*", "*"):
        return f"daily_{at}"
    if (day, month) == ("*", "*") and weekday.isdigit() and int(weekday) <= 7:
        return f"weekly_{WEEKDAYS[int(weekday) % 7]}_{at}"
    if day.isdigit() and (month, weekday) == ("*", "*"):
        return f"monthly_{int(day):02d}_{at}"
    return _sanitized(cron)


def _sanitized(cron: str) -> str:
    return "cron_" + "".join(char if char.isalnum() else "_" for char in cron)


def node_tier(node: Mapping[str, Any]) -> str | None:
    """The refresh tier of a mart: its cron's tier name, ``realtime`` without a cron."""
    if not is_mart(node):
        return None
    cron = refresh_cron(node)
    if cron:
        return tier_name(cron)
    return REALTIME_TIER if model_layer(node) == "realtime" else None


def mart_nodes(manifest: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Mart models by unique id, in a stable order."""
    nodes = manifest.get("nodes", {})
    return {uid: nodes[uid] for uid in sorted(nodes) if is_mart(nodes[uid])}


def refresh_tiers(manifest: Mapping[str, Any]) -> dict[str, list[str]]:
    """Unique ids of the marts refreshed on each cron, keyed by cron."""
    tiers: dict[str, list[str]] = {}
    for uid, node in mart_nodes(manifest).items():
        cron = refresh_cron(node)
        if cron:
            tiers.setdefault(cron, []).append(uid)
    return dict(sorted(tiers.items(), key=lambda item: _cron_order(item[0])))


def _cron_order(cron: str) -> tuple[int, int, int]:
    minute, hour, _, _, weekday = cron.split()
    rank = 0 if hour == "*" else 1 if weekday == "*" else 2
    return (rank, int(hour) if hour.isdigit() else -1, int(minute) if minute.isdigit() else -1)


@dataclass(frozen=True)
class Benchmark:
    """A mart's dashboard query and the latency budget it is held to."""

    unique_id: str
    model_name: str
    analysis: str
    p95_budget_ms: float
    max_rows: int | None
    expect_index_scan: bool
    check_name: str = LATENCY_CHECK


def _benchmark(uid: str, node: Mapping[str, Any], bench: Mapping[str, Any], check: str):
    max_rows = bench.get("max_rows")
    return Benchmark(
        unique_id=uid,
        model_name=node["name"],
        analysis=str(bench["analysis"]),
        p95_budget_ms=float(bench["p95_budget_ms"]),
        max_rows=int(max_rows) if max_rows is not None else None,
        expect_index_scan=bool(bench.get("expect_index_scan", False)),
        check_name=check,
    )


def benchmarks(manifest: Mapping[str, Any]) -> list[Benchmark]:
    """The benchmarks of the marts' meta (latest versions only): ``benchmark`` gives the check
    ``latency_p95``; each entry of ``additional_benchmarks`` gives ``latency_p95_<analysis>``."""
    found = []
    for uid, node in mart_nodes(manifest).items():
        if not is_latest_version(node):
            continue
        meta = node_meta(node)
        bench = meta.get("benchmark")
        if isinstance(bench, Mapping) and bench.get("analysis"):
            found.append(_benchmark(uid, node, bench, LATENCY_CHECK))
        for extra in meta.get("additional_benchmarks") or []:
            if isinstance(extra, Mapping) and extra.get("analysis"):
                suffix = str(extra["analysis"]).removeprefix("bench_")
                found.append(_benchmark(uid, node, extra, f"{LATENCY_CHECK}_{suffix}"))
    return found


def is_latest_version(node: Mapping[str, Any]) -> bool:
    version = node.get("version")
    return version is None or str(version) == str(node.get("latest_version"))


def analysis_node(manifest: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    """The benchmark analysis ``analyses/benchmarks/<name>.sql`` (not its raw twin)."""
    found = [
        node
        for node in manifest.get("nodes", {}).values()
        if node.get("resource_type") == "analysis" and node.get("name") == name
    ]
    found.sort(key=lambda node: Path(node.get("original_file_path", "")).parent != BENCHMARKS)
    return found[0] if found else None
