"""Bad input in the sources: every class of the catalogue is reported by name and reconciled,
and no single bad row stops a build or reaches a mart.

The slow tests load demo data (scale 1) into a throwaway database, build the quarantine models
and run the quality tests once on the clean data (the baseline), then drop the source's
constraints, as an upstream application database without them would be, inject bad rows of
every class (among them rows that used to fail a build or a reader, and a row across tenants on
every foreign key between tenant-scoped tables) and run the whole `dbt build`. The build must
succeed and refresh every mart; each injected row must appear in its named test's stored
failures and once under its class in the quarantine, in no mart and in no other tenant's view;
the run's report must name the test, table and column, exclude_quarantined() must keep rejected
rows out and flagged rows in, and quality_reconciliation must balance.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from psycopg import sql

from orchestration.lib import database, quality, tenancy, tenant_removal
from orchestration.lib import dbt_runner as project
from orchestration.tools import demo_data

SEED = 42
SCHEMA = "vital"
PASSWORD = "bad-input-tenant"
QUARANTINE_MODELS = Path(__file__).resolve().parents[1] / "models" / "quarantine"
# A mart column holding an entity's id -> the source table of that entity (tenant-scoped)
ENTITY_COLUMNS = {
    "industry_id": "industries",
    "function_id": "org_business_functions",
    "department_id": "org_departments",
    "role_id": "org_roles",
    "persona_id": "personas",
    "jtbd_id": "jtbd",
    "ai_opportunity_id": "ai_opportunities",
    "workflow_id": "workflow_templates",
    "value_metric_id": "value_metrics",
    "user_id": "users",
    "evaluation_id": "business_evaluations",
}
QUALITY_SELECTION = ["--select", "path:models/quarantine", "path:tests/singular/quarantine"]
CHECKS = {
    "null_key",
    "duplicate_key",
    "duplicate",
    "orphan",
    "cross_tenant",
    "parent_deleted",
    "missing",
    "range",
    "nonfinite",
    "too_long",
    "bad_enum",
    "malformed_json",
    "oversized",
    "future_timestamp",
    "unpublished_persona",
}


@dataclass(frozen=True)
class Injection:
    """Bad rows put into the source, and the report they must produce."""

    test_name: str
    table: str
    column: str
    keys: frozenset[str]
    disposition: str
    rows: int = 1
    # statements on the BI schema that count the injected rows' traces in a mart: each must be 0
    probes: tuple[str, ...] = ()


@dataclass
class BadInput:
    settings: database.ConnectionSettings
    target: Path
    env: dict[str, str]
    manifest: dict[str, Any]
    baseline: dict[str, int]
    after: dict[str, int]
    output: str
    build_error: str | None = None
    # the build's run_results.json (later dbt commands of the tests overwrite the file)
    run_results: dict[str, Any] = field(default_factory=dict)
    injections: list[Injection] = field(default_factory=list)
    # tenant id -> login (password PASSWORD) that reads only that tenant's rows
    logins: dict[str, str] = field(default_factory=dict)

    def dbt(self, *args: str) -> subprocess.CompletedProcess[str]:
        return project.run_dbt(list(args), target_path=self.target, env=self.env)


# --------------------------------------------------------------------------------------
# Fast: the catalogue in the manifest
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    target = tmp_path_factory.mktemp("dbt_parse")
    project.run_dbt(["parse", "--quiet"], target_path=target)
    return json.loads((target / "manifest.json").read_text())


def test_every_class_of_bad_input_has_named_tests(manifest: dict[str, Any]) -> None:
    tests = quality.quality_tests(manifest)
    assert {test.check for test in tests} == CHECKS
    pattern = re.compile(r"^quality_[a-z0-9_]+$")
    for test in tests:
        assert pattern.match(test.name) and len(test.name) <= 63, test.name
        expected = f"quality_{test.check}_{test.source_table}"
        if test.column is not None:
            expected += f"_{test.column}"
        assert test.name == expected


def test_every_quality_test_stores_failures_and_only_warns(manifest: dict[str, Any]) -> None:
    nodes = manifest["nodes"]
    quality_nodes = [
        node
        for node in nodes.values()
        if node["resource_type"] == "test" and node["name"].startswith("quality_")
    ]
    assert len(quality_nodes) > len(CHECKS)
    for node in quality_nodes:
        config = node["config"]
        assert config["severity"].lower() == "warn", node["name"]
        assert config["store_failures"] is True, node["name"]
        assert config["schema"] == "quality", node["name"]


def test_every_quarantined_table_has_a_staging_model(manifest: dict[str, Any]) -> None:
    names = {node["name"] for node in manifest["nodes"].values()}
    quarantined = sorted(
        name.removeprefix("quarantine_") for name in names if name.startswith("quarantine_")
    )
    assert len(quarantined) >= 20
    for table in quarantined:
        assert {f"stg_vital__{table}", f"stg_evaluations__{table}"} & names, table


# --------------------------------------------------------------------------------------
# Slow: injected bad rows
# --------------------------------------------------------------------------------------


def failures(target: Path) -> dict[str, int]:
    results = json.loads((target / "run_results.json").read_text())["results"]
    return {
        result["unique_id"].split(".")[2]: int(result.get("failures") or 0)
        for result in results
        if result["unique_id"].startswith("test.")
    }


def drop_source_constraints(conn: Any, schema: str) -> None:
    """Foreign keys, checks, unique and primary keys, then NOT NULL: an unguarded upstream."""
    constraints = conn.execute(
        "select relations.relname::text, constraints.conname::text"
        " from pg_constraint as constraints"
        " inner join pg_class as relations on relations.oid = constraints.conrelid"
        " where constraints.connamespace = %s::regnamespace"
        " and constraints.contype in ('f', 'c', 'u', 'p')"
        " order by constraints.contype <> 'f', relations.relname, constraints.conname",
        (schema,),
    ).fetchall()
    for table, name in constraints:
        conn.execute(
            sql.SQL("alter table {}.{} drop constraint if exists {}").format(
                sql.Identifier(schema), sql.Identifier(table), sql.Identifier(name)
            )
        )
    required = conn.execute(
        "select table_name::text, column_name::text from information_schema.columns"
        " where table_schema = %s and is_nullable = 'NO'",
        (schema,),
    ).fetchall()
    for table, column in required:
        conn.execute(
            sql.SQL("alter table {}.{} alter column {} drop not null").format(
                sql.Identifier(schema), sql.Identifier(table), sql.Identifier(column)
            )
        )


def inject(conn: Any) -> list[Injection]:
    """One or more bad rows of every class, each into rows no other injection touches."""

    def one(query: str, params: tuple = ()) -> Any:
        row = conn.execute(query, params).fetchone()
        assert row is not None, query
        return row[0] if len(row) == 1 else row

    def ids(query: str, count: int) -> list[str]:
        rows = [str(row[0]) for row in conn.execute(query).fetchall()][:count]
        assert len(rows) == count, query
        return rows

    live_job, tenant = one(
        "select id, tenant_id from vital.jtbd where deleted_at is null order by id limit 1"
    )
    injected: list[Injection] = []

    def add(
        test: str,
        table: str,
        column: str,
        keys: list[str],
        disposition: str,
        rows: int = 1,
        probes: tuple[str, ...] = (),
    ) -> None:
        injected.append(Injection(test, table, column, frozenset(keys), disposition, rows, probes))

    # orphan foreign key
    orphan = one(
        "insert into vital.jtbd_roles (id, tenant_id, jtbd_id, role_id, is_primary, created_at)"
        " values (gen_random_uuid(), %s, %s, gen_random_uuid(), false, now() - interval '1 day')"
        " returning id::text",
        (tenant, live_job),
    )
    add("quality_orphan_jtbd_roles_role_id", "jtbd_roles", "role_id", [orphan], "rejected")

    # scores: outside 0-10, a null key, another tenant's persona
    out_of_range, null_persona, cross = ids(
        "select scores.id from vital.jtbd_odi_scores as scores"
        " inner join vital.jtbd as jobs on jobs.id = scores.jtbd_id and jobs.deleted_at is null"
        " inner join vital.personas as personas on personas.id = scores.persona_id"
        " and personas.validation_status = 'published'"
        " order by scores.id",
        3,
    )
    conn.execute(
        "update vital.jtbd_odi_scores set importance_score = 12.5 where id = %s", (out_of_range,)
    )
    add(
        "quality_range_jtbd_odi_scores_importance_score",
        "jtbd_odi_scores",
        "importance_score",
        [out_of_range],
        "rejected",
    )
    conn.execute(
        "update vital.jtbd_odi_scores set persona_id = null where id = %s", (null_persona,)
    )
    add("quality_null_key_jtbd_odi_scores", "jtbd_odi_scores", "", [null_persona], "rejected")
    conn.execute(
        "update vital.jtbd_odi_scores as scores set persona_id = (select others.id"
        " from vital.personas as others where others.tenant_id <> scores.tenant_id"
        " and others.validation_status = 'published' order by others.id limit 1)"
        " where scores.id = %s",
        (cross,),
    )
    add(
        "quality_cross_tenant_jtbd_odi_scores_persona_id",
        "jtbd_odi_scores",
        "persona_id",
        [cross],
        "rejected",
    )

    # a row without an id at all
    conn.execute(
        "create temporary table metric_copy as"
        " select * from vital.value_metrics order by id limit 1"
    )
    conn.execute("update metric_copy set id = null")
    conn.execute("insert into vital.value_metrics select * from metric_copy")
    add("quality_null_key_value_metrics", "value_metrics", "id", ["null"], "rejected")

    # the same id twice
    role = one("select id::text from vital.org_roles order by id limit 1")
    conn.execute("insert into vital.org_roles select * from vital.org_roles where id = %s", (role,))
    add("quality_duplicate_key_org_roles", "org_roles", "id", [role], "rejected", rows=2)

    # a job code repeated within its tenant (the later copy is rejected)
    original = one(
        "select id::text from vital.jtbd where deleted_at is null order by id offset 1 limit 1"
    )
    copy = one(
        "insert into vital.jtbd (id, tenant_id, code, name, job_statement, complexity, frequency,"
        " status, created_at, updated_at)"
        " select gen_random_uuid(), tenant_id, code, name || ' (copy)', job_statement,"
        " complexity, frequency, status, created_at + interval '1 second', updated_at"
        " from vital.jtbd where id = %s returning id::text",
        (original,),
    )
    add("quality_duplicate_jtbd_code", "jtbd", "code", [copy], "rejected")

    # an unknown enumeration value
    unknown = one(
        "select id::text from vital.jtbd where deleted_at is null order by id offset 2 limit 1"
    )
    conn.execute("update vital.jtbd set complexity = 'extreme' where id = %s", (unknown,))
    add("quality_bad_enum_jtbd_complexity", "jtbd", "complexity", [unknown], "rejected")

    # a live child of a soft-deleted parent
    child = one(
        "insert into vital.ai_opportunities (id, tenant_id, jtbd_id, opportunity_name,"
        " automation_potential, status, priority, estimated_time_savings_hours,"
        " estimated_cost_savings_usd, created_at, updated_at)"
        " select gen_random_uuid(), jobs.tenant_id, jobs.id, 'Opportunity on a deleted job',"
        " 0.5, 'identified', 'high', 10, 1000, now() - interval '1 day',"
        " now() - interval '1 day'"
        " from vital.jtbd as jobs where jobs.deleted_at is not null order by jobs.id limit 1"
        " returning id::text"
    )
    add(
        "quality_parent_deleted_ai_opportunities_jtbd_id",
        "ai_opportunities",
        "jtbd_id",
        [child],
        "flagged",
    )

    # professional data: over 512 KB, a malformed shape, and a number no mart column can hold
    oversized, malformed, huge = ids(
        "select id from vital.business_evaluations"
        " where deleted_at is null and professional_data is not null"
        " and professional_data ? 'customerAnalytics' order by id",
        3,
    )
    conn.execute(
        "update vital.business_evaluations set professional_data = professional_data"
        " || jsonb_build_object('notes', repeat('x', 600000)) where id = %s",
        (oversized,),
    )
    add(
        "quality_oversized_business_evaluations_professional_data",
        "business_evaluations",
        "professional_data",
        [oversized],
        "flagged",
    )
    conn.execute(
        "update vital.business_evaluations set professional_data = jsonb_set(professional_data,"
        " '{financialMetrics,annualRevenue}', '\"n/a\"') where id = %s",
        (malformed,),
    )
    # a customerLifetimeValue of 1e300 overflowed professional_tier_customer_analytics.avg_clv
    conn.execute(
        "update vital.business_evaluations set professional_data = jsonb_set(professional_data,"
        " '{customerAnalytics,customerLifetimeValue}', '1e300') where id = %s",
        (huge,),
    )
    add(
        "quality_malformed_json_business_evaluations_professional_data",
        "business_evaluations",
        "professional_data",
        [malformed, huge],
        "rejected",
        rows=2,
        probes=(
            "select count(*) from value_view.professional_tier_current_evaluations"
            f" where evaluation_id in ('{malformed}', '{huge}')",
        ),
    )
    preference, out_of_scale = ids("select id from vital.user_preferences order by id", 2)
    conn.execute(
        "update vital.user_preferences set saved_filters = '[\"heatmap\"]' where id = %s",
        (preference,),
    )
    # a saved minimum score of 150 failed every read of v_value_view_user_context
    saver = one(
        "update vital.user_preferences set saved_filters = saved_filters"
        " || '{\"min_opportunity_score\": 150}' where id = %s returning user_id::text",
        (out_of_scale,),
    )
    add(
        "quality_malformed_json_user_preferences_saved_filters",
        "user_preferences",
        "saved_filters",
        [preference, out_of_scale],
        "rejected",
        rows=2,
        probes=(
            "select count(*) from value_view.v_value_view_user_context"
            f" where user_id = '{saver}' and saved_filters is not null",
        ),
    )

    # a measurement dated in the future
    future = one(
        "select id::text from vital.value_metrics where id is not null order by id limit 1"
    )
    conn.execute(
        "update vital.value_metrics set measured_at = now() + interval '30 days' where id = %s",
        (future,),
    )
    add(
        "quality_future_timestamp_value_metrics_measured_at",
        "value_metrics",
        "measured_at",
        [future],
        "rejected",
    )

    # a user pointed at a persona that is not published
    user = one(
        "select users.id::text from vital.users as users where users.persona_id is null"
        " and exists (select 1 from vital.personas as drafts where drafts.tenant_id ="
        " users.tenant_id and drafts.validation_status <> 'published') order by users.id limit 1"
    )
    conn.execute(
        "update vital.users as users set persona_id = (select drafts.id from vital.personas as"
        " drafts where drafts.tenant_id = users.tenant_id and drafts.validation_status <>"
        " 'published' order by drafts.id limit 1) where users.id = %s",
        (user,),
    )
    add("quality_unpublished_persona_users_persona_id", "users", "persona_id", [user], "flagged")
    return injected


def inject_build_stoppers(conn: Any) -> list[Injection]:
    """Rows that used to stop a build or break a reader: each must now be quarantined."""
    injected: list[Injection] = []

    def one(query: str, params: tuple = ()) -> Any:
        row = conn.execute(query, params).fetchone()
        assert row is not None, query
        return row[0] if len(row) == 1 else row

    # personas without an archetype and without a name (a nameless heatmap row)
    no_archetype, no_name = (
        str(row[0])
        for row in conn.execute(
            "select id from vital.personas where validation_status = 'published'"
            " order by id desc limit 2"
        ).fetchall()
    )
    conn.execute("update vital.personas set archetype = null where id = %s", (no_archetype,))
    conn.execute("update vital.personas set persona_name = null where id = %s", (no_name,))
    for test, column, key in (
        ("quality_bad_enum_personas_archetype", "archetype", no_archetype),
        ("quality_missing_personas_persona_name", "persona_name", no_name),
    ):
        probes = tuple(
            f"select count(*) from value_view.{mart} where persona_id = '{key}'"
            for mart in ("mv_value_view_odi_heatmap", "mv_value_view_persona_dashboard")
        )
        injected.append(
            Injection(test, "personas", column, frozenset([key]), "rejected", 1, probes)
        )

    # a 3,200-character department name failed every heatmap refresh (btree entry > 2,704 bytes)
    department = one(
        "select departments.id::text from vital.org_departments as departments"
        " where exists (select 1 from vital.org_roles as roles"
        " inner join vital.personas as personas on personas.role_id = roles.id"
        " where roles.department_id = departments.id"
        " and personas.validation_status = 'published')"
        " order by departments.id desc limit 1"
    )
    conn.execute(
        "update vital.org_departments set department_name = department_name || ' '"
        " || (select string_agg(md5(n::text), '') from generate_series(1, 100) as n)"
        " where id = %s",
        (department,),
    )
    injected.append(
        Injection(
            "quality_too_long_org_departments_department_name",
            "org_departments",
            "department_name",
            frozenset([department]),
            "rejected",
            1,
            tuple(
                f"select count(*) from value_view.{mart} where department_id = '{department}'"
                for mart in ("mv_value_view_odi_heatmap", "mv_value_view_role_workload")
            ),
        )
    )

    # two opportunities of 9e12 USD on one job overflowed the savings sums of the marts
    job = one(
        "select opportunities.jtbd_id from vital.ai_opportunities as opportunities"
        " inner join vital.jtbd as jobs on jobs.id = opportunities.jtbd_id"
        " and jobs.deleted_at is null"
        " group by opportunities.jtbd_id having count(*) >= 2"
        " order by opportunities.jtbd_id desc limit 1"
    )
    huge = [
        str(row[0])
        for row in conn.execute(
            "update vital.ai_opportunities set estimated_cost_savings_usd = 9e12"
            " where id in (select id from vital.ai_opportunities where jtbd_id = %s"
            " order by id limit 2) returning id",
            (job,),
        ).fetchall()
    ]
    injected.append(
        Injection(
            "quality_range_ai_opportunities_estimated_cost_savings_usd",
            "ai_opportunities",
            "estimated_cost_savings_usd",
            frozenset(huge),
            "rejected",
            2,
            (
                "select count(*) from value_view.mv_value_view_opportunity_pipeline"
                f" where ai_opportunity_id in ('{huge[0]}', '{huge[1]}')",
            ),
        )
    )

    # NaN and infinite values: 'NaN' read as 100 % attainment, '-infinity' broke select *
    not_a_number, minus_infinity = (
        str(row[0])
        for row in conn.execute(
            "select metrics.id from vital.value_metrics as metrics"
            " inner join vital.jtbd as jobs on jobs.id = metrics.jtbd_id"
            " and jobs.deleted_at is null"
            " where metrics.id is not null and metrics.workflow_template_id is null"
            " order by metrics.id desc limit 2"
        ).fetchall()
    )
    conn.execute(
        "update vital.value_metrics set actual_value = 'NaN' where id = %s", (not_a_number,)
    )
    conn.execute(
        "update vital.value_metrics set measured_at = '-infinity' where id = %s",
        (minus_infinity,),
    )
    for column, key in (("actual_value", not_a_number), ("measured_at", minus_infinity)):
        injected.append(
            Injection(
                f"quality_nonfinite_value_metrics_{column}",
                "value_metrics",
                column,
                frozenset([key]),
                "rejected",
                1,
                (
                    "select count(*) from value_view.mv_value_view_value_realization"
                    f" where value_metric_id = '{key}'",
                ),
            )
        )
    return injected + inject_domain_stoppers(conn)


def inject_domain_stoppers(conn: Any) -> list[Injection]:
    """Rows of the domain tables no mart reads yet that used to fail their staging tests at
    error severity (not_null, unique, accepted_values) and so the build."""

    def first(table: str, offset: int = 0) -> str:
        row = conn.execute(
            f"select id::text from vital.{table} order by id offset %s limit 1", (offset,)
        ).fetchone()
        assert row is not None, table
        return row[0]

    product, disease, evidence, graded = (
        first("products"),
        first("diseases"),
        first("evidence"),
        first("evidence", 1),
    )
    conn.execute(
        "update vital.products set lifecycle_stage = 'withdrawn' where id = %s", (product,)
    )
    conn.execute("update vital.diseases set therapeutic_area_id = null where id = %s", (disease,))
    conn.execute(
        "insert into vital.evidence select * from vital.evidence where id = %s", (evidence,)
    )
    conn.execute("update vital.evidence set evidence_level = 'E' where id = %s", (graded,))
    conn.execute(
        "insert into vital.therapeutic_areas (id, tenant_id, code, name, created_at)"
        " select null, tenant_id, code || '-copy', name, created_at from vital.therapeutic_areas"
        " order by id limit 1"
    )
    return [
        Injection(
            "quality_bad_enum_products_lifecycle_stage",
            "products",
            "lifecycle_stage",
            frozenset([product]),
            "rejected",
        ),
        Injection("quality_null_key_diseases", "diseases", "", frozenset([disease]), "rejected"),
        Injection(
            "quality_duplicate_key_evidence", "evidence", "id", frozenset([evidence]), "rejected", 2
        ),
        Injection(
            "quality_bad_enum_evidence_evidence_level",
            "evidence",
            "evidence_level",
            frozenset([graded]),
            "rejected",
        ),
        Injection(
            "quality_null_key_therapeutic_areas",
            "therapeutic_areas",
            "id",
            frozenset(["null"]),
            "rejected",
        ),
    ]


# The tenant of a row of a table without tenant_id: its parents'.
ROW_TENANT = {
    "workflow_tasks": (
        "(select templates.tenant_id from vital.workflow_stages as stages"
        " inner join vital.workflow_templates as templates"
        " on templates.id = stages.workflow_template_id"
        " where stages.id = rows.workflow_stage_id)"
    ),
}


def tenant_foreign_keys(conn: Any, schema: str) -> list[tuple[str, str, str]]:
    """Every foreign key (table, column, parent) of the source between tables that have a tenant
    (a tenant_id, or their parents' in ROW_TENANT), among the tables the quarantine checks."""
    checked = {path.stem.removeprefix("quarantine_") for path in QUARANTINE_MODELS.glob("*.sql")}
    tenant_tables = {
        row[0]
        for row in conn.execute(
            "select table_name::text from information_schema.columns"
            " where table_schema = %s and column_name = 'tenant_id'",
            (schema,),
        ).fetchall()
    }
    keys = conn.execute(
        "select children.relname::text, columns.attname::text, parents.relname::text"
        " from pg_constraint as constraints"
        " inner join pg_class as children on children.oid = constraints.conrelid"
        " inner join pg_class as parents on parents.oid = constraints.confrelid"
        " inner join pg_attribute as columns on columns.attrelid = constraints.conrelid"
        " and columns.attnum = constraints.conkey[1]"
        " where constraints.connamespace = %s::regnamespace and constraints.contype = 'f'"
        " and cardinality(constraints.conkey) = 1"
        " order by 1, 2",
        (schema,),
    ).fetchall()
    return [
        (table, column, parent)
        for table, column, parent in keys
        if column != "tenant_id"
        and table in checked
        and (table in tenant_tables or table in ROW_TENANT)
        and parent in tenant_tables
    ]


def inject_cross_tenant(
    conn: Any, foreign_keys: list[tuple[str, str, str]], taken: set[str], skip: set[str]
) -> list[Injection]:
    """For every foreign key between tenant-scoped tables whose test is not in ``skip``: one live
    row moved to a live (published) parent of another tenant, chosen among rows no other
    injection touches and whose current parent is live too, so that only the cross_tenant
    finding changes."""
    soft_deleted = {
        row[0]
        for row in conn.execute(
            "select table_name::text from information_schema.columns"
            " where table_schema = 'vital' and column_name = 'deleted_at'"
        ).fetchall()
    }
    injected: list[Injection] = []

    def usable(alias: str, table: str, *, new_parent: bool = False) -> str:
        condition = f"{alias}.deleted_at is null" if table in soft_deleted else "true"
        if table == "personas":
            condition += f" and {alias}.validation_status = 'published'"
        if table == "org_roles" and new_parent:
            # a role no task is assigned to: its workload must stay without tasks
            condition += (
                " and not exists (select 1 from vital.workflow_tasks as tasks"
                f" where tasks.assigned_role_id = {alias}.id)"
            )
        return condition

    for table, column, parent in foreign_keys:
        test_name = f"quality_cross_tenant_{table}_{column}"
        if test_name in skip:
            continue
        row_tenant = ROW_TENANT.get(table, "rows.tenant_id")
        # the new parent first (for a task, a role no task is assigned to: its workload must
        # stay without tasks), then a row of another tenant
        other = conn.execute(
            f"select parents.id::text, parents.tenant_id::text from vital.{parent} as parents"
            f" where {usable('parents', parent, new_parent=table == 'workflow_tasks')}"
            " order by md5(parents.id::text) limit 1"
        ).fetchone()
        assert other is not None, test_name
        row = conn.execute(
            f"select rows.id::text from vital.{table} as rows"
            f" inner join vital.{parent} as current on current.id = rows.{column}"
            f" where {usable('rows', table)} and {usable('current', parent)}"
            f" and {row_tenant} <> %s::uuid"
            " and rows.id is not null and rows.id::text <> all(%s)"
            f" and rows.id not in (select id from vital.{table} where id is not null"
            " group by id having count(*) > 1)"
            " order by md5(rows.id::text) limit 1",
            (other[1], sorted(taken)),
        ).fetchone()
        assert row is not None, test_name
        key = row[0]
        conn.execute(f"update vital.{table} set {column} = %s where id = %s", (other[0], key))
        taken.add(key)
        probes: tuple[str, ...] = ()
        if table == "workflow_tasks":
            probes = (
                "select count(*) from value_view.mv_value_view_role_workload"
                f" where role_id = '{other[0]}' and tasks_assigned_count > 0",
            )
        injected.append(
            Injection(test_name, table, column, frozenset([key]), "rejected", 1, probes)
        )
    return injected


@contextmanager
def built_with_bad_rows(server: database.ConnectionSettings, target: Path) -> Iterator[BadInput]:
    """A throwaway database: demo data, the clean baseline of the quality tests, bad rows of
    every class put in without the source's constraints, then the whole build (no logins yet).
    The session's ``bad_build`` fixture (conftest.py) holds it, so that
    test_bad_input_generated.py starts from a copy of it rather than from a second build."""
    settings = server.with_database(f"vv_bad_input_{os.getpid()}_{secrets.token_hex(3)}")
    database.ensure_database(settings)
    env = {**os.environ, **settings.env(), "DBT_USE_COLORS": "false"}
    try:
        demo_data.load_demo_data(
            settings,
            scale=1,
            seed=SEED,
            schema=SCHEMA,
            as_of=dt.datetime.now(dt.timezone.utc).date(),
            progress=False,
        )
        project.run_dbt(
            ["run", "--quiet", "--select", "+path:models/quarantine"], target_path=target, env=env
        )
        project.run_dbt(["test", "--quiet", *QUALITY_SELECTION], target_path=target, env=env)
        baseline = failures(target)
        with database.connect(settings) as conn, conn.transaction():
            foreign_keys = tenant_foreign_keys(conn, SCHEMA)
            drop_source_constraints(conn, SCHEMA)
            injections = inject(conn) + inject_build_stoppers(conn)
            injections += inject_cross_tenant(
                conn,
                foreign_keys,
                {key for injection in injections for key in injection.keys},
                {injection.test_name for injection in injections},
            )
        # The whole build, as a scheduled run would do it: no bad row may stop it.
        build_error = None
        try:
            output = project.run_dbt(["build"], target_path=target, env=env, timeout=3600).stdout
        except project.DbtCommandError as error:
            output = build_error = str(error)
        yield BadInput(
            settings,
            target,
            env,
            json.loads((target / "manifest.json").read_text()),
            baseline,
            failures(target),
            output,
            build_error,
            json.loads((target / "run_results.json").read_text()),
            injections,
        )
    finally:
        database.drop_database(settings)


@pytest.fixture(scope="module")
def bad(bad_build: BadInput) -> Iterator[BadInput]:
    """The built warehouse with a login per tenant (password PASSWORD)."""
    logins: dict[str, str] = {}
    try:
        with database.connect(bad_build.settings, autocommit=True) as conn:
            tenants = [row[0] for row in conn.execute("select id::text from vital.tenants")]
        for tenant in tenants:
            login = f"vv_bad_{os.getpid()}_{secrets.token_hex(3)}"
            tenancy.add_login(bad_build.settings, login, tenant, password=PASSWORD)
            logins[tenant] = login
        yield replace(bad_build, logins=logins)
    finally:
        for login in logins.values():
            tenant_removal.remove_login(bad_build.settings, login)


def _each(bad: BadInput, check: Callable[[Injection], str | None]) -> None:
    problems = [problem for injection in bad.injections if (problem := check(injection))]
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_every_class_is_injected(bad: BadInput) -> None:
    names = {injection.test_name for injection in bad.injections}
    assert len(names) == len(bad.injections) >= 12
    injected = {test.check for test in quality.quality_tests(bad.manifest) if test.name in names}
    assert injected == CHECKS


@pytest.mark.slow
def test_every_rule_the_quarantine_runs_has_its_test(bad: BadInput) -> None:
    compiled = bad.target / "compiled" / "value_view" / "models" / "quarantine"
    ran = {
        name
        for path in compiled.glob("quarantine_*.sql")
        for name in re.findall(r"'(quality_[a-z0-9_]+)'::text as test_name", path.read_text())
    }
    declared = {test.name for test in quality.quality_tests(bad.manifest)}
    assert len(ran) > 150
    assert ran == declared, (sorted(ran - declared), sorted(declared - ran))


@pytest.mark.slow
def test_each_injection_raises_its_named_test_by_exactly_its_rows(bad: BadInput) -> None:
    def check(injection: Injection) -> str | None:
        before = bad.baseline.get(injection.test_name)
        after = bad.after.get(injection.test_name)
        if before is None or after is None:
            return f"{injection.test_name} did not run"
        if after - before != injection.rows:
            return f"{injection.test_name}: {before} -> {after}, expected +{injection.rows}"
        return None

    _each(bad, check)


@pytest.mark.slow
def test_clean_demo_data_passes_every_injected_check_but_by_design_ones(bad: BadInput) -> None:
    by_design = {"parent_deleted", "unpublished_persona"}
    for injection in bad.injections:
        check = next(
            test.check
            for test in quality.quality_tests(bad.manifest)
            if test.name == injection.test_name
        )
        if check not in by_design:
            assert bad.baseline[injection.test_name] == 0, injection.test_name


@pytest.mark.slow
def test_stored_failures_hold_the_injected_keys(bad: BadInput) -> None:
    found = {
        finding.name: finding
        for finding in quality.findings(
            bad.settings,
            bad.run_results,
            bad.manifest,
        )
    }

    def check(injection: Injection) -> str | None:
        finding = found.get(injection.test_name)
        if finding is None:
            return f"{injection.test_name}: no stored failures"
        if finding.disposition != injection.disposition:
            return f"{injection.test_name}: {finding.disposition}, expected {injection.disposition}"
        if finding.source_table != injection.table:
            return f"{injection.test_name}: reported table {finding.source_table}"
        missing = injection.keys - quality.stored_keys(bad.settings, finding.relation_name)
        return f"{injection.test_name}: keys {sorted(missing)} not stored" if missing else None

    _each(bad, check)


@pytest.mark.slow
def test_the_run_reports_each_injection_by_name_table_and_column(bad: BadInput) -> None:
    lines = [line for line in bad.output.splitlines() if ": " in line and "quality_" in line]

    def check(injection: Injection) -> str | None:
        prefix = f"{injection.test_name}: "
        reported = [line for line in lines if prefix in line]
        if not reported:
            return f"{injection.test_name}: not in the run's report"
        where = f" in {SCHEMA}.{injection.table}.{injection.column}"
        if where not in reported[0] or "sample id: " not in reported[0]:
            return f"{injection.test_name}: report line lacks {where!r}: {reported[0]}"
        return None

    _each(bad, check)


@pytest.mark.slow
def test_exclude_quarantined_keeps_rejected_rows_out_and_flagged_rows_in(bad: BadInput) -> None:
    tables = sorted({injection.table for injection in bad.injections})
    inline = " union all ".join(
        f"select '{table}' as source_table, coalesce(source.id::text, 'null') as row_key"
        f" from {{{{ source('{source}', '{table}') }}}} as source"
        f" where {{{{ exclude_quarantined('{table}') }}}}"
        for table, source in (
            (table, "evaluations" if table == "business_evaluations" else "vital")
            for table in tables
        )
    )
    compiled = bad.dbt("compile", "--quiet", "--inline", inline).stdout.strip()
    with database.connect(bad.settings, autocommit=True) as conn:
        kept = set(conn.execute(compiled).fetchall())

    def check(injection: Injection) -> str | None:
        present = {key for key in injection.keys if (injection.table, key) in kept}
        if injection.disposition == "rejected" and present:
            return f"{injection.test_name}: rejected keys kept {sorted(present)}"
        if injection.disposition == "flagged" and present != injection.keys:
            return f"{injection.test_name}: flagged keys dropped"
        return None

    _each(bad, check)


@pytest.mark.slow
def test_reconciliation_balances(bad: BadInput) -> None:
    rows = {row.source_table: row for row in quality.reconciliation(bad.settings, bad.manifest)}
    wired = quality.wired_tables(bad.manifest)
    assert {injection.table for injection in bad.injections} <= set(rows)
    problems = []
    for table, row in rows.items():
        # staging drops exactly the soft-deleted rows, plus the rejected ones once it applies
        # exclude_quarantined(); nothing else goes missing and nothing is counted twice
        leaked = 0 if table in wired else row.rejected_rows
        if row.staged_rows + row.soft_deleted_rows + row.rejected_rows - leaked != row.source_rows:
            problems.append(f"{table}: {row}")
        if row.is_balanced != (leaked == 0):
            problems.append(f"{table}: is_balanced {row.is_balanced} with {leaked} leaked rows")
    assert not problems, "\n".join(problems)
    for injection in bad.injections:
        if injection.disposition == "rejected":
            assert rows[injection.table].rejected_rows >= injection.rows, injection.test_name
    unbalanced = {table for table, row in rows.items() if not row.is_balanced}
    reported = bad.after.get("quality_reconciliation_unbalanced", 0)
    assert reported == len(unbalanced)


# --------------------------------------------------------------------------------------
# Slow: the whole build with the bad rows
# --------------------------------------------------------------------------------------


def _marts(bad: BadInput) -> list[dict[str, Any]]:
    return [
        node
        for node in bad.manifest["nodes"].values()
        if node["resource_type"] == "model"
        and node["original_file_path"].startswith("models/marts/")
    ]


@pytest.mark.slow
def test_no_bad_row_stops_the_build_and_every_mart_refreshes(bad: BadInput) -> None:
    assert bad.build_error is None, bad.build_error
    results = bad.run_results["results"]
    stopped = [
        f"{result['unique_id']}: {result['status']} {result.get('message') or ''}"
        for result in results
        if result["status"] in ("error", "fail", "skipped", "runtime error")
    ]
    assert not stopped, "\n".join(stopped)
    status = {result["unique_id"]: result["status"] for result in results}
    marts = _marts(bad)
    assert len(marts) >= 12
    assert {node["unique_id"]: status.get(node["unique_id"]) for node in marts} == {
        node["unique_id"]: "success" for node in marts
    }


@pytest.mark.slow
def test_no_injected_row_reaches_a_mart(bad: BadInput) -> None:
    probed = [injection for injection in bad.injections if injection.probes]
    assert len(probed) >= 9
    with database.connect(bad.settings, autocommit=True) as conn:

        def check(injection: Injection) -> str | None:
            for probe in injection.probes:
                count = conn.execute(probe).fetchone()[0]
                if count:
                    return f"{injection.test_name}: {count} rows in a mart: {probe}"
            return None

        _each(bad, check)


@pytest.mark.slow
def test_every_bi_relation_reads_whole(bad: BadInput) -> None:
    """select * of every mart, as a BI tool would: no value a reader cannot decode."""
    relations = tenancy.bi_relations(bad.manifest)
    assert relations
    with database.connect(bad.settings, autocommit=True) as conn:
        for relation in relations:
            conn.execute(
                sql.SQL("select * from {}.{}").format(
                    sql.Identifier(relation.schema), sql.Identifier(relation.relation)
                )
            ).fetchall()


@pytest.mark.slow
def test_each_bad_row_is_counted_once_under_its_class(bad: BadInput) -> None:
    relations = {
        node["name"]: node["relation_name"]
        for node in bad.manifest["nodes"].values()
        if node["resource_type"] == "model" and node["name"].startswith("quarantine_")
    }
    with database.connect(bad.settings, autocommit=True) as conn:

        def check(injection: Injection) -> str | None:
            per_key = injection.rows // len(injection.keys)
            for key in injection.keys:
                count = conn.execute(
                    f"select count(*) from {relations['quarantine_' + injection.table]}"
                    " where test_name = %s and coalesce(row_id::text, 'null') = %s",
                    (injection.test_name, key),
                ).fetchone()[0]
                if count != per_key:
                    return f"{injection.test_name}: {key} counted {count} times, expected {per_key}"
            return None

        _each(bad, check)


@pytest.mark.slow
def test_every_foreign_key_between_tenants_is_a_checked_class(bad: BadInput) -> None:
    crossed = {
        injection.test_name
        for injection in bad.injections
        if injection.test_name.startswith("quality_cross_tenant_")
    }
    assert "quality_cross_tenant_ai_opportunities_jtbd_id" in crossed
    assert "quality_cross_tenant_workflow_tasks_assigned_role_id" in crossed
    assert len(crossed) >= 16
    declared = {test.name for test in quality.quality_tests(bad.manifest)}
    assert crossed <= declared, sorted(crossed - declared)


@pytest.mark.slow
def test_tenant_views_show_no_other_tenants_rows(bad: BadInput) -> None:
    assert len(bad.logins) >= 2
    owners: dict[str, dict[str, list[str]]] = {}
    with database.connect(bad.settings, autocommit=True) as conn:
        for column, table in ENTITY_COLUMNS.items():
            owners[column] = {
                tenant: [
                    row[0]
                    for row in conn.execute(
                        sql.SQL("select id::text from {}.{} where tenant_id::text = %s").format(
                            sql.Identifier(SCHEMA), sql.Identifier(table)
                        ),
                        (tenant,),
                    ).fetchall()
                ]
                for tenant in bad.logins
            }
        columns = conn.execute(
            "select table_name::text, column_name::text from information_schema.columns"
            " where table_schema = %s and column_name = any(%s)",
            (tenancy.TENANT_SCHEMA, list(ENTITY_COLUMNS)),
        ).fetchall()
    assert len({table for table, _ in columns}) >= 8
    leaks = []
    for tenant, login in bad.logins.items():
        with database.connect(
            replace(bad.settings, user=login, password=PASSWORD), autocommit=True
        ) as conn:
            for relation, column in columns:
                others = [
                    key for owner, keys in owners[column].items() if owner != tenant for key in keys
                ]
                count = conn.execute(
                    sql.SQL("select count(*) from {}.{} where {}::text = any(%s)").format(
                        sql.Identifier(tenancy.TENANT_SCHEMA),
                        sql.Identifier(relation),
                        sql.Identifier(column),
                    ),
                    (others,),
                ).fetchone()[0]
                if count:
                    leaks.append(f"{login} ({tenant}) reads {count} rows of {relation}.{column}")
    assert not leaks, "\n".join(leaks)
