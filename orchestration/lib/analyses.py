"""The compiled SQL of the benchmark analyses (``analyses/benchmarks/<name>.sql``).

A parsed manifest holds no compiled code, so the analyses are compiled with ``dbt compile`` into
a folder per database (compiled SQL names the database) and reused until the analysis, the
relations it reads, or the database change. The latency checks and the benchmark both read them
from here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from orchestration.lib import manifest as manifests
from orchestration.lib.database import ConnectionSettings
from orchestration.lib.dbt_runner import dbt_env, locked, run_dbt

CACHE_FILE = "compiled_benchmarks.json"


class AnalysisError(RuntimeError):
    """A benchmark analysis is missing from the project or did not compile."""


def _fingerprint(
    manifest: Mapping[str, Any], analysis: Mapping[str, Any], dbname: str, source_schema: str
) -> str:
    nodes = manifest.get("nodes", {})
    sources = manifest.get("sources", {})
    upstream = sorted(
        manifests.qualified_name(nodes.get(uid) or sources.get(uid) or {"name": uid})
        for uid in analysis.get("depends_on", {}).get("nodes", [])
    )
    payload = [analysis.get("raw_code", ""), upstream, dbname, source_schema]
    return hashlib.sha256(json.dumps(payload).encode()).hexdigest()


def compiled_analysis(
    manifest: Mapping[str, Any],
    analysis: str,
    *,
    target: Path,
    settings: ConnectionSettings,
    source_schema: str,
) -> str:
    """The SQL of ``analyses/benchmarks/<analysis>.sql`` compiled for this database."""
    node = manifests.analysis_node(manifest, analysis)
    if node is None:
        raise AnalysisError(f"benchmark analysis {analysis!r} is not in the dbt project")
    directory = target / "benchmarks" / settings.dbname
    cache_file = directory / CACHE_FILE
    wanted = _fingerprint(manifest, node, settings.dbname, source_schema)
    with locked(directory, "compile"):
        cached = json.loads(cache_file.read_text()) if cache_file.exists() else {}
        entry = cached.get(analysis) or {}
        if entry.get("fingerprint") == wanted and entry.get("sql"):
            return entry["sql"]
        folder = str(node.get("original_file_path", "")).rsplit("/", 1)[0] or "analyses"
        run_dbt(
            ["compile", "--quiet", "--select", f"path:{folder}"],
            target_path=directory,
            env=dbt_env(settings, source_schema=source_schema),
        )
        compiled = json.loads((directory / "manifest.json").read_text())
        for candidate in compiled.get("nodes", {}).values():
            if candidate.get("resource_type") != "analysis" or not candidate.get("compiled_code"):
                continue
            current = manifests.analysis_node(manifest, candidate["name"])
            if current is None or current.get("original_file_path") != candidate.get(
                "original_file_path"
            ):
                continue
            cached[candidate["name"]] = {
                "fingerprint": _fingerprint(manifest, current, settings.dbname, source_schema),
                "sql": candidate["compiled_code"],
            }
        cache_file.write_text(json.dumps(cached, indent=2))
    if analysis not in cached:
        raise AnalysisError(f"dbt compile produced no SQL for analysis {analysis!r}")
    return cached[analysis]["sql"]
