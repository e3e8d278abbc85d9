"""The Dagster code location: assembles assets, checks, jobs, schedules and resources.

Loaded lazily by Dagster's tools (``dagster definitions validate``, the webserver, the daemon);
``build_definitions`` takes a DbtProject so tests can point it at their own dbt target path, and a
deployment (default: ``VALUE_VIEW_TARGET``, else dev) that decides whether the demo-data loader
is part of it: only dev and ci may write the source tables.
"""

from __future__ import annotations

import dagster as dg
from dagster_dbt import DbtProject

from orchestration.defs import project
from orchestration.defs.archive import archive_professional_data_job, archive_schedules
from orchestration.defs.assets import build_dbt_assets
from orchestration.defs.checks import (
    BENCHMARK_OP_TAG,
    build_freshness_checks,
    build_latency_checks,
)
from orchestration.defs.demo import DEMO_DATA_KEY, vital_demo_data
from orchestration.defs.maintained import build_maintained
from orchestration.defs.resources import BenchmarkResource, WarehouseResource, dbt_resource
from orchestration.defs.schedules import build_refresh_schedules, pipeline_job
from orchestration.defs.sources import build_source_observations
from orchestration.defs.translator import ValueViewTranslator
from orchestration.defs.warehouse_checks import (
    build_replica_lag_check,
    build_warehouse_checks,
    warehouse_spec,
)
from orchestration.lib import manifest as manifests
from orchestration.lib import settings

# Latency checks time queries: never two at once inside a run.
EXECUTOR = dg.multiprocess_executor.configured(
    {"tag_concurrency_limits": [{"key": BENCHMARK_OP_TAG, "limit": 1}]}
)


def build_definitions(
    dbt_project: DbtProject | None = None, deployment: str | None = None
) -> dg.Definitions:
    """Everything Dagster knows about Value View, derived from the dbt manifest."""
    dbt_project = dbt_project or project.dbt_project()
    deployment = deployment or settings.deployment()
    with_demo_data = settings.demo_data_enabled({settings.TARGET_ENV: deployment})
    manifest = project.load_manifest(dbt_project)
    translator = ValueViewTranslator()
    dbt_assets = build_dbt_assets(dbt_project, manifest, translator)
    mart_keys = [translator.get_asset_key(node) for node in manifests.mart_nodes(manifest).values()]
    maintained_jobs, maintained_sensors = build_maintained(manifest)
    sources = build_source_observations(
        manifest, translator, upstream=[DEMO_DATA_KEY] if with_demo_data else []
    )
    return dg.Definitions(
        assets=[
            *([vital_demo_data] if with_demo_data else []),
            sources,
            dbt_assets,
            warehouse_spec(mart_keys),
        ],
        asset_checks=[
            *build_latency_checks(dbt_project, manifest, translator),
            *build_freshness_checks(manifest, translator),
            *build_warehouse_checks(mart_keys),
            build_replica_lag_check(manifest, mart_keys),
        ],
        jobs=[pipeline_job(sources), archive_professional_data_job, *maintained_jobs],
        sensors=maintained_sensors,
        schedules=[
            *build_refresh_schedules(manifest, translator, dbt_assets),
            *archive_schedules(),
        ],
        resources={
            "dbt": dbt_resource(dbt_project),
            "warehouse": WarehouseResource(),
            "benchmark": BenchmarkResource(),
        },
        executor=EXECUTOR,
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()
