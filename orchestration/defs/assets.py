"""Every dbt model, seed and test, built with one `dbt build` (checks come from the tests).

A tier's scheduled run rebuilds only the marts whose inputs changed since their last build: each
build records the mart's input versions (its SQL and everything upstream, and the data versions of
the source tables under it; ``lib.inputs``) in the materialization's metadata, and a tier run
compares them with the current ones. A skipped mart gets an observation saying since which run
its inputs are unchanged. The quarantine models a tier run brings up to date before its marts
are treated the same way: each records its inputs, and one whose inputs are unchanged is
skipped, so a tier run on unchanged sources runs no dbt at all. A materialized view whose window
slides with the clock (``meta.refresh.skip_unchanged: false``) and whose other inputs are
unchanged is refreshed in place, concurrently, without dbt: that gives the rows a rebuild would.
The pipeline job, and a tier run with ``force`` (or the run tag ``value_view/force: true``),
rebuild everything they select.

A run that builds only part of the graph (a tier run) leaves out the dbt tests that read a mart
it does not build (dbt's ``buildable`` indirect selection, and an explicit exclude for the tests
Dagster selects by name): a test that compares a mart of this tier with a mart of another tier
(the jtbd summary against the ODI heatmap) would otherwise compare a fresh mart with one this run
does not rebuild, and fail the run until the other tier caught up. Full builds select every
model, so they run those tests.
"""

import signal
import subprocess
from collections.abc import Iterator, Mapping
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetObservation,
    Config,
    MetadataValue,
    Output,
)
from dagster_dbt import DbtCliInvocation, DbtCliResource, DbtProject, dbt_assets
from pydantic import Field

from orchestration.defs.resources import WarehouseResource
from orchestration.defs.translator import TIER_TAG, ValueViewTranslator
from orchestration.lib import inputs, maintained
from orchestration.lib import manifest as manifests

DBT_ASSETS_NAME = "value_view_dbt"
INPUTS_METADATA = "value_view/inputs"
SKIPPED_METADATA = "value_view/skipped"
REFRESHED_IN_PLACE_METADATA = "value_view/refreshed_in_place"
FORCE_TAG = "value_view/force"
# dagster-dbt reads this variable as the run's indirect selection and passes it on to dbt, unless
# it must select the tests itself (then it sets "empty"); a --indirect-selection flag would
# override that choice, so the setting goes through the environment.
INDIRECT_SELECTION_ENV = "DBT_INDIRECT_SELECTION"
PARTIAL_BUILD_INDIRECT_SELECTION = "buildable"


class DbtBuildConfig(Config):
    """How a run of the dbt assets treats marts whose inputs did not change."""

    force: bool = Field(
        default=False,
        description=(
            "Rebuild every selected mart, even one whose inputs are unchanged since its last"
            " build (a tier run skips those otherwise)."
        ),
    )


def may_skip(context: AssetExecutionContext, config: DbtBuildConfig) -> bool:
    """Only a tier's run skips unchanged marts, and not when forced."""
    tags = context.run.tags
    forced = config.force or str(tags.get(FORCE_TAG, "")).lower() == "true"
    return TIER_TAG in tags and not forced


def recorded_inputs(
    context: AssetExecutionContext, key: AssetKey
) -> tuple[Mapping[str, str] | None, str | None]:
    """The input versions recorded by the asset's last materialization, and that run's id."""
    event = context.instance.get_latest_materialization_event(key)
    if event is None or event.asset_materialization is None:
        return None, None
    value = event.asset_materialization.metadata.get(INPUTS_METADATA)
    recorded = getattr(value, "value", None)
    return (recorded if isinstance(recorded, Mapping) else None), event.run_id


def build_dbt_assets(
    dbt_project: DbtProject, manifest: Mapping[str, Any], translator: ValueViewTranslator
):
    """Every dbt model, seed and test as assets and checks, built with one `dbt build`."""
    # What a tier run refreshes (its snapshots and marts) and the quarantine it brings up to
    # date first: each may be skipped when its inputs are unchanged.
    scheduled = {
        translator.get_asset_key(manifest["nodes"][uid]): uid
        for uid in [
            uid for unique_ids in manifests.refresh_tiers(manifest).values() for uid in unique_ids
        ]
        + manifests.quarantine_models(manifest)
    }

    @dbt_assets(
        manifest=manifest,
        project=dbt_project,
        dagster_dbt_translator=translator,
        name=DBT_ASSETS_NAME,
    )
    def value_view_dbt(
        context: AssetExecutionContext,
        dbt: DbtCliResource,
        warehouse: WarehouseResource,
        config: DbtBuildConfig,
    ) -> Iterator[Any]:
        tracked = {key: scheduled[key] for key in context.selected_asset_keys if key in scheduled}
        versions = (
            inputs.input_versions(
                manifest, tracked.values(), warehouse.settings(), warehouse.source()
            )
            if tracked
            else {}
        )
        skipped, in_place = (
            unchanged_marts(context, manifest, tracked, versions, warehouse)
            if tracked and may_skip(context, config)
            else ({}, {})
        )
        for key, since in skipped.items():
            message = f"skipped: inputs unchanged since run {since}"
            context.log.info(f"{key.to_user_string()}: {message}")
            yield AssetObservation(
                asset_key=key, metadata={SKIPPED_METADATA: MetadataValue.text(message)}
            )
        yield from refresh_clock_only(
            context,
            manifest,
            {key: (tracked[key], since) for key, since in in_place.items()},
            versions,
            warehouse,
        )
        handled = set(skipped) | set(in_place)
        if handled and handled >= set(context.selected_asset_keys):
            return
        args = ["build"]
        excluded = [manifests.dbt_selector(manifest["nodes"][tracked[key]]) for key in handled]
        if indirect_selection(context):
            excluded += other_tier_tests(manifest, translator, set(context.selected_asset_keys))
        if excluded:
            args += ["--exclude", " ".join(excluded)]
        recorded = {key: versions[uid] for key, uid in tracked.items() if key not in handled}
        with warehouse.dbt_environment(dbt_project, **indirect_selection(context)):
            invocation = dbt.cli(args, context=context)
            try:
                for event in invocation.stream().fetch_row_counts():
                    yield with_inputs(event, context, recorded)
            except BaseException:
                stop_dbt(invocation, context)
                raise

    return value_view_dbt


def indirect_selection(context: AssetExecutionContext) -> dict[str, str]:
    """dbt's indirect selection for this run: ``buildable`` when the run builds part of the dbt
    graph, so a test reading a model that the run neither builds nor reads is left out."""
    # (a subsetted step's assets_def holds only the selected keys; its node holds them all)
    if set(context.selected_asset_keys) >= set(
        context.assets_def.node_keys_by_output_name.values()
    ):
        return {}
    return {INDIRECT_SELECTION_ENV: PARTIAL_BUILD_INDIRECT_SELECTION}


def other_tier_tests(
    manifest: Mapping[str, Any], translator: ValueViewTranslator, selected: set[AssetKey]
) -> list[str]:
    """The dbt tests that read a mart this run does not build (an agreement test between two
    tiers): left to full builds, as their other mart is only as fresh as its own tier's run."""
    marts = manifests.mart_nodes(manifest)
    unbuilt = {uid for uid, node in marts.items() if translator.get_asset_key(node) not in selected}
    return [
        manifests.dbt_selector(node)
        for node in manifest["nodes"].values()
        if node["resource_type"] == "test"
        and unbuilt & set(node["depends_on"]["nodes"])
        and set(marts) & set(node["depends_on"]["nodes"]) - unbuilt
    ]


def unchanged_marts(
    context: AssetExecutionContext,
    manifest: Mapping[str, Any],
    marts: Mapping[AssetKey, str],
    versions: Mapping[str, Mapping[str, str]],
    warehouse: WarehouseResource,
) -> tuple[dict[AssetKey, str], dict[AssetKey, str]]:
    """The marts (and quarantine tables) whose inputs are as recorded at their last build and
    whose relation is still there, each with the run that built it: those a tier run skips, and
    the clock-bound materialized views it refreshes in place."""
    nodes = {key: manifest["nodes"][uid] for key, uid in marts.items()}
    existing = inputs.existing_relations(
        warehouse.settings(), [manifests.qualified_name(node) for node in nodes.values()]
    )
    skipped, in_place = {}, {}
    for key, uid in marts.items():
        recorded, run_id = recorded_inputs(context, key)
        if (
            run_id is None
            or manifests.qualified_name(nodes[key]) not in existing
            or inputs.changed_inputs(recorded, versions[uid])
        ):
            continue
        if inputs.skips_when_unchanged(nodes[key]):
            skipped[key] = run_id
        elif inputs.refreshes_in_place(nodes[key]):
            in_place[key] = run_id
    return skipped, in_place


def refresh_clock_only(
    context: AssetExecutionContext,
    manifest: Mapping[str, Any],
    marts: Mapping[AssetKey, tuple[str, str]],
    versions: Mapping[str, Mapping[str, str]],
    warehouse: WarehouseResource,
) -> Iterator[Output]:
    """Refresh each clock-bound materialized view (maintained table) with unchanged inputs in
    place, concurrently (merged on its key): no dbt process, no rebuild; and materialize it with
    the inputs it was refreshed from."""
    for key, (uid, since) in marts.items():
        node = manifest["nodes"][uid]
        (done,) = maintained.refresh_in_place(
            warehouse.settings(), [(str(node["schema"]), manifests.relation_name(node))]
        )
        message = (
            f"refreshed in place in {done.seconds:.2f} s: inputs unchanged since run {since},"
            " its window moved with the clock"
        )
        context.log.info(f"{key.to_user_string()}: {message}")
        yield Output(
            None,
            output_name=context.assets_def.get_output_name_for_asset_key(key),
            metadata={
                REFRESHED_IN_PLACE_METADATA: MetadataValue.text(message),
                INPUTS_METADATA: MetadataValue.json(dict(versions[uid])),
            },
        )


def with_inputs(
    event: Any, context: AssetExecutionContext, recorded: Mapping[AssetKey, Mapping[str, str]]
) -> Any:
    """A mart's materialization, with the input versions it was built from in its metadata."""
    if not isinstance(event, Output):
        return event
    key = context.assets_def.keys_by_output_name.get(event.output_name)
    if key not in recorded:
        return event
    return event.with_metadata(
        {**event.metadata, INPUTS_METADATA: MetadataValue.json(dict(recorded[key]))}
    )


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
