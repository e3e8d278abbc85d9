"""Assets: the demo-data load (the VITAL source tables) and every dbt model from the manifest."""

import datetime as dt
import signal
import subprocess
from collections.abc import Iterator, Mapping
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    Config,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)
from dagster_dbt import DbtCliInvocation, DbtCliResource, DbtProject, dbt_assets
from pydantic import Field

from orchestration.resources import WarehouseResource
from orchestration.translator import SOURCES_GROUP, ValueViewTranslator

DBT_ASSETS_NAME = "value_view_dbt"
DEMO_DATA_NAME = "vital_demo_data"
DEFAULT_SCALE = 1
DEFAULT_SEED = 42


class DemoDataConfig(Config):
    """How much deterministic demo data to load, and whether to replace what is there."""

    scale: int = Field(default=DEFAULT_SCALE, ge=1, le=1000, description="Multiplies volumes.")
    seed: int = Field(default=DEFAULT_SEED, ge=0, description="Random seed.")
    reset: bool = Field(default=False, description="Replace data already in the source schema.")
    as_of: str | None = Field(
        default=None, description="Anchor date YYYY-MM-DD for timestamps (default: today, UTC)."
    )


def source_tables(
    manifest: Mapping[str, Any], translator: ValueViewTranslator
) -> dict[AssetKey, Mapping[str, Any]]:
    """The dbt sources by asset key (the keys the staging models depend on)."""
    found: dict[AssetKey, Mapping[str, Any]] = {}
    for uid in sorted(manifest.get("sources", {})):
        node = manifest["sources"][uid]
        found[translator.get_asset_key(node)] = node
    return found


def source_schema_counts(warehouse: WarehouseResource, schema: str) -> dict[str, int]:
    """Row counts of the tables in the source schema; empty when the schema does not exist."""
    from orchestration import demo_data

    settings = warehouse.settings()
    with warehouse.connect() as conn:
        exists = conn.execute("select 1 from pg_namespace where nspname = %s", (schema,)).fetchone()
    if not exists:
        return {}
    try:
        return dict(demo_data.table_counts(settings, schema))
    except demo_data.DemoDataError:
        # Tables missing: the loader creates them, or says why it cannot.
        return {}


def load_source_data(
    warehouse: WarehouseResource,
    *,
    scale: int,
    seed: int,
    reset: bool,
    as_of: dt.date | None = None,
    progress: bool = False,
) -> tuple[dict[str, int], bool]:
    """Load demo data unless the source schema already holds some; (row counts, loaded now)."""
    from orchestration import demo_data

    schema = warehouse.source()
    counts = source_schema_counts(warehouse, schema)
    if counts and any(counts.values()) and not reset:
        return counts, False
    loaded = demo_data.load_demo_data(
        warehouse.settings(),
        scale=scale,
        seed=seed,
        schema=schema,
        reset=reset,
        as_of=as_of or dt.datetime.now(dt.timezone.utc).date(),
        progress=progress,
    )
    return dict(loaded), True


def build_demo_data_asset(manifest: Mapping[str, Any], translator: ValueViewTranslator):
    """One multi-asset that produces every dbt source table by loading the demo data."""
    tables = source_tables(manifest, translator)
    specs = [
        AssetSpec(
            key=key,
            group_name=SOURCES_GROUP,
            description=node.get("description") or f"VITAL source table {node['name']}",
            kinds={"postgres"},
            tags={"value_view/layer": "sources"},
            metadata={"dagster/table_name": f"{node.get('schema')}.{node['name']}"},
        )
        for key, node in tables.items()
    ]
    table_by_key = {key: node.get("identifier") or node["name"] for key, node in tables.items()}

    @multi_asset(
        name=DEMO_DATA_NAME,
        specs=specs,
        description=(
            "Deterministic demo data for the VITAL source tables (orchestration/demo_data.py)."
            " Loads only when the source schema is empty, or when `reset` is set."
        ),
    )
    def vital_demo_data(
        context: AssetExecutionContext, config: DemoDataConfig, warehouse: WarehouseResource
    ) -> Iterator[MaterializeResult]:
        as_of = dt.date.fromisoformat(config.as_of) if config.as_of else None
        counts, loaded = load_source_data(
            warehouse, scale=config.scale, seed=config.seed, reset=config.reset, as_of=as_of
        )
        action = "loaded" if loaded else "kept the data already in"
        context.log.info(f"{action} schema {warehouse.source()}: {sum(counts.values()):,} rows")
        run_metadata: dict[str, MetadataValue] = {"loaded_now": MetadataValue.bool(loaded)}
        if loaded:
            run_metadata["scale"] = MetadataValue.int(config.scale)
            run_metadata["seed"] = MetadataValue.int(config.seed)
        for key, table in table_by_key.items():
            yield MaterializeResult(
                asset_key=key,
                metadata={
                    "dagster/row_count": MetadataValue.int(int(counts.get(table, 0))),
                    **run_metadata,
                },
            )

    return vital_demo_data


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
