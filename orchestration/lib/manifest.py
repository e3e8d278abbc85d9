"""The one reader of the dbt manifest, and what it says about each node.

Everything the project knows about a mart (layer, owner, refresh cadence, benchmark) comes from
the mart's ``config.meta`` in its YAML (see CONTRIBUTING.md); this module reads it from the
manifest, so that schedules, checks, the benchmark and the CLI never list model names. A *BI
relation* is a model of this project under ``models/marts/`` that builds a relation: the marts
schema's contract with BI tools.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from orchestration.lib.dbt_runner import locked, run_dbt
from orchestration.lib.settings import PROJECT_ROOT

# Dagster keeps its own dbt artifacts apart from an analytics engineer's `target/`.
DEFAULT_TARGET_PATH = Path("target") / "dagster"
TARGET_PATH_ENV = "VALUE_VIEW_DBT_TARGET_PATH"
MARTS_FOLDER = "marts"
MART_LAYERS = ("marts", "realtime", "rollups", "professional_tier")
REALTIME_TIER = "realtime"
QUARANTINE_LAYER = "quarantine"
LATENCY_CHECK = "latency_p95"
BENCHMARKS = Path("analyses") / "benchmarks"
RAW_BENCHMARKS = BENCHMARKS / "raw"
WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def target_path(explicit: Path | str | None = None) -> Path:
    """Where dbt writes the manifest the orchestration reads, as an absolute path: ``explicit``,
    else ``VALUE_VIEW_DBT_TARGET_PATH``, else ``target/dagster`` in the project."""
    chosen = Path(explicit or os.environ.get(TARGET_PATH_ENV) or DEFAULT_TARGET_PATH)
    return chosen if chosen.is_absolute() else PROJECT_ROOT / chosen


def parse(target: Path, env: Mapping[str, str] | None = None) -> Path:
    """Write a fresh manifest.json under ``target`` (``dbt parse``) and return its path."""
    with locked(target, "parse"):
        run_dbt(["parse", "--quiet"], target_path=target, env=env)
    _read.cache_clear()
    return target / "manifest.json"


@cache
def _read(path: str, mtime_ns: int) -> Mapping[str, Any]:
    return json.loads(Path(path).read_text())


def read(path: Path) -> Mapping[str, Any]:
    """The manifest at ``path`` (cached per file version)."""
    return _read(str(path), path.stat().st_mtime_ns)


def load(target: Path, env: Mapping[str, str] | None = None) -> Mapping[str, Any]:
    """The manifest under ``target``, parsed first when there is none yet."""
    path = target / "manifest.json"
    if not path.exists():
        parse(target, env=env)
    return read(path)


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


def is_bi_relation(node: Mapping[str, Any], project_name: str | None = None) -> bool:
    """Whether a node is a BI relation: an enabled model of the project (``project_name``, when
    given) under models/marts/ that builds a relation (not ephemeral)."""
    config = node.get("config") or {}
    fqn = node.get("fqn") or []
    return (
        node.get("resource_type") == "model"
        and (not project_name or node.get("package_name") == project_name)
        and len(fqn) >= 3
        and fqn[1] == MARTS_FOLDER
        and config.get("enabled", True)
        and config.get("materialized") != "ephemeral"
    )


def project_name(manifest: Mapping[str, Any]) -> str | None:
    return (manifest.get("metadata") or {}).get("project_name")


def relation_name(node: Mapping[str, Any]) -> str:
    """The relation a node builds, without schema: its alias, else its name."""
    return str(node.get("alias") or node["name"])


def dbt_selector(node: Mapping[str, Any]) -> str:
    """A dbt selection term that names exactly one node (its fully qualified name)."""
    return "fqn:" + ".".join(node["fqn"])


def qualified_name(node: Mapping[str, Any]) -> str:
    return f"{node.get('schema')}.{relation_name(node)}"


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
    if not is_bi_relation(node):
        return None
    cron = refresh_cron(node)
    if cron:
        return tier_name(cron)
    return REALTIME_TIER if model_layer(node) == "realtime" else None


def mart_nodes(manifest: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The BI relations (every version) by unique id, in a stable order."""
    nodes = manifest.get("nodes", {})
    name = project_name(manifest)
    return {uid: nodes[uid] for uid in sorted(nodes) if is_bi_relation(nodes[uid], name)}


def latest_mart_nodes(manifest: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The BI relations' latest versions (and the unversioned ones) by unique id."""
    return {uid: node for uid, node in mart_nodes(manifest).items() if is_latest_version(node)}


def quarantine_models(manifest: Mapping[str, Any]) -> list[str]:
    """The models of the quarantine layer (models/quarantine: the quarantine tables staging
    reads and the reconciliation over them), by unique id in a stable order."""
    return [
        uid
        for uid, node in sorted(manifest.get("nodes", {}).items())
        if node.get("resource_type") == "model"
        and node.get("package_name") == project_name(manifest)
        and model_layer(node) == QUARANTINE_LAYER
    ]


def snapshot_nodes(manifest: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The project's snapshots by unique id, in a stable order."""
    nodes = manifest.get("nodes", {})
    name = project_name(manifest)
    return {
        uid: nodes[uid]
        for uid in sorted(nodes)
        if nodes[uid].get("resource_type") == "snapshot"
        and (not name or nodes[uid].get("package_name") == name)
    }


def refresh_tiers(manifest: Mapping[str, Any]) -> dict[str, list[str]]:
    """Unique ids of the snapshots and marts refreshed on each cron, keyed by cron (a tier's
    snapshots first: `dbt build` takes them before the marts that read them)."""
    tiers: dict[str, list[str]] = {}
    for uid, node in {**snapshot_nodes(manifest), **mart_nodes(manifest)}.items():
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
