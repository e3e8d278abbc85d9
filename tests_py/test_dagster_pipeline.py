"""The whole asset graph, materialized in process on scale-1 demo data in a throwaway database,
recorded in a PostgreSQL-backed Dagster instance; then the latency gate and a tier job.

Timings are not asserted here (machines are noisy): the full run gives every benchmark a generous
budget, the measured p95s are printed next to the declared budgets, and a separate run gives one
benchmark an impossible budget to show that the gate fails and blocks what is downstream.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from dagster import (
    AssetCheckSeverity,
    AssetKey,
    AssetSelection,
    Definitions,
    MaterializeResult,
    asset,
    define_asset_job,
)
from psycopg.types.json import Jsonb

from orchestration.defs import checks
from orchestration.defs.assets import (
    DBT_ASSETS_NAME,
    INPUTS_METADATA,
    REFRESHED_IN_PLACE_METADATA,
    SKIPPED_METADATA,
)
from orchestration.defs.checks import FRESHNESS_CHECK
from orchestration.defs.schedules import refresh_tiers
from orchestration.defs.translator import ValueViewTranslator
from orchestration.lib import database, inputs
from orchestration.lib import manifest as project
from orchestration.lib.dbt_runner import DbtCommandError, dbt_env, run_dbt
from orchestration.lib.inputs import skips_when_unchanged, upstream
from orchestration.tools import instance as dagster_home
from orchestration.tools import pipeline

pytestmark = pytest.mark.slow

GENEROUS_BUDGET_MS = 60_000.0
IMPOSSIBLE_BUDGET_MS = 0.001


@pytest.fixture(scope="module")
def instance(warehouse, tmp_path_factory: pytest.TempPathFactory):
    handle = dagster_home.open_instance(warehouse, tmp_path_factory.mktemp("dagster_home"))
    try:
        yield handle
    finally:
        handle.dispose()
        database.drop_database(dagster_home.storage_settings(warehouse))


@pytest.fixture(scope="module")
def full_run(defs, instance, warehouse):
    config = pipeline.run_config(
        scale=1,
        seed=42,
        warehouse_url=warehouse.url,
        budget_overrides_ms={"*": GENEROUS_BUDGET_MS},
    )
    return pipeline.run_pipeline(defs, instance, config)


def _materialized(result) -> set[AssetKey]:
    return {
        event.step_materialization_data.materialization.asset_key
        for event in result.get_asset_materialization_events()
    }


def _observed(result) -> dict[AssetKey, str | None]:
    return {
        event.asset_observation_data.asset_observation.asset_key: (
            event.asset_observation_data.asset_observation.data_version
        )
        for event in result.all_events
        if event.event_type_value == "ASSET_OBSERVATION"
    }


def _failures(result) -> list[str]:
    return [
        f"{event.step_key}: {event.event_specific_data.error.message[:2000]}"
        for event in result.all_events
        if event.event_type_value == "STEP_FAILURE"
    ]


def test_full_materialization_passes_every_check(full_run, defs, manifest, warehouse, instance):
    assert full_run.success, _failures(full_run)
    job = defs.resolve_job_def(pipeline.PIPELINE_JOB)
    graph = job.asset_layer.asset_graph
    selected = set(job.asset_layer.selected_asset_keys)
    sources = {key for key in selected if graph.get(key).is_observable}
    assert _materialized(full_run) == selected - sources
    # Every source table is observed after the demo data loaded, with its row count as version.
    observed = _observed(full_run)
    assert (
        set(observed)
        == sources
        == {
            AssetKey([source["source_name"], source["name"]])
            for source in manifest["sources"].values()
        }
    )
    assert all(version and version != "missing" for version in observed.values()), observed
    evaluations = full_run.get_asset_check_evaluations()
    # dbt tests declared `severity: warn` report rows by design (the quality tests list the bad
    # rows the demo data carries on purpose): they may warn; nothing else may fail.
    warn_tests = {
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "test"
        and str(node["config"].get("severity", "")).lower() == "warn"
    }
    failed = [e for e in evaluations if not e.passed]
    unexpected = [
        (e.asset_key.to_user_string(), e.check_name, e.severity.value, e.description)
        for e in failed
        if e.severity != AssetCheckSeverity.WARN or e.check_name not in warn_tests
    ]
    assert not unexpected
    print(
        f"\n{len(evaluations)} checks evaluated: {len(evaluations) - len(failed)} passed,"
        f" {len(failed)} warn-severity dbt tests reported rows"
    )
    evaluated = {(e.asset_key, e.check_name) for e in evaluations}
    planned = {(key.asset_key, key.name) for key in job.asset_layer.asset_graph.asset_check_keys}
    assert evaluated == planned

    latency = [e for e in evaluations if e.check_name.startswith(checks.LATENCY_CHECK)]
    assert len(latency) == len(project.benchmarks(manifest))
    for evaluation in latency:
        for name in ("p50_ms", "p95_ms", "max_ms", "rows_returned", "plan_top_node"):
            assert name in evaluation.metadata, name
        assert evaluation.metadata["runs"].value == 20

    rows = pipeline.mart_summary(full_run, manifest, warehouse)
    declared = {
        bench.model_name: bench.p95_budget_ms
        for bench in project.benchmarks(manifest)
        if bench.check_name == checks.LATENCY_CHECK
    }
    pipeline.print_summary(
        [replace(row, budget_ms=declared.get(row.relation)) for row in rows],
        title="full pipeline, scale 1 (p95 measured; budgets as declared in meta)",
    )
    # The run is in the PostgreSQL-backed instance, as the UI would show it.
    stored = instance.get_run_by_id(full_run.run_id)
    assert stored is not None and stored.is_success


def test_latency_gate_fails_and_blocks_downstream(full_run, defs, manifest, warehouse, instance):
    assert full_run.success
    bench = project.benchmarks(manifest)[0]
    mart_key = ValueViewTranslator().get_asset_key(manifest["nodes"][bench.unique_id])
    extract_key = AssetKey(["gate_test", f"{bench.model_name}_extract"])

    @asset(key=extract_key, deps=[mart_key])
    def dashboard_extract() -> MaterializeResult:
        return MaterializeResult()

    job = define_asset_job(
        "latency_gate_test", selection=AssetSelection.assets(mart_key, extract_key)
    )
    gated = Definitions.merge(defs, Definitions(assets=[dashboard_extract], jobs=[job]))
    config = pipeline.run_config(
        scale=1,
        seed=42,
        warehouse_url=warehouse.url,
        budget_overrides_ms={bench.analysis: IMPOSSIBLE_BUDGET_MS},
        benchmark_runs=5,
    )
    del config["ops"]
    result = pipeline.run_pipeline(gated, instance, config, job_name="latency_gate_test")

    assert not result.success
    (latency,) = [
        e
        for e in result.get_asset_check_evaluations()
        if e.asset_key == mart_key and e.check_name == checks.LATENCY_CHECK
    ]
    assert not latency.passed
    assert latency.severity == AssetCheckSeverity.ERROR
    assert latency.metadata["p95_budget_ms"].value == IMPOSSIBLE_BUDGET_MS
    assert latency.metadata["p95_ms"].value > IMPOSSIBLE_BUDGET_MS
    materialized = _materialized(result)
    assert mart_key in materialized
    assert extract_key not in materialized
    print(
        f"\n{bench.analysis}: p95 {latency.metadata['p95_ms'].value:.2f} ms against an impossible"
        f" {IMPOSSIBLE_BUDGET_MS} ms budget -> failed; {extract_key.to_user_string()} not built"
    )


def _tier_config(warehouse, *, force: bool = False) -> dict:
    config = pipeline.run_config(scale=1, seed=42, warehouse_url=warehouse.url, benchmark_runs=5)
    config["ops"] = {DBT_ASSETS_NAME: {"config": {"force": force}}}
    config["resources"]["benchmark"]["config"]["budget_overrides_ms"] = {"*": GENEROUS_BUDGET_MS}
    return config


def _skipped(result) -> dict[AssetKey, str]:
    found = {}
    for event in result.all_events:
        if event.event_type_value != "ASSET_OBSERVATION":
            continue
        observation = event.asset_observation_data.asset_observation
        message = observation.metadata.get(SKIPPED_METADATA)
        if message is not None:
            found[observation.asset_key] = message.value
    return found


def _hourly(manifest):
    """The tier with the most marts: several marts over different sources."""
    return max(refresh_tiers(manifest, ValueViewTranslator()), key=lambda t: len(t.asset_keys))


def _key_to_uid(manifest, tier) -> dict[AssetKey, str]:
    translator = ValueViewTranslator()
    return {translator.get_asset_key(manifest["nodes"][uid]): uid for uid in tier.unique_ids}


def test_a_forced_tier_run_rebuilds_exactly_its_tier(full_run, defs, manifest, warehouse, instance):
    assert full_run.success
    tier = min(refresh_tiers(manifest, ValueViewTranslator()), key=lambda t: len(t.asset_keys))
    config = _tier_config(warehouse, force=True)
    result = pipeline.run_pipeline(defs, instance, config, job_name=tier.job_name)
    assert result.success, _failures(result)
    # The tier's marts, after the quarantine they read (brought up to date first).
    assert tier.quarantine_keys
    assert _materialized(result) == set(tier.asset_keys) | set(tier.quarantine_keys)
    assert _skipped(result) == {}
    run = instance.get_run_by_id(result.run_id)
    assert run.tags["value_view/tier"] == tier.name


def test_a_tier_run_on_unchanged_sources_skips_its_marts_and_says_why(
    full_run, defs, manifest, warehouse, instance
):
    assert full_run.success
    tier = _hourly(manifest)
    by_key = _key_to_uid(manifest, tier)
    clock_bound = {
        key for key, uid in by_key.items() if not skips_when_unchanged(manifest["nodes"][uid])
    }
    assert clock_bound and clock_bound < set(by_key)
    assert all(inputs.refreshes_in_place(manifest["nodes"][by_key[key]]) for key in clock_bound)
    before = _refresh_log(warehouse)
    result = pipeline.run_pipeline(defs, instance, _tier_config(warehouse), job_name=tier.job_name)
    assert result.success, _failures(result)
    after = _refresh_log(warehouse)
    skipped = _skipped(result)
    # Unchanged quarantine tables are skipped too: the run starts no dbt for them.
    assert set(skipped) == set(by_key) - clock_bound | set(tier.quarantine_keys)
    for key, message in skipped.items():
        since = message.removeprefix("skipped: inputs unchanged since run ")
        built = instance.get_latest_materialization_event(key)
        assert since == built.run_id and since != result.run_id, message
        # ... and the asset's own history says so.
        records = instance.fetch_observations(key, limit=1).records
        assert records[0].asset_observation.metadata[SKIPPED_METADATA].value == message
    assert _materialized(result) == clock_bound
    # A view over a window of the clock is refreshed in place, without dbt, and says so.
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        message = materialization.metadata[REFRESHED_IN_PLACE_METADATA].value
        assert message.startswith("refreshed in place in "), message
        node = manifest["nodes"][by_key[materialization.asset_key]]
        name = project.relation_name(node)
        assert after[name] > before[name], name
        assert (
            materialization.metadata[INPUTS_METADATA].value
            == inputs.input_versions(manifest, [node["unique_id"]], warehouse, "vital")[
                node["unique_id"]
            ]
        )
    # No dbt test reran on a mart skipped or refreshed in place; its freshness counts the
    # confirmation.
    for evaluation in result.get_asset_check_evaluations():
        if evaluation.asset_key not in set(skipped) | clock_bound:
            continue
        assert evaluation.check_name == FRESHNESS_CHECK or evaluation.check_name.startswith(
            checks.LATENCY_CHECK
        ), evaluation.check_name
        if evaluation.check_name == FRESHNESS_CHECK and evaluation.asset_key in skipped:
            assert evaluation.passed
            assert evaluation.metadata["based_on"].value == "refresh skipped: inputs unchanged"
    print(
        f"\n{tier.name}: skipped {len(skipped)} of {len(by_key)} marts on unchanged sources,"
        f" refreshed {len(clock_bound)} in place"
    )


def _refresh_log(settings) -> dict[str, object]:
    with database.connect(settings, autocommit=True) as conn:
        return dict(
            conn.execute(
                "select relation_name, refreshed_at from value_view_meta.refresh_log"
                " where schema_name = 'value_view'"
            ).fetchall()
        )


def test_a_mart_over_the_day_is_skipped_that_day_and_rebuilt_the_next(
    full_run, defs, manifest, warehouse, instance, monkeypatch
):
    assert full_run.success
    by_day = {
        uid: node
        for uid, node in project.mart_nodes(manifest).items()
        if inputs.clock_grain(node) == "day"
    }
    assert by_day, "no mart declares meta.refresh.clock: day"
    uid, node = sorted(by_day.items())[0]
    key = ValueViewTranslator().get_asset_key(node)
    tier = next(t for t in refresh_tiers(manifest, ValueViewTranslator()) if uid in t.unique_ids)
    # Settle: a scheduled run brings whatever earlier tests changed up to date (the full run
    # built the mart today, so a forced rebuild would add nothing but time).
    settle = pipeline.run_pipeline(defs, instance, _tier_config(warehouse), job_name=tier.job_name)
    assert settle.success, _failures(settle)
    built = instance.get_latest_materialization_event(key)
    recorded = built.asset_materialization
    assert recorded.metadata[INPUTS_METADATA].value["clock"] == inputs.clock_version()

    same_day = pipeline.run_pipeline(
        defs, instance, _tier_config(warehouse), job_name=tier.job_name
    )
    assert same_day.success, _failures(same_day)
    assert _skipped(same_day)[key] == f"skipped: inputs unchanged since run {built.run_id}"

    tomorrow = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)).date().isoformat()
    monkeypatch.setattr(inputs, "clock_version", lambda now=None: tomorrow)
    next_day = pipeline.run_pipeline(
        defs, instance, _tier_config(warehouse), job_name=tier.job_name
    )
    assert next_day.success, _failures(next_day)
    assert key in _materialized(next_day) and key not in _skipped(next_day)
    rebuilt = instance.get_latest_materialization_event(key)
    assert rebuilt.run_id == next_day.run_id
    assert rebuilt.asset_materialization.metadata[INPUTS_METADATA].value["clock"] == tomorrow


def test_a_source_change_rebuilds_exactly_the_affected_marts(
    full_run, defs, manifest, warehouse, instance
):
    assert full_run.success
    tier = _hourly(manifest)
    by_key = _key_to_uid(manifest, tier)
    changed_source = next(
        uid
        for uid, source in manifest["sources"].items()
        if source["name"] == "business_evaluations"
    )
    readers = {
        key for key, uid in by_key.items() if changed_source in upstream(manifest, uid).sources
    }
    clock_bound = {
        key for key, uid in by_key.items() if not skips_when_unchanged(manifest["nodes"][uid])
    }
    assert readers and set(by_key) - readers - clock_bound, "the tier must hold both kinds"
    # Settle: a scheduled run records the current inputs of everything the earlier tests
    # touched (and skips the rest).
    settle = pipeline.run_pipeline(defs, instance, _tier_config(warehouse), job_name=tier.job_name)
    assert settle.success, _failures(settle)
    with database.connect(warehouse) as conn:
        changed = conn.execute(
            "update vital.business_evaluations set updated_at = updated_at + interval '1 second'"
            " where id = (select min(id::text)::uuid from vital.business_evaluations)"
        ).rowcount
    assert changed == 1
    result = pipeline.run_pipeline(defs, instance, _tier_config(warehouse), job_name=tier.job_name)
    assert result.success, _failures(result)
    # The quarantine models over the changed table are rebuilt before the marts; the others
    # are skipped.
    translator = ValueViewTranslator()
    quarantine = {
        translator.get_asset_key(manifest["nodes"][uid]): uid
        for uid in project.quarantine_models(manifest)
    }
    assert set(quarantine) == set(tier.quarantine_keys)
    checked = {
        key for key, uid in quarantine.items() if changed_source in upstream(manifest, uid).sources
    }
    assert checked and set(quarantine) - checked
    assert _materialized(result) == readers | clock_bound | checked
    assert set(_skipped(result)) == (set(by_key) - readers - clock_bound) | (
        set(quarantine) - checked
    )


def _cross_tier_tests(manifest) -> dict[str, set[str]]:
    """Singular dbt tests that read marts of more than one refresh tier, with those tiers."""
    marts = project.mart_nodes(manifest)
    found = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] != "test" or node.get("test_metadata"):
            continue
        parents = [marts[uid] for uid in node["depends_on"]["nodes"] if uid in marts]
        crons = {project.refresh_cron(parent) for parent in parents}
        if len(crons - {None}) > 1:
            found[node["name"]] = crons
    return found


def _agreement(warehouse, names, target) -> str | None:
    """dbt's own run of the tests named: None when they pass, else its report."""
    try:
        run_dbt(["test", "--select", " ".join(names)], target_path=target, env=dbt_env(warehouse))
    except DbtCommandError as error:
        return str(error)
    return None


def test_a_tier_run_leaves_tests_across_tiers_to_full_builds(
    full_run, defs, manifest, warehouse, instance, tmp_path
):
    assert full_run.success
    cross = _cross_tier_tests(manifest)
    assert "assert_jtbd_summary_agrees_with_heatmap" in cross
    # A full build runs them (each is a check of one of the marts it reads).
    assert set(cross) <= {e.check_name for e in full_run.get_asset_check_evaluations()}
    tiers = {tier.cron: tier for tier in refresh_tiers(manifest, ValueViewTranslator())}
    hourly = _hourly(manifest)
    assert all(hourly.cron in crons for crons in cross.values()), cross
    assert set().union(*cross.values()) - {hourly.cron} <= set(tiers)
    with database.connect(warehouse) as conn:
        removed = conn.execute(
            "delete from vital.jtbd_odi_scores where id in (select id from vital.jtbd_odi_scores"
            " order by opportunity_score desc nulls last, id limit 5)"
            " returning to_jsonb(jtbd_odi_scores)"
        ).fetchall()
    assert len(removed) == 5
    try:
        # The hourly tier rebuilds its marts from the changed scores; the daily marts they are
        # compared with keep the old ones until their own run. The hourly run succeeds ...
        result = pipeline.run_pipeline(
            defs, instance, _tier_config(warehouse), job_name=hourly.job_name
        )
        assert result.success, _failures(result)
        ran = {e.check_name for e in result.get_asset_check_evaluations()}
        assert not ran & set(cross), ran & set(cross)
        # ... though the tiers really disagree now: the tests left out would have failed it.
        report = _agreement(warehouse, cross, tmp_path / "disagree")
        assert report and "Got " in report, report
        print(f"\nafter the {hourly.name} run alone: {report.splitlines()[-1][:200]}")
    finally:
        with database.connect(warehouse) as conn:
            conn.execute(
                "insert into vital.jtbd_odi_scores select (jsonb_populate_record("
                "null::vital.jtbd_odi_scores, row)).* from unnest(%s::jsonb[]) as row",
                ([Jsonb(row[0]) for row in removed],),
            )
    # The other tiers never saw the change; once the hourly tier runs on the restored sources,
    # every tier is built from the same rows and the tests agree again.
    result = pipeline.run_pipeline(
        defs, instance, _tier_config(warehouse), job_name=hourly.job_name
    )
    assert result.success, _failures(result)
    assert _agreement(warehouse, cross, tmp_path / "agree") is None
