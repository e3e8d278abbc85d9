"""The maintained materialized views behind the real-time views keep their staleness bound.

The slow test builds them on scale-1 demo data in a throwaway database, changes source rows (a
persona's archetype, an opportunity's status), shows that the real-time views do not move by
themselves, then lets the Dagster sensor notice the change and runs the refresh job it asks for,
and times change-to-visible (plus the sensor's interval, which a deployed sensor may wait) against
the bound each model states.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from dagster import (
    DagsterInstance,
    Definitions,
    RunRequest,
    SkipReason,
    build_sensor_context,
)

from orchestration.definitions import build_definitions
from orchestration.defs import maintained as defs_maintained
from orchestration.defs import project as defs_project
from orchestration.defs.resources import WarehouseResource
from orchestration.lib import database
from orchestration.lib import maintained as lib
from orchestration.lib.dbt_runner import dbt_env, run_dbt
from orchestration.tools import demo_data

# The views are held to their staleness bound in seconds: not beside another module's load.
pytestmark = pytest.mark.serial

SEED = 42
SENSOR_WAIT_SECONDS = 30.0


def test_the_maintained_views_and_what_they_watch(manifest: dict[str, Any]) -> None:
    relations = lib.maintained_relations(manifest)
    assert len(relations) == 2
    for relation in relations:
        assert relation.staleness_bound_seconds > (
            defs_maintained.SENSOR_INTERVAL_SECONDS + defs_maintained.STATISTICS_DELAY_SECONDS
        )
        tables = {table for _, table in relation.watched}
        # sources, seeds and stored models; never a view (it stores nothing to count)
        assert "jtbd" in tables
        assert not any(table.startswith("stg_") for table in tables)
    catalog = next(r for r in relations if "filter" in r.relation)
    assert {"tenants", "personas", "org_roles"} <= {table for _, table in catalog.watched}
    pipeline = next(r for r in relations if "opportunit" in r.relation)
    assert "ai_opportunities" in {table for _, table in pipeline.watched}
    # neither reads a mart: a mart's rebuild-aside swap could not drop a view built on it
    assert not any(table.endswith("_v1") for r in relations for _, table in r.watched)


# What a full refresh or a changed definition rebuilds aside and swaps in, dropping the old copy.
MATERIALIZED_VIEWS = {
    "safe_materialized_view",
    "materialized_view",
    "keyed_incremental_table",
    "maintained_table",
}


def _materialized_views_under(manifest: dict[str, Any], uid: str) -> set[str]:
    """The materialized views a model is built on, directly or through views."""
    nodes, found, seen = manifest["nodes"], set(), set()
    stack = list(nodes[uid]["depends_on"]["nodes"])
    while stack:
        parent = stack.pop()
        if parent in seen or parent not in nodes:
            continue
        seen.add(parent)
        materialized = nodes[parent]["config"].get("materialized")
        if materialized in MATERIALIZED_VIEWS:
            found.add(parent)
        elif materialized == "view":
            stack.extend(nodes[parent]["depends_on"]["nodes"])
    return found


def test_no_materialized_view_is_built_on_another(manifest: dict[str, Any]) -> None:
    # A rebuild-aside swap or a full refresh drops the old copy of a materialized view; one built
    # on it (directly or through views) would stop that drop, and the rebuild would fail.
    views = [
        uid
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] == "model"
        and node["config"].get("materialized") in MATERIALIZED_VIEWS
    ]
    assert len(views) >= 9
    built_on = {uid: _materialized_views_under(manifest, uid) for uid in views}
    assert not {uid: under for uid, under in built_on.items() if under}
    # the walk finds one when there is one: the real-time pipeline view reads the job summary
    pipeline = next(uid for uid in manifest["nodes"] if "mv_value_view_opportunity_pipeline" in uid)
    assert any("jtbd_summary" in uid for uid in _materialized_views_under(manifest, pipeline))


def test_a_bound_the_sensor_cannot_keep_is_refused() -> None:
    short = lib.Maintained("model.x.y", "s", "y", staleness_bound_seconds=20, watched=())
    with pytest.raises(lib.MaintainedError, match=r"model\.x\.y: .*must exceed 40"):
        defs_maintained.check_bounds([short])


@dataclass
class Built:
    settings: database.ConnectionSettings
    defs: Definitions
    relations: list[lib.Maintained]


@pytest.fixture(scope="module")
def built(server: database.ConnectionSettings, tmp_path_factory) -> Iterator[Built]:
    settings = server.with_database(f"vv_maintained_{os.getpid()}")
    database.ensure_database(settings)
    try:
        demo_data.load_demo_data(
            settings,
            scale=1,
            seed=SEED,
            as_of=dt.datetime.now(dt.timezone.utc).date(),
            progress=False,
        )
        handle = defs_project.dbt_project(Path(tmp_path_factory.mktemp("dbt_maintained")))
        env = {**os.environ, **dbt_env(settings)}
        defs_project.parse(handle, env=env)
        target = Path(handle.manifest_path).parent
        run_dbt(["seed", "--quiet"], target_path=target, env=env)
        run_dbt(
            [
                "run",
                "--quiet",
                "--select",
                "+path:models/marts/realtime",
                "+path:models/quarantine",
            ],
            target_path=target,
            env=env,
        )
        manifest = defs_project.load_manifest(handle)
        yield Built(
            settings,
            build_definitions(handle, deployment="dev"),
            lib.maintained_relations(manifest),
        )
    finally:
        database.drop_database(settings)


def archetype_counts(conn, tenant) -> dict[str, int]:
    return dict(
        conn.execute(
            "select filter_value, entity_count from value_view.v_value_view_filter_options"
            " where tenant_id = %s and filter_type = 'archetype'",
            (tenant,),
        ).fetchall()
    )


def evaluate(defs: Definitions, resource: WarehouseResource, cursor: str | None):
    sensor = defs.get_sensor_def(defs_maintained.SENSOR_NAME)
    with DagsterInstance.ephemeral() as instance:
        context = build_sensor_context(
            instance=instance, cursor=cursor, resources={"warehouse": resource}
        )
        result = sensor(context)
        return result, context.cursor


@pytest.mark.slow
def test_a_source_change_reaches_the_real_time_views_within_the_bound(built: Built) -> None:
    resource = WarehouseResource(database_url=built.settings.url)
    first, cursor = evaluate(built.defs, resource, None)
    assert isinstance(first, RunRequest), "a sensor with no cursor refreshes once"
    quiet, _ = evaluate(built.defs, resource, cursor)
    assert isinstance(quiet, SkipReason), "no write, no refresh"

    with database.connect(built.settings, autocommit=True) as conn:
        persona, tenant, archetype = conn.execute(
            "select persona_id, tenant_id, archetype from value_view_staging.stg_vital__personas"
            " where archetype is not null order by persona_id limit 1"
        ).fetchone()
        other = conn.execute(
            "select filter_value from value_view.v_value_view_filter_options"
            " where tenant_id = %s and filter_type = 'archetype' and filter_value <> %s"
            " order by filter_value limit 1",
            (tenant, archetype),
        ).fetchone()[0]
        opportunity = conn.execute(
            "select ai_opportunity_id from value_view.mv_value_view_opportunity_pipeline"
            " where status <> 'rejected' order by ai_opportunity_id limit 1"
        ).fetchone()[0]
        before = archetype_counts(conn, tenant)

    changed_at = time.monotonic()
    with database.connect(built.settings, autocommit=True) as conn:
        conn.execute("update vital.personas set archetype = %s where id = %s", (other, persona))
        conn.execute(
            "update vital.ai_opportunities set status = 'rejected' where id = %s", (opportunity,)
        )

    with database.connect(built.settings, autocommit=True) as conn:
        assert archetype_counts(conn, tenant) == before, "the maintained catalog moved by itself"

    request = None
    while time.monotonic() - changed_at < SENSOR_WAIT_SECONDS:
        request, cursor = evaluate(built.defs, resource, cursor)
        if isinstance(request, RunRequest):
            break
        time.sleep(1.0)
    assert isinstance(request, RunRequest), f"the sensor saw no change in {SENSOR_WAIT_SECONDS} s"

    job = built.defs.get_job_def(defs_maintained.JOB_NAME)
    result = job.execute_in_process(
        run_config={"resources": {"warehouse": {"config": {"database_url": built.settings.url}}}},
        tags=request.tags,
    )
    assert result.success
    with database.connect(built.settings, autocommit=True) as conn:
        after = archetype_counts(conn, tenant)
        status = conn.execute(
            "select status from value_view.mv_value_view_opportunity_pipeline"
            " where ai_opportunity_id = %s",
            (opportunity,),
        ).fetchone()[0]
    visible_after = time.monotonic() - changed_at
    assert after[archetype] == before[archetype] - 1
    assert after[other] == before[other] + 1
    assert status == "rejected"
    bound = min(relation.staleness_bound_seconds for relation in built.relations)
    worst = visible_after + defs_maintained.SENSOR_INTERVAL_SECONDS
    print(f"change visible after {visible_after:.1f} s; worst case {worst:.1f} s; bound {bound} s")
    assert worst <= bound
