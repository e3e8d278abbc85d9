"""Every dbt model, seed and test, built with one `dbt build` (checks come from the tests)."""

import signal
import subprocess
from collections.abc import Iterator, Mapping
from typing import Any

from dagster import AssetExecutionContext
from dagster_dbt import DbtCliInvocation, DbtCliResource, DbtProject, dbt_assets

from orchestration.defs.resources import WarehouseResource
from orchestration.defs.translator import ValueViewTranslator

DBT_ASSETS_NAME = "value_view_dbt"


def build_dbt_assets(
    dbt_project: DbtProject, manifest: Mapping[str, Any], translator: ValueViewTranslator
):
    """Every dbt model, seed and test as assets and checks, built with one `dbt build`."""

    @dbt_assets(
        manifest=manifest,
        project=dbt_project,
        dagster_dbt_translator=translator,
        name=DBT_ASSETS_NAME,
    )
    def value_view_dbt(
        context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
    ) -> Iterator[Any]:
        with warehouse.dbt_environment(dbt_project):
            invocation = dbt.cli(["build"], context=context)
            try:
                yield from invocation.stream().fetch_row_counts()
            except BaseException:
                stop_dbt(invocation, context)
                raise

    return value_view_dbt


def stop_dbt(invocation: DbtCliInvocation, context: AssetExecutionContext) -> None:
    """End a dbt process the step is leaving behind (the step failed, for instance because the
    server went away and Dagster could not record an event), so no orphaned build goes on
    writing to the warehouse after the run is marked failed. SIGINT first, as dbt cancels its
    queries on it; SIGKILL when it does not exit in time."""
    process = invocation.process
    if process.poll() is not None:
        return
    context.log.warning(f"step failed while dbt was running: stopping dbt (pid {process.pid})")
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=invocation.termination_timeout_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
