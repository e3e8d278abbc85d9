"""The demo-data loader: an asset of the dev and ci deployments only (``settings.deployment``).

It writes the VITAL source tables, which every other deployment treats as read-only, so
``definitions`` registers it only where ``VALUE_VIEW_TARGET`` is dev or ci. The generator itself is
a tool that Dagster never imports: the asset runs ``value-view demo-data`` in a subprocess against
the warehouse, the way Dagster runs any external program, and records what it reports.
"""

import json
import sys

from dagster import (
    AssetExecutionContext,
    AssetKey,
    Config,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)
from pydantic import Field

from orchestration.defs.resources import WarehouseResource
from orchestration.defs.translator import LAYER_TAG, SOURCES_GROUP
from orchestration.lib.process import CommandError, run_checked
from orchestration.lib.settings import DATABASE_URL_ENV

DEMO_DATA_NAME = "vital_demo_data"
DEMO_DATA_KEY = AssetKey([DEMO_DATA_NAME])
DEFAULT_SCALE = 1
DEFAULT_SEED = 42
DEFAULT_HISTORY_DAYS = 90
DEFAULT_TENANTS = 6  # enough for the peer benchmarks (5 other tenants) to publish figures
CLI_MODULE = "orchestration.tools.cli"
LOAD_TIMEOUT_S = 3 * 3600


class DemoDataConfig(Config):
    """How much deterministic demo data to load, and whether to replace what is there."""

    scale: int = Field(default=DEFAULT_SCALE, ge=1, le=1000, description="Multiplies volumes.")
    seed: int = Field(default=DEFAULT_SEED, ge=0, description="Random seed.")
    reset: bool = Field(default=False, description="Replace data already in the source schema.")
    tenants: int | None = Field(
        default=None,
        ge=2,
        description=(
            "Tenants sharing the scale's volumes (default: 6, or scale + 1 when that is more)."
        ),
    )
    history_days: int = Field(
        default=DEFAULT_HISTORY_DAYS,
        ge=0,
        le=3650,
        description="Days of dated ODI score changes replayed into the score history.",
    )
    as_of: str | None = Field(
        default=None, description="Anchor date YYYY-MM-DD for timestamps (default: today, UTC)."
    )


def demo_data_command(config: DemoDataConfig, schema: str) -> list[str]:
    """``value-view demo-data`` for ``config``: keeps data already loaded unless ``reset``."""
    command = [sys.executable, "-m", CLI_MODULE, "demo-data", "--json", "--if-empty"]
    command += ["--scale", str(config.scale), "--seed", str(config.seed), "--schema", schema]
    tenants = config.tenants or max(DEFAULT_TENANTS, config.scale + 1)
    command += ["--tenants", str(tenants), "--history-days", str(config.history_days)]
    if config.as_of:
        command += ["--as-of", config.as_of]
    if config.reset:
        command.append("--reset")
    return command


@asset(
    key=DEMO_DATA_KEY,
    group_name=SOURCES_GROUP,
    kinds={"python", "postgres"},
    tags={LAYER_TAG: "sources"},
    description=(
        "Deterministic demo data for the VITAL source tables (dev and ci deployments only)."
        " Loads only when the source schema is empty, or when `reset` is set."
    ),
)
def vital_demo_data(
    context: AssetExecutionContext, config: DemoDataConfig, warehouse: WarehouseResource
) -> MaterializeResult:
    settings = warehouse.settings()
    env = warehouse.env()
    env[DATABASE_URL_ENV] = settings.url
    try:
        result = run_checked(
            demo_data_command(config, warehouse.source()),
            what="value-view demo-data",
            env=env,
            timeout=LOAD_TIMEOUT_S,
        )
    except CommandError as error:
        raise Failure(description=str(error)) from error
    report = json.loads(result.stdout)
    counts: dict[str, int] = report["counts"]
    loaded = bool(report["loaded"])
    action = "loaded" if loaded else "kept the data already in"
    context.log.info(f"{action} schema {report['schema']}: {sum(counts.values()):,} rows")
    metadata: dict[str, MetadataValue] = {
        "loaded_now": MetadataValue.bool(loaded),
        "schema": MetadataValue.text(report["schema"]),
        "dagster/row_count": MetadataValue.int(sum(counts.values())),
        "tables": MetadataValue.int(len(counts)),
    }
    if loaded:
        metadata["scale"] = MetadataValue.int(config.scale)
        metadata["seed"] = MetadataValue.int(config.seed)
    return MaterializeResult(metadata=metadata)
