"""How dbt nodes become Dagster assets: keys, groups, owners and tier tags from the marts' meta."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dagster import AssetKey
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings

from orchestration.lib import manifest as manifests

TIER_TAG = "value_view/tier"
LAYER_TAG = "value_view/layer"
SOURCES_GROUP = "sources"
SEEDS_GROUP = "reference"


def owner_of(meta: Mapping[str, Any]) -> list[str]:
    """Dagster owners from ``meta.owner``: e-mails stay, team names become ``team:<name>``."""
    raw = meta.get("owner")
    values = [raw] if isinstance(raw, str) else list(raw or [])
    owners = []
    for value in values:
        value = str(value).strip()
        if not value:
            continue
        owners.append(value if "@" in value or value.startswith("team:") else f"team:{value}")
    return owners


def versioned_asset_key(node: Mapping[str, Any]) -> AssetKey:
    """The stable key of a versioned model: the latest version keeps the unsuffixed name, so
    moving a mart to v2 keeps its Dagster history; older versions get ``<name>_v<N>``."""
    schema = (node.get("config") or {}).get("schema") or node.get("schema")
    name = node["name"]
    if not manifests.is_latest_version(node):
        name = f"{name}_v{node['version']}"
    return AssetKey([schema, name] if schema else [name])


class ValueViewTranslator(DagsterDbtTranslator):
    """Groups by layer, owners from ``meta.owner``, refresh tier in tags, stable versioned keys."""

    def __init__(self, settings: DagsterDbtTranslatorSettings | None = None) -> None:
        # dbt tests become asset checks, the source tests too (on the demo-data source assets).
        super().__init__(
            settings
            or DagsterDbtTranslatorSettings(
                enable_asset_checks=True, enable_source_tests_as_checks=True
            )
        )

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        meta = manifests.node_meta(dbt_resource_props)
        if (meta.get("dagster") or {}).get("asset_key"):
            return super().get_asset_key(dbt_resource_props)
        if dbt_resource_props.get("resource_type") == "model" and dbt_resource_props.get("version"):
            return versioned_asset_key(dbt_resource_props)
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        resource_type = dbt_resource_props.get("resource_type")
        if resource_type == "source":
            return SOURCES_GROUP
        if resource_type == "seed":
            return SEEDS_GROUP
        return manifests.model_layer(dbt_resource_props) or super().get_group_name(
            dbt_resource_props
        )

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> Sequence[str] | None:
        owners = owner_of(manifests.node_meta(dbt_resource_props))
        return owners or super().get_owners(dbt_resource_props)

    def get_tags(self, dbt_resource_props: Mapping[str, Any]) -> Mapping[str, str]:
        tags = dict(super().get_tags(dbt_resource_props))
        if dbt_resource_props.get("resource_type") == "model":
            layer = manifests.model_layer(dbt_resource_props)
            if layer:
                tags[LAYER_TAG] = layer
            tier = manifests.node_tier(dbt_resource_props)
            if tier:
                tags[TIER_TAG] = tier
        return tags

    def get_metadata(self, dbt_resource_props: Mapping[str, Any]) -> Mapping[str, Any]:
        metadata = dict(super().get_metadata(dbt_resource_props))
        if not manifests.is_bi_relation(dbt_resource_props):
            return metadata
        cron = manifests.refresh_cron(dbt_resource_props)
        metadata["value_view/refresh"] = f"{cron} (UTC)" if cron else "real-time"
        bench = manifests.node_meta(dbt_resource_props).get("benchmark")
        if isinstance(bench, Mapping) and bench.get("analysis"):
            metadata["value_view/benchmark"] = str(bench["analysis"])
            metadata["value_view/p95_budget_ms"] = float(bench.get("p95_budget_ms", 0))
        return metadata
