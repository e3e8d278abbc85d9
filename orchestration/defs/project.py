"""The dbt project as Dagster sees it: a DbtProject handle on Dagster's own target path, and its
manifest (read through ``lib.manifest``, the one manifest reader)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dagster_dbt import DbtProject

from orchestration.lib import manifest as manifests
from orchestration.lib.settings import PROJECT_ROOT


def dbt_project(target_path: Path | str | None = None) -> DbtProject:
    """The dbt project at the repository root, with Dagster's own target path.

    The path is ``target_path``, else ``VALUE_VIEW_DBT_TARGET_PATH``, else ``target/dagster``;
    it is read when the definitions load, so a test or a second checkout can keep its own.
    """
    return DbtProject(
        project_dir=PROJECT_ROOT,
        target_path=manifests.target_path(target_path),
        profiles_dir=PROJECT_ROOT,
    )


def target_dir(project: DbtProject) -> Path:
    """The project's target path as an absolute directory."""
    path = Path(project.target_path)
    return path if path.is_absolute() else Path(project.project_dir) / path


def parse(project: DbtProject, env: Mapping[str, str] | None = None) -> Path:
    """Write a fresh manifest for ``project`` and return its path."""
    return manifests.parse(target_dir(project), env=env)


def load_manifest(project: DbtProject) -> Mapping[str, Any]:
    """The project's manifest, parsed first under `dagster dev` or when there is none yet."""
    project.prepare_if_dev()
    return manifests.load(target_dir(project))
