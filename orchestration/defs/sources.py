"""The VITAL source tables: external assets that Dagster observes but never writes.

In every deployment each dbt source is an observable asset. An observation reads the table's row
count and newest change (``lib.sources``) and records them as the asset's data version, so a
change upstream shows in the UI and in the lineage of everything built from it.
"""

import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    BetaWarning,
    DataVersion,
    MetadataValue,
    ObserveResult,
    multi_observable_source_asset,
)

from orchestration.defs.resources import WarehouseResource
from orchestration.defs.translator import LAYER_TAG, SOURCES_GROUP, ValueViewTranslator
from orchestration.lib.sources import source_states

SOURCES_NAME = "vital_sources"


def source_tables(
    manifest: Mapping[str, Any], translator: ValueViewTranslator
) -> dict[AssetKey, Mapping[str, Any]]:
    """The dbt sources by asset key (the keys the staging models depend on)."""
    found: dict[AssetKey, Mapping[str, Any]] = {}
    for uid in sorted(manifest.get("sources", {})):
        node = manifest["sources"][uid]
        found[translator.get_asset_key(node)] = node
    return found


def table_name(node: Mapping[str, Any]) -> str:
    return str(node.get("identifier") or node["name"])


def build_source_observations(
    manifest: Mapping[str, Any],
    translator: ValueViewTranslator,
    upstream: Sequence[AssetKey] = (),
):
    """One observable multi-asset over every dbt source table; ``upstream`` names what writes
    them in this deployment (the demo-data loader in dev and ci, nothing in prod)."""
    tables = source_tables(manifest, translator)
    specs = [
        AssetSpec(
            key=key,
            group_name=SOURCES_GROUP,
            description=node.get("description") or f"VITAL source table {node['name']}",
            kinds={"postgres"},
            tags={LAYER_TAG: "sources"},
            metadata={"dagster/table_name": f"{node.get('schema')}.{table_name(node)}"},
            deps=list(upstream),
        )
        for key, node in tables.items()
    ]
    table_by_key = {key: table_name(node) for key, node in tables.items()}

    # The decorator is marked beta; what it does here (observe, record a data version) is not.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BetaWarning)
        observable = multi_observable_source_asset(
            specs=specs,
            name=SOURCES_NAME,
            can_subset=True,
            description=(
                "The VITAL source tables, read-only: each observation records the row count and"
                " the newest updated_at as the table's data version."
            ),
        )

    @observable
    def vital_sources(
        context: AssetExecutionContext, warehouse: WarehouseResource
    ) -> Iterator[ObserveResult]:
        selected = [key for key in table_by_key if key in context.selected_asset_keys]
        states = source_states(
            warehouse.settings(), warehouse.source(), [table_by_key[key] for key in selected]
        )
        for key in selected:
            state = states[table_by_key[key]]
            metadata: dict[str, MetadataValue] = {
                "dagster/row_count": MetadataValue.int(state.rows),
                "exists": MetadataValue.bool(state.exists),
            }
            if state.newest_change is not None:
                metadata["newest_change"] = MetadataValue.timestamp(state.newest_change)
            yield ObserveResult(
                asset_key=key, data_version=DataVersion(state.version), metadata=metadata
            )

    return vital_sources
