"""Demo data: the spec's volumes at scale 1, determinism, coverage of every enumerated value, the
column lists read from the DDL, the spec's traversal queries, and the guards against loading over
existing data or bad input."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pytest
from psycopg import sql

from orchestration.lib import database
from orchestration.tools import cli, demo_data
from orchestration.tools.demo_data import ddl
from orchestration.tools.demo_data.projection import entity_rows

AS_OF = dt.date(2025, 12, 1)
SEED = 42
MAIN = "vital_demo"

# The specification's volumes at scale 1 (section 1 and the refresh table of section 3.1).
SPEC_TARGETS = {
    "personas": 43,
    "org_roles": 1_000,
    "jtbd": 700,
    "workflow_templates": 400,
    "ai_opportunities": 2_000,
    "value_metrics": 5_000,
}
HEATMAP_PAIRS = """
select count(*)
from personas
inner join jtbd_roles on jtbd_roles.role_id = personas.role_id
inner join jtbd on jtbd.id = jtbd_roles.jtbd_id and jtbd.tenant_id = personas.tenant_id
where personas.validation_status = 'published' and jtbd.deleted_at is null
"""

# Section 2.1 of the specification, verbatim.
TOP_DOWN = """
SELECT
    sp.name AS strategic_pillar,
    j.code AS jtbd_code,
    j.name AS jtbd_name,
    wt.name AS workflow_name,
    COUNT(DISTINCT wts.id) AS task_count,
    AVG(ais.overall_score) AS avg_ai_suitability
FROM strategic_pillars sp
JOIN jtbd_category_mappings jcm ON jcm.pillar_id = sp.id
JOIN jtbd j ON j.id = jcm.jtbd_id
LEFT JOIN workflow_templates wt ON wt.jtbd_id = j.id
LEFT JOIN workflow_stages wts ON wts.workflow_template_id = wt.id
LEFT JOIN jtbd_ai_suitability ais ON ais.jtbd_id = j.id
WHERE sp.code = 'SP03'
  AND j.deleted_at IS NULL
GROUP BY sp.name, j.code, j.name, wt.name
ORDER BY avg_ai_suitability DESC;
"""
BOTTOM_UP = """
SELECT
    r.role_name,
    sp.code AS strategic_pillar_code,
    sp.name AS strategic_pillar_name,
    COUNT(DISTINCT j.id) AS jtbd_count,
    AVG(jo.opportunity_score) AS avg_opportunity_score
FROM org_roles r
JOIN jtbd_roles jr ON jr.role_id = r.id
JOIN jtbd j ON j.id = jr.jtbd_id
JOIN jtbd_category_mappings jcm ON jcm.jtbd_id = j.id
JOIN strategic_pillars sp ON sp.id = jcm.pillar_id
LEFT JOIN jtbd_outcomes jo ON jo.jtbd_id = j.id
WHERE r.role_name = 'Medical Information Manager'
  AND j.deleted_at IS NULL
GROUP BY r.role_name, sp.code, sp.name
ORDER BY avg_opportunity_score DESC;
"""
PERSONA_FILTERED = """
SELECT
    p.persona_name,
    p.archetype,
    j.code AS jtbd_code,
    j.name AS jtbd_name,
    jos.opportunity_score,
    jos.opportunity_classification,
    ais.recommended_service_layer,
    aio.opportunity_name AS ai_opportunity,
    aio.automation_potential
FROM personas p
JOIN org_roles r ON r.id = p.role_id
JOIN jtbd_roles jr ON jr.role_id = r.id
JOIN jtbd j ON j.id = jr.jtbd_id
JOIN jtbd_odi_scores jos ON jos.jtbd_id = j.id AND jos.persona_id = p.id
LEFT JOIN jtbd_ai_suitability ais ON ais.jtbd_id = j.id
LEFT JOIN ai_opportunities aio ON aio.jtbd_id = j.id
WHERE p.archetype = 'AUTOMATOR'
  AND jos.opportunity_classification IN ('underserved', 'highly_underserved')
  AND j.deleted_at IS NULL
ORDER BY jos.opportunity_score DESC
LIMIT 20;
"""


def run(
    settings: database.ConnectionSettings, schema: str, query: str, params: Sequence[Any] = ()
) -> list[tuple]:
    """Rows of ``query`` with the search path set to ``schema``."""
    with database.connect(settings) as conn:
        conn.execute(sql.SQL("set search_path to {}").format(sql.Identifier(schema)))
        return conn.execute(query, params or None).fetchall()


def values(settings: database.ConnectionSettings, query: str) -> set:
    return {row[0] for row in run(settings, MAIN, query)}


def digests(settings: database.ConnectionSettings, schema: str) -> dict[str, str]:
    """An md5 over every table's rows in id order."""
    with database.connect(settings) as conn:
        return {
            table: conn.execute(
                sql.SQL(
                    "select md5(coalesce(string_agg(t::text, '|' order by id), '')) from {}.{} as t"
                ).format(sql.Identifier(schema), sql.Identifier(table))
            ).fetchone()[0]
            for table in demo_data.TABLE_NAMES
        }


@pytest.fixture(scope="module")
def loaded(warehouse: database.ConnectionSettings) -> dict[str, int]:
    return demo_data.load_demo_data(
        warehouse, scale=1, seed=SEED, schema=MAIN, as_of=AS_OF, progress=False
    )


# -- pure helpers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("importance", "satisfaction", "opportunity", "classification"),
    [
        (750, 0, 1500, "highly_underserved"),
        (749, 0, 1498, "underserved"),
        (500, 0, 1000, "underserved"),
        (499, 0, 998, "appropriately_served"),
        (500, 500, 500, "appropriately_served"),
        (500, 501, 500, "overserved"),
        (1000, 1000, 1000, "underserved"),
        (0, 0, 0, "appropriately_served"),
    ],
)
def test_odi_opportunity_edges(
    importance: int, satisfaction: int, opportunity: int, classification: str
) -> None:
    assert demo_data.odi_opportunity(importance, satisfaction) == (opportunity, classification)


def test_scale_adds_large_tenants_without_changing_the_first_ones() -> None:
    small = demo_data.DemoPlan(seed=SEED, scale=1, as_of=AS_OF)
    large = demo_data.DemoPlan(seed=SEED, scale=3, as_of=AS_OF)
    assert [tenant.id for tenant in small.tenants] == [
        demo_data.PHARMA_TENANT_ID,
        demo_data.DIGITAL_HEALTH_TENANT_ID,
    ]
    assert [tenant.profile.kind for tenant in large.tenants] == ["large", "small", "large", "large"]
    assert len({tenant.id for tenant in large.tenants}) == 4
    assert len({tenant.slug for tenant in large.tenants}) == 4
    first_small = demo_data.TenantWorld(small, small.tenants[0])
    first_large = demo_data.TenantWorld(large, large.tenants[0])
    assert first_small.jobs == first_large.jobs
    assert demo_data.expected_heatmap_pairs(10) == pytest.approx(270_000, rel=0.05)
    assert demo_data.expected_volumes(10)["personas"] == 10 * 39 + 4


def test_column_lists_are_parsed_from_create_table_statements() -> None:
    statement = """create table audit (
        id uuid primary key,
        kind text not null check (kind in ('a', 'b, c')),
        weight numeric(3, 2) default 1,
        "timestamp" timestamptz not null,
        unique (kind, "timestamp"),
        constraint weight_positive check (weight > 0)
    )"""
    assert ddl.parse_table(statement) == ("audit", ("id", "kind", "weight", "timestamp"))
    assert ddl.parse_table("create index idx_audit_kind on audit (kind)") is None
    with pytest.raises(KeyError, match="no table 'audits'"):
        ddl.columns("audits")


def test_every_generator_yields_a_value_per_ddl_column() -> None:
    assert set(demo_data.TABLE_NAMES) == set(ddl.table_columns())
    plan = demo_data.DemoPlan(seed=SEED, scale=1, as_of=AS_OF)
    for table in demo_data.TABLES:
        assert table.columns == ddl.columns(table.name)
        first = next(iter(table.rows(plan)))
        assert len(first) == len(table.columns), table.name


SHARED_TOTALS = (
    "personas",
    "org_business_functions",
    "org_departments",
    "org_roles",
    "jtbd",
    "workflow_templates",
    "ai_opportunities",
    "value_metrics",
    "users",
)


def test_more_tenants_share_the_same_totals_and_job_codes() -> None:
    """--tenants 6 at scale 1: six tenants holding the specification's totals between them,
    the job codes recurring across tenants (what the peer benchmarks match on)."""
    default = demo_data.DemoPlan(seed=SEED, scale=1, as_of=AS_OF)
    shared = demo_data.DemoPlan(seed=SEED, scale=1, as_of=AS_OF, tenants=6)
    assert len(default.tenants) == 2
    assert len(shared.tenants) == 6
    assert len({tenant.id for tenant in shared.tenants}) == 6
    tables = {table.name: table for table in demo_data.TABLES}
    for name in SHARED_TOTALS:
        counts = [sum(1 for _ in tables[name].rows(plan)) for plan in (default, shared)]
        assert counts[0] == counts[1], name
    assert demo_data.expected_volumes(1, 6)["personas"] == demo_data.EXPECTED_VOLUMES["personas"]
    holders = [
        {job.code for job in demo_data.TenantWorld(shared, tenant).jobs}
        for tenant in shared.tenants
    ]
    assert sum("JTBD-0001" in codes for codes in holders) == 6
    # only the first share of a split tenant keeps the draft and in-review personas
    statuses = [
        [persona.status for persona in demo_data.TenantWorld(shared, tenant).personas]
        for tenant in shared.tenants
    ]
    assert sum(status != "published" for tenant in statuses for status in tenant) == 2


def test_a_projection_onto_a_column_the_table_lacks_is_refused() -> None:
    with pytest.raises(ValueError, match="personas has no column persona_title"):
        entity_rows("personas", lambda world: world.personas, persona_title="name")


# -- volumes -----------------------------------------------------------------------------


def test_scale_one_matches_the_spec_volumes(
    loaded: dict[str, int], warehouse: database.ConnectionSettings
) -> None:
    assert list(loaded) == list(demo_data.TABLE_NAMES)
    assert demo_data.table_counts(warehouse, MAIN) == loaded
    for table, target in SPEC_TARGETS.items():
        assert loaded[table] == pytest.approx(target, rel=0.15), table
    for table, expected in demo_data.EXPECTED_VOLUMES.items():
        assert loaded[table] == pytest.approx(expected, rel=0.15), table
    assert loaded["tenants"] >= 2
    assert loaded["strategic_pillars"] == 7
    pairs = run(warehouse, MAIN, HEATMAP_PAIRS)[0][0]
    assert 26_000 <= pairs <= 31_000
    assert demo_data.heatmap_pair_count(warehouse, MAIN) == pairs
    tenants = dict(run(warehouse, MAIN, "select id::text, tenant_name from tenants"))
    assert tenants[demo_data.PHARMA_TENANT_ID] == "Pharmaceuticals"
    assert tenants[demo_data.DIGITAL_HEALTH_TENANT_ID] == "Digital Health Startups"


def test_personas_split_between_a_large_and_a_small_tenant(
    loaded: dict[str, int], warehouse: database.ConnectionSettings
) -> None:
    per_tenant = dict(
        run(warehouse, MAIN, "select tenant_id::text, count(*) from personas group by 1")
    )
    assert per_tenant[demo_data.PHARMA_TENANT_ID] >= 35
    assert per_tenant[demo_data.DIGITAL_HEALTH_TENANT_ID] <= 5
    statuses = dict(
        run(
            warehouse,
            MAIN,
            "select validation_status, count(*) from personas where tenant_id = %s group by 1",
            (demo_data.PHARMA_TENANT_ID,),
        )
    )
    assert 1 <= statuses.get("draft", 0) + statuses.get("in_review", 0) <= 2
    assert statuses["published"] >= 35


def test_the_loaded_columns_are_the_ddl_columns_in_order(
    loaded: dict[str, int], warehouse: database.ConnectionSettings
) -> None:
    rows = run(
        warehouse,
        MAIN,
        "select table_name::text, array_agg(column_name::text order by ordinal_position) "
        "from information_schema.columns where table_schema = %s group by 1",
        (MAIN,),
    )
    assert {table: tuple(columns) for table, columns in rows} == {
        table.name: table.columns for table in demo_data.TABLES
    }


# -- determinism -------------------------------------------------------------------------


def test_same_seed_gives_identical_data_and_another_seed_differs(
    loaded: dict[str, int],
    warehouse: database.ConnectionSettings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    again = demo_data.load_demo_data(
        warehouse, scale=1, seed=SEED, schema="vital_det_a", as_of=AS_OF, progress=True
    )
    progress = capsys.readouterr().err
    for table in demo_data.TABLE_NAMES:
        assert f"{table} " in progress
    assert again == loaded
    original = digests(warehouse, MAIN)
    assert digests(warehouse, "vital_det_a") == original

    other = demo_data.load_demo_data(
        warehouse,
        scale=1,
        seed=SEED + 1,
        schema="vital_det_a",
        reset=True,
        as_of=AS_OF,
        progress=False,
    )
    assert other["tenants"] == loaded["tenants"]
    changed = digests(warehouse, "vital_det_a")
    for table in ("jtbd", "jtbd_odi_scores", "personas", "business_evaluations"):
        assert changed[table] != original[table], table


# -- coverage ----------------------------------------------------------------------------


def test_every_enumerated_value_occurs(
    loaded: dict[str, int], warehouse: database.ConnectionSettings
) -> None:
    archetypes = run(
        warehouse,
        MAIN,
        "select tenant_id, array_agg(distinct archetype::text order by archetype::text) "
        "from personas group by 1",
    )
    assert len(archetypes) == loaded["tenants"]
    for _, present in archetypes:
        assert set(present) == set(demo_data.ARCHETYPES)
    assert values(warehouse, "select code from strategic_pillars") == {
        f"SP0{number}" for number in range(1, 8)
    }
    assert values(
        warehouse,
        "select pillars.code from jtbd_category_mappings as mappings "
        "inner join strategic_pillars as pillars on pillars.id = mappings.pillar_id",
    ) == {f"SP0{number}" for number in range(1, 8)}
    assert values(warehouse, "select name from strategic_pillars where code = 'SP03'") == {
        "Regulatory Compliance"
    }
    assert values(warehouse, "select opportunity_classification from jtbd_odi_scores") == set(
        demo_data.ODI_CLASSIFICATIONS
    )
    assert values(warehouse, "select complexity from jtbd") == set(demo_data.COMPLEXITIES)
    assert values(warehouse, "select frequency from jtbd") == set(demo_data.FREQUENCIES)
    assert values(warehouse, "select recommended_service_layer from jtbd_ai_suitability") == set(
        demo_data.SERVICE_LAYERS
    )
    assert values(warehouse, "select value_category from value_metrics") == set(
        demo_data.VALUE_CATEGORIES
    )
    assert values(warehouse, "select subscription_tier from business_evaluations") == set(
        demo_data.SUBSCRIPTION_TIERS
    )
    assert values(warehouse, "select status from business_evaluations") == set(
        demo_data.EVALUATION_STATUSES
    )
    assert values(warehouse, "select change_type from professional_data_audit") == set(
        demo_data.AUDIT_CHANGE_TYPES
    )
    assert values(warehouse, "select status from ai_opportunities") == set(
        demo_data.OPPORTUNITY_STATUSES
    )
    assert values(warehouse, "select status from workflow_templates") == {
        "draft",
        "active",
        "deprecated",
    }
    assert values(warehouse, "select automation_level from workflow_templates") == {
        "manual",
        "assisted",
        "semi_automated",
        "automated",
    }
    drivers = run(
        warehouse, MAIN, "select value_category, count(*) from ref_value_drivers group by 1"
    )
    assert dict(drivers) == dict.fromkeys(demo_data.VALUE_CATEGORIES, 3)


def test_the_bottom_up_role_has_a_persona_in_every_large_tenant(
    loaded: dict[str, int], warehouse: database.ConnectionSettings
) -> None:
    rows = run(
        warehouse,
        MAIN,
        "select roles.tenant_id::text, count(personas.id) from org_roles as roles "
        "left join personas on personas.role_id = roles.id "
        "where roles.role_name = 'Medical Information Manager' group by 1",
    )
    with_persona = {tenant for tenant, personas in rows if personas > 0}
    assert demo_data.PHARMA_TENANT_ID in with_persona
    assert len(with_persona) == loaded["tenants"] - 1


def test_scores_and_references_are_consistent(
    loaded: dict[str, int], warehouse: database.ConnectionSettings
) -> None:
    checks = {
        "odi formula": """
            select count(*) from jtbd_odi_scores
            where opportunity_score
                <> importance_score + greatest(importance_score - satisfaction_score, 0)
               or opportunity_classification <> case
                    when opportunity_score >= 15 then 'highly_underserved'
                    when opportunity_score >= 10 then 'underserved'
                    when satisfaction_score > importance_score then 'overserved'
                    else 'appropriately_served'
                end
        """,
        "persona x linked job without a score": """
            select count(*) from personas
            inner join jtbd_roles on jtbd_roles.role_id = personas.role_id
            left join jtbd_odi_scores as scores
                on scores.persona_id = personas.id and scores.jtbd_id = jtbd_roles.jtbd_id
            where scores.id is null
        """,
        "metric category differs from its driver": """
            select count(*) from value_metrics as metrics
            inner join ref_value_drivers as drivers on drivers.id = metrics.value_driver_id
            where drivers.value_category <> metrics.value_category
        """,
        "workflow of another tenant's job": """
            select count(*) from workflow_templates as workflows
            inner join jtbd on jtbd.id = workflows.jtbd_id
            where jtbd.tenant_id <> workflows.tenant_id
        """,
        "professional data on a basic evaluation": """
            select count(*) from business_evaluations
            where (subscription_tier = 'basic') = (professional_data is not null)
        """,
        "professional data without its sections": """
            select count(*) from business_evaluations
            where professional_data is not null
              and not (
                  professional_data ?& array[
                      'financialMetrics', 'customerAnalytics', 'marketPosition',
                      'operationalMetrics'
                  ]
                  and jsonb_typeof(professional_data -> 'financialMetrics' -> 'annualRevenue')
                      = 'number'
                  and jsonb_typeof(professional_data -> 'customerAnalytics' -> 'churnRate')
                      = 'number'
              )
        """,
        "evaluation updated before it was created": """
            select count(*) from business_evaluations where updated_at < created_at
        """,
        "audit row for another user than the evaluation's": """
            select count(*) from professional_data_audit as audit
            inner join business_evaluations as evaluations on evaluations.id = audit.evaluation_id
            where evaluations.user_id <> audit.user_id
        """,
        "time after the as-of date": """
            select count(*) from business_evaluations where created_at > '2025-12-01T00:00Z'
        """,
    }
    for name, query in checks.items():
        assert run(warehouse, MAIN, query)[0][0] == 0, name


def test_professional_tier_data_fits_the_views_and_jobs_built_on_it(
    loaded: dict[str, int], warehouse: database.ConnectionSettings
) -> None:
    anchor = "timestamptz '2025-12-01T00:00Z'"
    buckets = run(
        warehouse,
        MAIN,
        "select count(distinct (date_trunc('hour', created_at), subscription_tier)) "
        f"from business_evaluations where created_at > {anchor} - interval '7 days' "
        "and deleted_at is null",
    )[0][0]
    assert buckets >= 400  # of 168 hours x 3 tiers = 504
    archivable = run(
        warehouse,
        MAIN,
        "select count(*) from business_evaluations "
        f"where created_at < {anchor} - interval '2 years' "
        "and subscription_tier in ('professional', 'enterprise') and deleted_at is not null",
    )[0][0]
    assert archivable > 0
    old_audit = run(
        warehouse,
        MAIN,
        f'select count(*) from professional_data_audit where "timestamp" < {anchor} - interval '
        "'2 years'",
    )[0][0]
    assert old_audit > 0
    deleted_share, payload = run(
        warehouse,
        MAIN,
        "select avg((deleted_at is not null)::int), avg(octet_length(business_data::text) "
        "+ coalesce(octet_length(professional_data::text), 0) "
        "+ coalesce(octet_length(valuations::text), 0) "
        "+ coalesce(octet_length(opportunities::text), 0)) from business_evaluations",
    )[0]
    assert 0.03 <= deleted_share <= 0.07
    assert 1_000 <= payload <= 4_096
    filter_keys = set().union(
        *(row[0] for row in run(warehouse, MAIN, "select saved_filters from user_preferences"))
    )
    assert {"tenant_id", "archetype", "complexity", "min_opportunity_score"} <= filter_keys
    assert filter_keys <= {
        "tenant_id",
        "industry_id",
        "function_id",
        "department_id",
        "role_id",
        "persona_id",
        "archetype",
        "complexity",
        "frequency",
        "min_opportunity_score",
        "strategic_pillars",
        "service_layers",
    }


# -- the specification's queries ---------------------------------------------------------


@pytest.mark.parametrize(
    "query", [TOP_DOWN, BOTTOM_UP, PERSONA_FILTERED], ids=["top-down", "bottom-up", "persona"]
)
def test_spec_traversal_queries_return_rows(
    loaded: dict[str, int], warehouse: database.ConnectionSettings, query: str
) -> None:
    rows = run(warehouse, MAIN, query)
    assert rows


# -- guards ------------------------------------------------------------------------------


def test_loading_over_data_needs_reset(
    loaded: dict[str, int], warehouse: database.ConnectionSettings
) -> None:
    with pytest.raises(demo_data.DemoDataError, match="--reset") as error:
        demo_data.load_demo_data(warehouse, scale=1, seed=SEED, schema=MAIN, as_of=AS_OF)
    message = str(error.value)
    assert "\n" not in message
    assert f"({loaded['tenants']} tenants)" in message
    assert demo_data.table_counts(warehouse, MAIN) == loaded


def test_cli_refuses_to_load_over_data_in_one_line(
    loaded: dict[str, int],
    warehouse: database.ConnectionSettings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("VALUE_VIEW_DATABASE_URL", warehouse.url)
    argv = ["demo-data", "--schema", MAIN, "--as-of", AS_OF.isoformat()]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "--reset" in err[0]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--scale", "0"], "--scale"),
        (["--scale", "ten"], "--scale"),
        (["--seed", "-1"], "--seed"),
        (["--seed", "x"], "--seed"),
        (["--as-of", "yesterday"], "--as-of"),
        (["--schema", "Vital-Demo"], "schema"),
        (["--tenants", "1"], "--tenants"),
        (["--tenants", "14"], "--tenants"),
        (["--history-days", "-3"], "--history-days"),
    ],
)
def test_cli_rejects_bad_input_in_one_line(
    args: list[str],
    named: str,
    warehouse: database.ConnectionSettings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("VALUE_VIEW_DATABASE_URL", warehouse.url)
    assert cli.main(["demo-data", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert named in err[0]


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"scale": 0}, "scale"),
        ({"seed": -5}, "seed"),
        ({"schema": "vital; drop table tenants"}, "schema"),
        ({"schema": "pg_catalog"}, "schema"),
        ({"tenants": 1}, "tenants"),
    ],
)
def test_load_rejects_bad_arguments(
    kwargs: dict[str, Any], named: str, warehouse: database.ConnectionSettings
) -> None:
    arguments: dict[str, Any] = {"scale": 1, "seed": SEED, "schema": "vital_bad", "as_of": AS_OF}
    arguments.update(kwargs)
    with pytest.raises(demo_data.DemoDataError, match=named):
        demo_data.load_demo_data(warehouse, progress=False, **arguments)


def test_a_schema_with_some_other_tables_is_not_loaded(
    warehouse: database.ConnectionSettings,
) -> None:
    with database.connect(warehouse) as conn:
        conn.execute("create schema vital_partial")
        conn.execute("create table vital_partial.tenants (id uuid primary key)")
    with pytest.raises(demo_data.DemoDataError, match=r"missing .*users.*--reset"):
        demo_data.load_demo_data(
            warehouse, scale=1, seed=SEED, schema="vital_partial", as_of=AS_OF, progress=False
        )


def test_counting_a_schema_without_tables_is_a_clear_error(
    warehouse: database.ConnectionSettings,
) -> None:
    with pytest.raises(demo_data.DemoDataError, match="load demo data first"):
        demo_data.table_counts(warehouse, "vital_empty")
