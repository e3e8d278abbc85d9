"""dbt as the bench runs it: the project's runner and environment, pointed at one benchmark
database and the bench's own target folder; a failure is a BenchError."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from orchestration.lib import manifest as project
from orchestration.lib.database import ConnectionSettings
from orchestration.lib.dbt_runner import DbtCommandError, dbt_env
from orchestration.lib.dbt_runner import run_dbt as run_project_dbt
from orchestration.tools.bench.options import BenchError, BenchOptions

DBT_TIMEOUT_S = 7200
INLINE_MARKER = "/* value-view bench inline: {} */"
INLINE_SPLIT = re.compile(r"/\* value-view bench inline: (\S+) \*/\n?")


def run_dbt(
    args: list[str], settings: ConnectionSettings, options: BenchOptions
) -> subprocess.CompletedProcess[str]:
    try:
        return run_project_dbt(
            args,
            target_path=Path(options.target_path),
            env=dbt_env(settings, source_schema=options.source_schema),
            timeout=DBT_TIMEOUT_S,
        )
    except DbtCommandError as error:
        raise BenchError(str(error)) from error


def parse(settings: ConnectionSettings, options: BenchOptions) -> Mapping[str, Any]:
    """A fresh manifest of the project, its relations named in this database."""
    target = Path(options.target_path)
    try:
        path = project.parse(target, env=dbt_env(settings, source_schema=options.source_schema))
    except DbtCommandError as error:
        raise BenchError(str(error)) from error
    return project.read(path)


def compile_inline(
    texts: Mapping[str, str], settings: ConnectionSettings, options: BenchOptions
) -> dict[str, str]:
    """Compile several SQL texts in one `dbt compile --inline`, split again by marker comments."""
    if not texts:
        return {}
    combined = "\n".join(f"{INLINE_MARKER.format(name)}\n{text}" for name, text in texts.items())
    result = run_dbt(
        ["--quiet", "compile", "--inline", combined, "--output", "json"], settings, options
    )
    compiled = json.loads(result.stdout[result.stdout.find("{") :])["compiled"]
    pieces = INLINE_SPLIT.split(compiled)
    found = dict(zip(pieces[1::2], pieces[2::2], strict=True))
    missing = set(texts) - set(found)
    if missing:
        raise BenchError(f"dbt compiled no SQL for {sorted(missing)}")
    return found


def compiled_query(
    unique_id: str, selector: str, settings: ConnectionSettings, options: BenchOptions
) -> str:
    """A model's own SELECT, compiled for this warehouse."""
    run_dbt(["--quiet", "compile", "--select", selector], settings, options)
    results = json.loads((Path(options.target_path) / "run_results.json").read_text())
    for result in results["results"]:
        if result["unique_id"] == unique_id and result.get("compiled_code"):
            return str(result["compiled_code"])
    raise BenchError(f"dbt compiled no SQL for {unique_id}")
