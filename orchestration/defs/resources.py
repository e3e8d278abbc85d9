"""Dagster resources: the warehouse connection, dbt, and the benchmark settings.

Configuration is read when a run uses a resource, never at import time: a resource left at its
defaults resolves the server the same way as the CLI (``VALUE_VIEW_DATABASE_URL``, then ``PG*``,
then the embedded server).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from dagster import ConfigurableResource
from dagster_dbt import DbtCliResource, DbtProject
from pydantic import Field

from orchestration.defs.project import target_dir
from orchestration.lib import settings as project_settings
from orchestration.lib.database import ConnectionSettings, connect
from orchestration.lib.dbt_runner import dbt_env, guarded_dbt_executable


class WarehouseResource(ConfigurableResource):
    """The PostgreSQL database that holds the VITAL source tables and the built marts."""

    database_url: str | None = Field(
        default=None,
        description="postgresql:// URL of the warehouse; unset: resolve like the CLI does.",
    )
    source_schema: str | None = Field(
        default=None,
        description="VITAL source schema (default: VALUE_VIEW_SOURCE_SCHEMA, else vital).",
    )
    marts_schema: str = Field(
        default=project_settings.MARTS_SCHEMA, description="Schema of the BI-facing marts."
    )

    def settings(self) -> ConnectionSettings:
        if self.database_url:
            return project_settings.settings_from_url(self.database_url)
        return project_settings.resolve()

    def source(self) -> str:
        return self.source_schema or project_settings.source_schema()

    def connect(self, **kwargs: object) -> psycopg.Connection:
        return connect(self.settings(), **kwargs)

    def env(self) -> dict[str, str]:
        """The environment of a dbt process pointed at this warehouse (profiles.yml)."""
        return dbt_env(self.settings(), source_schema=self.source())

    @contextmanager
    def dbt_environment(self, dbt_project: DbtProject, **extra: str) -> Iterator[dict[str, str]]:
        """Point dbt invocations made inside the block at this warehouse and Dagster's target path
        (plus any ``extra`` dbt settings).

        DbtCliResource passes the process environment to dbt, so the block sets it and restores
        it afterwards.
        """
        values = {**self.env(), **extra}
        values["DBT_TARGET_PATH"] = str(target_dir(dbt_project))
        saved = {name: os.environ.get(name) for name in values}
        os.environ.update(values)
        try:
            yield values
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


class BenchmarkResource(ConfigurableResource):
    """How latency checks time a dashboard query; budget overrides for tests or tuning."""

    runs: int = Field(default=20, ge=1, description="Timed runs per query after the warm-up.")
    warmup_runs: int = Field(default=2, ge=0, description="Untimed runs that warm the cache.")
    statement_timeout_ms: int = Field(default=60_000, ge=1, description="Per-query timeout.")
    budget_overrides_ms: dict[str, float] = Field(
        default_factory=dict,
        description=(
            "p95 budgets that replace the ones in the marts' meta, keyed by analysis name or mart"
            " name; the key '*' applies to every benchmark."
        ),
    )

    def budget_for(self, analysis: str, model_name: str, declared_ms: float) -> float:
        for key in (analysis, model_name, "*"):
            if key in self.budget_overrides_ms:
                return float(self.budget_overrides_ms[key])
        return declared_ms


def dbt_resource(dbt_project: DbtProject) -> DbtCliResource:
    """The dbt CLI resource for the project: the dbt installed beside this interpreter, started
    through ``value-view-dbt`` so that it ends when the step that started it does."""
    return DbtCliResource(
        project_dir=dbt_project,
        profiles_dir=str(Path(dbt_project.project_dir)),
        dbt_executable=guarded_dbt_executable(),
    )
