"""The dbt project end to end on demo data.

One module-scoped build (demo data at scale 1, then `dbt build`) backs the catalog, contract and
specification-query tests; the ODI gate builds a copy of the project with a wrong band edge or a
wrong formula and shows that the build fails.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from orchestration.lib import database, health
from orchestration.tools import demo_data

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SPEC_TENANT = "f7aa6fd4-0af9-4706-8b31-034f1f7accda"

# The marts catalog: relation -> kind of its versioned relation.
CATALOG = {
    "mv_value_view_odi_heatmap": "r",
    "mv_value_view_jtbd_summary": "m",
    "mv_value_view_persona_dashboard": "m",
    "mv_value_view_workflow_analytics": "m",
    "mv_value_view_value_realization": "r",
    "mv_value_view_role_workload": "m",
    "mv_value_view_strategic_alignment": "m",
    "professional_tier_performance_metrics": "r",
    "mv_value_view_opportunity_pipeline": "v",
    "v_value_view_filter_options": "v",
    "v_value_view_user_context": "v",
    "v_value_view_dependency_graph": "v",
    "value_view_persona_aggregates": "r",
    "value_view_odi_trends": "r",
    "value_view_peer_benchmarks": "r",
    "professional_tier_current_evaluations": "r",
    "professional_tier_customer_analytics": "r",
}

# The materializations that refresh a mart in place, and how their log line says so.
REFRESHED_IN_PLACE = {
    "safe_materialized_view": "refreshed concurrently",
    "maintained_table": "merged on its key",
}

SPEC_HEATMAP_QUERY = """
select * from mv_value_view_odi_heatmap
where archetype = 'AUTOMATOR' and opportunity_score >= 10
order by opportunity_score desc
limit 100
"""

# The specification's filter-options view body (its three written branches), run on the sources.
SPEC_FILTER_OPTIONS = """
SELECT
  'industry' AS filter_type,
  i.id AS filter_id,
  i.industry_name AS filter_label,
  NULL::UUID AS parent_filter_id,
  COUNT(DISTINCT p.id) AS entity_count
FROM industries i
LEFT JOIN org_business_functions f ON f.industry_id = i.id
LEFT JOIN org_departments d ON d.function_id = f.id
LEFT JOIN org_roles r ON r.department_id = d.id
LEFT JOIN personas p ON p.role_id = r.id
GROUP BY i.id, i.industry_name

UNION ALL

SELECT
  'function' AS filter_type,
  f.id AS filter_id,
  f.function_name AS filter_label,
  f.industry_id AS parent_filter_id,
  COUNT(DISTINCT p.id) AS entity_count
FROM org_business_functions f
LEFT JOIN org_departments d ON d.function_id = f.id
LEFT JOIN org_roles r ON r.department_id = d.id
LEFT JOIN personas p ON p.role_id = r.id
GROUP BY f.id, f.function_name, f.industry_id

UNION ALL

SELECT
  'department' AS filter_type,
  d.id AS filter_id,
  d.department_name AS filter_label,
  d.function_id AS parent_filter_id,
  COUNT(DISTINCT p.id) AS entity_count
FROM org_departments d
LEFT JOIN org_roles r ON r.department_id = d.id
LEFT JOIN personas p ON p.role_id = r.id
GROUP BY d.id, d.department_name, d.function_id
"""


@dataclass
class Built:
    settings: database.ConnectionSettings
    target: Path
    output: str

    def query(self, sql: str, params: tuple = (), search_path: str = "value_view") -> list[tuple]:
        with database.connect(self.settings, autocommit=True) as conn:
            conn.execute(f"set search_path = {search_path}")
            return conn.execute(sql, params).fetchall()

    def manifest(self) -> dict[str, Any]:
        return json.loads((self.target / "manifest.json").read_text())

    def run_results(self) -> list[dict[str, Any]]:
        return json.loads((self.target / "run_results.json").read_text())["results"]


def dbt(project_dir: Path, settings: database.ConnectionSettings, target: Path, *args: str):
    env = dict(os.environ)
    env.update(settings.env())
    env["DBT_PROFILES_DIR"] = str(PROJECT_ROOT)
    env["DBT_PROJECT_DIR"] = str(project_dir)
    env["DBT_LOG_PATH"] = str(target)
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    return subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), *args, "--target-path", str(target)],
        cwd=project_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )


@pytest.fixture(scope="module")
def built(
    server: database.ConnectionSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Built]:
    settings = server.with_database(f"vv_dbt_{os.getpid()}_{secrets.token_hex(3)}")
    database.ensure_database(settings)
    target = tmp_path_factory.mktemp("dbt_target")
    try:
        demo_data.load_demo_data(
            settings,
            scale=1,
            seed=42,
            reset=True,
            as_of=dt.datetime.now(dt.timezone.utc).date(),
            progress=False,
        )
        result = dbt(PROJECT_ROOT, settings, target, "build")
        yield Built(settings=settings, target=target, output=result.stdout + result.stderr)
    finally:
        database.drop_database(settings)


def test_dbt_build_passes_on_demo_data(built: Built) -> None:
    statuses = {result["unique_id"]: result["status"] for result in built.run_results()}
    failed = {uid: status for uid, status in statuses.items() if status in ("error", "fail")}
    assert not failed, built.output[-4000:]
    # the demo's role workload is plausible: its warn-level checks pass, they do not only warn
    implausible = [
        uid
        for uid, status in statuses.items()
        if ("plausible" in uid or "utilisation" in uid or "agrees_with_filter_catalog" in uid)
        and status != "pass"
    ]
    assert not implausible, implausible
    assert sum(status == "success" for status in statuses.values()) >= 40
    assert sum(status == "pass" for status in statuses.values()) >= 500


def test_every_catalog_relation_exists_with_its_latest_version_name(built: Built) -> None:
    rows = built.query(
        "select relname, relkind::text from pg_class"
        " where relnamespace = 'value_view'::regnamespace and relkind in ('m', 'v', 'r')"
    )
    kinds = dict(rows)
    for relation, kind in CATALOG.items():
        assert kinds.get(f"{relation}_v1") == kind, relation
        assert kinds.get(relation) == "v", f"{relation}: the unsuffixed name is missing"
    for relation in CATALOG:
        assert built.query(f"select count(*) from {relation}")[0][0] > 0, relation


def test_every_materialized_view_can_refresh_concurrently(built: Built) -> None:
    """Each materialized view has a unique index on plain columns and its fingerprint comment."""
    rows = built.query(
        """
        select
            relation.relname,
            bool_or(index.indisunique and index.indexprs is null and index.indpred is null),
            obj_description(relation.oid, 'pg_class')
        from pg_class as relation
        left join pg_index as index on index.indrelid = relation.oid
        where relation.relnamespace = 'value_view'::regnamespace and relation.relkind = 'm'
        group by relation.relname, relation.oid
        """
    )
    assert {name for name, _, _ in rows} == {
        f"{name}_v1" for name, kind in CATALOG.items() if kind == "m"
    }
    for name, has_unique, comment in rows:
        assert has_unique, f"{name} has no unique index on plain columns"
        assert re.search(r"\[value_view:fingerprint=[0-9a-f]{32}\]", comment or ""), name


def test_the_spec_heatmap_query_runs_unchanged_on_an_index(built: Built) -> None:
    rows = built.query(SPEC_HEATMAP_QUERY)
    assert len(rows) == 100
    with database.connect(built.settings, autocommit=True) as conn:
        conn.execute("set search_path = value_view")
        columns = [column.name for column in conn.execute(SPEC_HEATMAP_QUERY).description]
        plan = conn.execute("explain (format json) " + SPEC_HEATMAP_QUERY).fetchone()[0]
    scores = [row[columns.index("opportunity_score")] for row in rows]
    assert scores == sorted(scores, reverse=True)
    assert min(scores) >= 10
    assert {row[columns.index("archetype")] for row in rows} == {"AUTOMATOR"}
    plan_text = json.dumps(plan)
    assert "Index Scan" in plan_text
    assert "Seq Scan" not in plan_text


def test_the_spec_filter_options_query_runs_on_the_sources(built: Built) -> None:
    rows = built.query(SPEC_FILTER_OPTIONS, search_path="vital")
    assert {row[0] for row in rows} == {"industry", "function", "department"}
    departments = built.query(
        "select filter_id, filter_label, parent_filter_id, entity_count"
        " from v_value_view_filter_options where filter_type = 'department' and tenant_id = %s",
        (SPEC_TENANT,),
    )
    assert departments
    assert all(parent is not None for _, _, parent, _ in departments)


def test_every_mart_column_is_documented_and_typed(built: Built) -> None:
    manifest = built.manifest()
    marts = [
        node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["fqn"][1] == "marts"
    ]
    assert {node["name"] for node in marts} >= set(CATALOG)
    for node in marts:
        assert node["description"], node["name"]
        assert node["version"] == node["latest_version"] == 1, node["name"]
        assert node["columns"], node["name"]
        for name, column in node["columns"].items():
            assert column["description"], f"{node['name']}.{name}"
            assert column["data_type"], f"{node['name']}.{name}"


def _row_versions(conn: Any, relations: list[str]) -> dict[str, int]:
    """Rows inserted, updated and deleted so far in each relation of schema value_view, once the
    other sessions of the database (a finished dbt run's) have exited: a backend flushes its
    statistics before it leaves pg_stat_activity."""
    deadline = dt.datetime.now() + dt.timedelta(seconds=30)
    while (
        dt.datetime.now() < deadline
        and conn.execute(
            "select count(*) from pg_stat_activity where datname = current_database()"
            " and backend_type = 'client backend' and pid <> pg_backend_pid()"
        ).fetchone()[0]
    ):
        conn.execute("select pg_sleep(0.1)")
    conn.execute("select pg_stat_clear_snapshot()")
    rows = conn.execute(
        "select relname::text, n_tup_ins + n_tup_upd + n_tup_del from pg_stat_user_tables"
        " where schemaname = 'value_view' and relname = any(%s)",
        (relations,),
    ).fetchall()
    return dict(rows)


def test_a_concurrent_refresh_of_an_unchanged_mart_writes_no_row(
    built: Built, tmp_path: Path
) -> None:
    """Each materialized view and maintained table keeps its refresh time in the refresh log, not
    in its rows: a second run over unchanged sources refreshes it concurrently (merges it on its
    key) without writing a row version, and its unsuffixed name (the specification's, and its
    tenant view) shows the new time."""
    nodes = [
        node
        for node in built.manifest()["nodes"].values()
        if node["resource_type"] == "model"
        and node["fqn"][1] == "marts"
        and node["config"]["materialized"] in REFRESHED_IN_PLACE
    ]
    in_log = [
        node for node in nodes if node["config"]["meta"].get("last_refreshed") == "refresh_log"
    ]
    # A view not (yet) recording its refreshes keeps the column in its rows.
    assert all(node in in_log or "last_refreshed" in node["columns"] for node in nodes)
    assert len(in_log) >= 7
    # A mart over a window of the clock ("the last 7 days", meta.refresh.skip_unchanged: false)
    # changes rows as time passes, sources unchanged or not.
    unclocked = [
        node["alias"]
        for node in in_log
        if (node["config"]["meta"].get("refresh") or {}).get("skip_unchanged") is not False
    ]
    assert unclocked

    with database.connect(built.settings, autocommit=True) as conn:
        logged = (
            "select relation_name, refreshed_at from value_view_meta.refresh_log"
            " where schema_name = 'value_view'"
        )
        first = dict(conn.execute(logged).fetchall())
        written = _row_versions(conn, unclocked)
    rerun = dbt(
        PROJECT_ROOT,
        built.settings,
        tmp_path / "rerun",
        "run",
        "--select",
        *sorted({node["name"] for node in in_log}),
    )
    assert rerun.returncode == 0, (rerun.stdout + rerun.stderr)[-4000:]
    for node in in_log:
        done = REFRESHED_IN_PLACE[node["config"]["materialized"]]
        assert f'"{node["alias"]}": {done}' in rerun.stdout, rerun.stdout[-4000:]

    with database.connect(built.settings, autocommit=True) as conn:
        assert _row_versions(conn, unclocked) == written
        second = dict(conn.execute(logged).fetchall())
        for node in in_log:
            alias, name = node["alias"], node["name"]
            assert second[alias] > first[alias], alias
            shown = conn.execute(f"select distinct last_refreshed from value_view.{name}")
            assert shown.fetchall() == [(second[alias],)], name
            for schema in ("value_view", "value_view_tenant"):
                columns = conn.execute(
                    "select attname::text from pg_attribute where attrelid = %s::regclass"
                    " and attnum > 0 and not attisdropped order by attnum desc limit 1",
                    (f"{schema}.{name}",),
                ).fetchone()
                assert columns == ("last_refreshed",), f"{schema}.{name}"
            assert "last_refreshed" not in node["columns"], alias
            # Dagster's freshness check reads the same time.
            assert health.last_refresh(built.settings, "value_view", alias) == (
                second[alias],
                "refresh log",
            )


# --------------------------------------------------------------------------------------
# The ODI gate: a wrong band edge or a wrong formula fails the build
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def odi_sandbox(
    server: database.ConnectionSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, database.ConnectionSettings]]:
    """A copy of the project over empty source tables, in a database of its own."""
    settings = server.with_database(f"vv_odi_{os.getpid()}_{secrets.token_hex(3)}")
    database.ensure_database(settings)
    root = tmp_path_factory.mktemp("odi_project")
    for name in ("models", "macros", "seeds", "snapshots", "tests", "analyses"):
        shutil.copytree(PROJECT_ROOT / name, root / name)
    shutil.copy(PROJECT_ROOT / "dbt_project.yml", root / "dbt_project.yml")
    ddl = demo_data.DDL_PATH.read_text()
    try:
        with database.connect(settings, autocommit=True) as conn:
            conn.execute("create schema vital")
            conn.execute("set search_path = vital")
            conn.execute(ddl)
        yield root, settings
    finally:
        database.drop_database(settings)


def build_odi_models(root: Path, settings: database.ConnectionSettings, target: Path):
    return dbt(
        root,
        settings,
        target,
        "build",
        "--select",
        "+int_odi_scores_classified",
        "--indirect-selection",
        "cautious",
    )


def test_odi_gate_fails_on_a_wrong_band_edge_or_formula(
    odi_sandbox: tuple[Path, database.ConnectionSettings], tmp_path: Path
) -> None:
    root, settings = odi_sandbox
    baseline = build_odi_models(root, settings, tmp_path / "baseline")
    assert baseline.returncode == 0, baseline.stdout[-3000:]

    bands = root / "seeds" / "odi_bands.csv"
    original_bands = bands.read_text()
    bands.write_text(
        original_bands.replace(
            "highly_underserved,opportunity_at_least,15.00",
            "highly_underserved,opportunity_at_least,16.00",
        )
    )
    assert bands.read_text() != original_bands
    wrong_edge = build_odi_models(root, settings, tmp_path / "edge")
    assert wrong_edge.returncode != 0, wrong_edge.stdout[-6000:]
    assert "odi_band_edge_highly_underserved_inclusive" in wrong_edge.stdout
    bands.write_text(original_bands)

    formula = root / "macros" / "odi" / "odi_opportunity.sql"
    original_formula = formula.read_text()
    formula.write_text(original_formula.replace("greatest(", "least("))
    assert formula.read_text() != original_formula
    wrong_formula = build_odi_models(root, settings, tmp_path / "formula")
    assert wrong_formula.returncode != 0
    assert "FAIL" in wrong_formula.stdout or "ERROR" in wrong_formula.stdout
    formula.write_text(original_formula)

    restored = build_odi_models(root, settings, tmp_path / "restored")
    assert restored.returncode == 0, restored.stdout[-3000:]
