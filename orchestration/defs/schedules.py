"""One refresh job and schedule per distinct ``meta.refresh.cron`` of the marts, from the manifest.

Each job builds its tier's relations with ``dbt build`` (so their dbt tests run too) and runs the
latency and freshness checks on them. It first brings the whole quarantine up to date (the
quarantine tables every staging model filters with, and the reconciliation over them), so that
rows that turned bad since the last build are kept out of the rebuilt marts and out of the
real-time views, which read the same staging models; a quarantine model whose inputs did not
change is skipped like a mart. Runs carry the tier in the ``value_view/tier``
tag; the instance's run queue allows one run per tier value at a time, so two refreshes of one
tier never overlap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dagster import (
    AssetKey,
    AssetsDefinition,
    AssetSelection,
    DefaultScheduleStatus,
    ScheduleDefinition,
    define_asset_job,
)
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,
)
from dagster_dbt import build_dbt_asset_selection

from orchestration.defs.translator import TIER_TAG, ValueViewTranslator
from orchestration.defs.warehouse_checks import WAREHOUSE_KEY
from orchestration.lib import manifest as manifests

TIMEZONE = "UTC"
PIPELINE_JOB = "value_view_pipeline"


@dataclass(frozen=True)
class Tier:
    """A refresh tier: its cron, its tag value, and the marts it rebuilds."""

    cron: str
    name: str
    unique_ids: tuple[str, ...]
    asset_keys: tuple[AssetKey, ...]
    quarantine_keys: tuple[AssetKey, ...]
    dbt_select: str

    @property
    def job_name(self) -> str:
        return f"refresh_{self.name}"

    @property
    def schedule_name(self) -> str:
        return f"refresh_{self.name}_schedule"


def refresh_tiers(manifest: Mapping[str, Any], translator: ValueViewTranslator) -> list[Tier]:
    """The refresh tiers declared in the marts' meta, hourly first."""
    tiers = []
    quarantine = [manifest["nodes"][uid] for uid in manifests.quarantine_models(manifest)]
    for cron, unique_ids in manifests.refresh_tiers(manifest).items():
        nodes = [manifest["nodes"][uid] for uid in unique_ids]
        tiers.append(
            Tier(
                cron=cron,
                name=manifests.tier_name(cron),
                unique_ids=tuple(unique_ids),
                asset_keys=tuple(translator.get_asset_key(node) for node in nodes),
                quarantine_keys=tuple(translator.get_asset_key(node) for node in quarantine),
                dbt_select=" ".join(manifests.dbt_selector(node) for node in quarantine + nodes),
            )
        )
    return tiers


def tier_job(tier: Tier, dbt_assets: AssetsDefinition) -> UnresolvedAssetJobDefinition:
    """The job that rebuilds one tier: its marts, their dbt tests and checks, warehouse checks."""
    selection = (
        build_dbt_asset_selection([dbt_assets], dbt_select=tier.dbt_select)
        | AssetSelection.checks_for_assets(*tier.asset_keys)
        | AssetSelection.checks_for_assets(WAREHOUSE_KEY)
    )
    return define_asset_job(
        name=tier.job_name,
        selection=selection,
        description=(
            f"Rebuild the {tier.name} tier (cron `{tier.cron}` UTC): "
            + ", ".join(key.path[-1] for key in tier.asset_keys)
        ),
        tags={TIER_TAG: tier.name},
    )


def build_refresh_schedules(
    manifest: Mapping[str, Any], translator: ValueViewTranslator, dbt_assets: AssetsDefinition
) -> list[ScheduleDefinition]:
    """One running schedule per refresh cron; real-time views have none."""
    schedules = []
    for tier in refresh_tiers(manifest, translator):
        schedules.append(
            ScheduleDefinition(
                name=tier.schedule_name,
                cron_schedule=tier.cron,
                job=tier_job(tier, dbt_assets),
                execution_timezone=TIMEZONE,
                default_status=DefaultScheduleStatus.RUNNING,
                description=f"Refresh the {tier.name} tier at `{tier.cron}` UTC.",
                tags={TIER_TAG: tier.name},
            )
        )
    return schedules


def pipeline_job(sources: AssetsDefinition) -> UnresolvedAssetJobDefinition:
    """Everything: demo data (dev and ci), the sources observed, every dbt model with its tests,
    and every check."""
    return define_asset_job(
        name=PIPELINE_JOB,
        selection=(
            AssetSelection.all()
            | AssetSelection.assets(sources)
            | AssetSelection.all_asset_checks()
        ),
        description=(
            "Load demo data when needed (dev and ci), observe the sources, build every dbt"
            " model, run every check."
        ),
    )
