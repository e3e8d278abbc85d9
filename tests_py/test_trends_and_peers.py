"""ODI history and anonymous peer benchmarks on demo data.

One module-scoped warehouse: demo data at scale 1 shared among six tenants, 90 days of dated
score changes replayed through the score snapshot (``value-view demo-data --tenants 6
--history-days 90``), then ``dbt build`` of the trend and peer marts and everything they read.
The trend mart's figures are recomputed here from the snapshot, a band crossing made on a known
date is found, the peer figures are recomputed from the other tenants' scores, and a tenant
login tries to learn about another tenant through its tenant view.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import secrets
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import psycopg
import pytest

from orchestration.lib import database, tenancy, tenant_removal
from orchestration.lib import dbt_runner as project
from orchestration.tools import demo_data

SEED = 42
TENANTS = 6
HISTORY_DAYS = 90
MIN_PEERS = 5
PASSWORD = "peer-attack-test-password"
TRENDS = "value_view_odi_trends"
PEERS = "value_view_peer_benchmarks"
SNAPSHOT = "odi_scores_snapshot"
CENT = Decimal("0.01")
TENTH = Decimal("0.1")


@dataclass
class Warehouse:
    settings: database.ConnectionSettings
    target: Path
    as_of: dt.date

    def query(self, statement: str, params: tuple = ()) -> list[tuple]:
        with database.connect(self.settings, autocommit=True) as conn:
            return conn.execute(statement, params).fetchall()

    def dbt(self, *args: str) -> str:
        env = {**os.environ, **self.settings.env()}
        return project.run_dbt(list(args), target_path=self.target, env=env, timeout=1800).stdout


@pytest.fixture(scope="module")
def warehouse(
    server: database.ConnectionSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Warehouse]:
    settings = server.with_database(f"vv_trends_{os.getpid()}_{secrets.token_hex(3)}")
    database.ensure_database(settings)
    as_of = dt.datetime.now(dt.timezone.utc).date()
    built = Warehouse(settings, tmp_path_factory.mktemp("dbt_trends"), as_of)
    try:
        demo_data.load_demo_data(
            settings, scale=1, seed=SEED, as_of=as_of, tenants=TENANTS, progress=False
        )
        plan = demo_data.DemoPlan(seed=SEED, scale=1, as_of=as_of, tenants=TENANTS)
        demo_data.replay_history(settings, plan, HISTORY_DAYS, progress=False)
        built.dbt(
            "build",
            "--quiet",
            "--indirect-selection",
            "cautious",
            "--select",
            f"+{TRENDS}",
            f"+{PEERS}",
        )
        yield built
    finally:
        database.drop_database(settings)


# --------------------------------------------------------------------------------------
# ODI maths, recomputed here
# --------------------------------------------------------------------------------------


def opportunity(importance: Decimal, satisfaction: Decimal) -> Decimal:
    return importance + max(importance - satisfaction, Decimal(0))


def classifier(warehouse: Warehouse):
    """The classification of the `odi_bands` seed, as a Python function."""
    bands = warehouse.query(
        "select rule, min_opportunity_score, classification"
        " from value_view_reference.odi_bands order by evaluation_order"
    )

    def classify(score: Decimal, importance: Decimal, satisfaction: Decimal) -> str | None:
        for rule, minimum, classification in bands:
            if rule == "opportunity_at_least" and score >= minimum:
                return classification
            if rule == "satisfaction_above_importance" and satisfaction > importance:
                return classification
            if rule == "otherwise":
                return classification
        return None

    return classify


def cents(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(CENT, rounding=ROUND_HALF_UP)


def valid_at(versions: list[tuple], moment: dt.datetime) -> tuple | None:
    """The version (importance, satisfaction, valid_from, valid_to) valid at ``moment``."""
    for version in versions:
        if version[2] <= moment and (version[3] is None or version[3] > moment):
            return version
    return None


def expected_trends(warehouse: Warehouse, now: dt.datetime) -> dict[tuple, dict]:
    """Every trend row recomputed from the snapshot and the heatmap pairs."""
    classify = classifier(warehouse)
    pairs = {
        (row[0], row[1]): row[2]
        for row in warehouse.query(
            "select persona_id, jtbd_id, tenant_id"
            " from value_view_intermediate.int_persona_jtbd_pairs_joined"
        )
    }
    versions: dict[tuple, list[tuple]] = defaultdict(list)
    for persona, job, tenant, importance, satisfaction, start, end in warehouse.query(
        "select persona_id, jtbd_id, tenant_id, importance_score, satisfaction_score,"
        f" dbt_valid_from, dbt_valid_to from value_view_history.{SNAPSHOT}"
    ):
        if pairs.get((persona, job)) == tenant:
            versions[(persona, job)].append((importance, satisfaction, start, end))
    histories: dict[tuple, list[tuple]] = {}
    for (persona, job), pair_versions in versions.items():
        pair_versions.sort(key=lambda version: version[2])
        histories[("persona_jtbd", job, persona)] = [
            (start, opportunity(imp, sat), classify(opportunity(imp, sat), imp, sat))
            for imp, sat, start, _ in pair_versions
        ]
    by_job: dict[uuid.UUID, list[list[tuple]]] = defaultdict(list)
    for (_, job), pair_versions in versions.items():
        by_job[job].append(pair_versions)
    for job, job_pairs in by_job.items():
        moments = sorted({version[2] for pair in job_pairs for version in pair})
        points = []
        for moment in moments:
            valid = [v for v in (valid_at(pair, moment) for pair in job_pairs) if v is not None]
            importance = sum(v[0] for v in valid) / len(valid)
            satisfaction = sum(v[1] for v in valid) / len(valid)
            score = sum(opportunity(v[0], v[1]) for v in valid) / len(valid)
            points.append((moment, score, classify(score, importance, satisfaction)))
        histories[("jtbd", job, None)] = points

    def score_at(points: list[tuple], moment: dt.datetime) -> Decimal | None:
        before = [point for point in points if point[0] <= moment]
        return before[-1][1] if before else None

    # the spans reach back from 00:00 UTC of the build's day, so that the mart and a later
    # recomputation (the benchmark's raw twin) look at the same moments
    midnight = dt.datetime.combine(
        now.astimezone(dt.timezone.utc).date(), dt.time(0), tzinfo=dt.timezone.utc
    )
    expected = {}
    for key, points in histories.items():
        current = points[-1][1]
        crossing = next(
            (
                (later[0], earlier[2], later[2])
                for earlier, later in itertools.pairwise(points)
                if later[2] != earlier[2]
            ),
            None,
        )
        row = {
            "opportunity_score": cents(current),
            "opportunity_classification": points[-1][2],
            "first_band_crossed_on": crossing[0].astimezone(dt.timezone.utc).date()
            if crossing
            else None,
            "first_band_crossed_from": crossing[1] if crossing else None,
            "first_band_crossed_to": crossing[2] if crossing else None,
        }
        for days in (7, 30, 90):
            then = score_at(points, midnight - dt.timedelta(days=days))
            row[f"score_{days}_days_ago"] = cents(then)
            row[f"change_{days}_days"] = None if then is None else cents(current - then)
        expected[key] = row
    return expected


TREND_COLUMNS = (
    "opportunity_score",
    "opportunity_classification",
    "score_7_days_ago",
    "score_30_days_ago",
    "score_90_days_ago",
    "change_7_days",
    "change_30_days",
    "change_90_days",
    "first_band_crossed_on",
    "first_band_crossed_from",
    "first_band_crossed_to",
)


def trend_rows(warehouse: Warehouse) -> tuple[dict[tuple, dict], dt.datetime]:
    with database.connect(warehouse.settings, autocommit=True) as conn:
        cursor = conn.execute(
            f"select grain, jtbd_id, persona_id, last_refreshed, {', '.join(TREND_COLUMNS)}"
            f" from value_view.{TRENDS}"
        )
        rows = cursor.fetchall()
    found = {
        (row[0], row[1], row[2]): dict(zip(TREND_COLUMNS, row[4:], strict=True)) for row in rows
    }
    return found, rows[0][3]


# --------------------------------------------------------------------------------------
# ODI history
# --------------------------------------------------------------------------------------


def test_replayed_states_end_at_the_loaded_scores() -> None:
    """The replay starts every pair at the baseline and ends each at its loaded values, with
    the waves inside the window, oldest first."""
    plan = demo_data.DemoPlan(seed=SEED, scale=1, as_of=dt.date(2026, 6, 1))
    scores = [(f"id{index}", 100 + index % 800, 900 - index % 700) for index in range(2_000)]
    states = demo_data.plan_states(plan, HISTORY_DAYS, scores)
    moments = [moment for moment, _ in states]
    assert moments == sorted(moments)
    assert moments[0] == plan.anchor - dt.timedelta(days=HISTORY_DAYS)
    assert moments[-1] < plan.anchor
    assert {row[0] for row in states[0][1]} == {score[0] for score in scores}
    last = {}
    for _, rows in states:
        last.update({row[0]: row[1:] for row in rows})
    assert last == {score[0]: score[1:] for score in scores}
    assert sum(len(rows) for _, rows in states[1:]) > len(scores) // 10


def test_history_days_out_of_range_is_refused(server: database.ConnectionSettings) -> None:
    plan = demo_data.DemoPlan(seed=SEED, scale=1, as_of=dt.date(2026, 6, 1))
    with pytest.raises(demo_data.DemoDataError, match="history days must be a whole number"):
        demo_data.replay_history(server, plan, -1)


def test_trend_figures_equal_a_recomputation_from_the_snapshot(warehouse: Warehouse) -> None:
    found, refreshed = trend_rows(warehouse)
    expected = expected_trends(warehouse, refreshed)
    assert set(found) == set(expected)
    differing = [
        f"{key} {column}: mart {found[key][column]!r}, snapshot {row[column]!r}"
        for key, row in expected.items()
        for column in TREND_COLUMNS
        if found[key][column] != row[column]
    ]
    assert not differing, f"{len(differing)} figures differ, e.g. {differing[:5]}"
    # the replayed history gives the mart content at both grains
    for grain in ("persona_jtbd", "jtbd"):
        rows = [row for key, row in found.items() if key[0] == grain]
        assert any(row["change_30_days"] not in (None, 0) for row in rows), grain
        assert any(row["score_90_days_ago"] is not None for row in rows), grain
    assert any(row["first_band_crossed_on"] for row in found.values())


def test_a_band_crossing_on_a_known_date_is_found(warehouse: Warehouse) -> None:
    found, _ = trend_rows(warehouse)
    known = dt.datetime.combine(
        warehouse.as_of - dt.timedelta(days=1), dt.time(12), tzinfo=dt.timezone.utc
    )
    candidates = warehouse.query(
        "select scores.persona_id, scores.jtbd_id, scores.opportunity_classification"
        " from vital.jtbd_odi_scores as scores"
        " where scores.scored_at < %s order by scores.id",
        (known - dt.timedelta(days=1),),
    )
    persona, job = next(
        (persona, job)
        for persona, job, _ in candidates
        if ("persona_jtbd", job, persona) in found
        and found[("persona_jtbd", job, persona)]["first_band_crossed_on"] is None
    )
    before = found[("persona_jtbd", job, persona)]["opportunity_classification"]
    importance, satisfaction = (
        (Decimal("3.00"), Decimal("9.00"))
        if before in ("highly_underserved", "underserved")
        else (Decimal("9.50"), Decimal("1.00"))
    )
    score = opportunity(importance, satisfaction)
    after = classifier(warehouse)(score, importance, satisfaction)
    with database.connect(warehouse.settings, autocommit=True) as conn:
        conn.execute(
            "update vital.jtbd_odi_scores set importance_score = %s, satisfaction_score = %s,"
            " opportunity_score = %s, opportunity_classification = %s, scored_at = %s"
            " where persona_id = %s and jtbd_id = %s",
            (importance, satisfaction, score, after, known, persona, job),
        )
    # the peer mart too, so every mart agrees with the sources again for the tests after this
    warehouse.dbt(
        "build",
        "--quiet",
        "--indirect-selection",
        "cautious",
        "--select",
        SNAPSHOT,
        TRENDS,
        PEERS,
    )
    crossed = warehouse.query(
        "select first_band_crossed_on, first_band_crossed_from, first_band_crossed_to,"
        f" opportunity_score from value_view.{TRENDS}"
        " where grain = 'persona_jtbd' and persona_id = %s and jtbd_id = %s",
        (persona, job),
    )
    assert crossed == [(known.date(), before, after, score)]


# --------------------------------------------------------------------------------------
# Anonymous peer benchmarks
# --------------------------------------------------------------------------------------


def percentile(values: list[Decimal], fraction: float) -> Decimal:
    """PostgreSQL's percentile_cont (linear interpolation between the closest ranks, in double
    precision), read back as numeric the way PostgreSQL casts a double (15 digits)."""
    ordered = sorted(float(value) for value in values)
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    result = ordered[low] + (ordered[high] - ordered[low]) * (position - low)
    return Decimal(format(result, ".15g"))


def tenant_scores(warehouse: Warehouse) -> dict[tuple[str, str], dict[uuid.UUID, Decimal]]:
    """(grain, code) -> tenant -> the tenant's own score, from the heatmap pairs."""
    jobs: dict[tuple, list[Decimal]] = defaultdict(list)
    pillars_of: dict[uuid.UUID, list[str]] = {}
    for tenant, job, code, score, pillars in warehouse.query(
        "select pairs.tenant_id, pairs.jtbd_id, pairs.jtbd_code, pairs.opportunity_score,"
        " pairs.strategic_pillars"
        " from value_view_intermediate.int_persona_jtbd_pairs_joined as pairs"
        " where pairs.opportunity_score is not null"
    ):
        jobs[(tenant, job, code)].append(score)
        pillars_of[job] = pillars
    scores: dict[tuple[str, str], dict[uuid.UUID, Decimal]] = defaultdict(dict)
    pillar_jobs: dict[tuple, list[Decimal]] = defaultdict(list)
    for (tenant, job, code), values in jobs.items():
        average = sum(values) / len(values)
        scores[("jtbd", code)][tenant] = average
        for pillar in pillars_of[job]:
            pillar_jobs[(tenant, pillar)].append(average)
    for (tenant, pillar), values in pillar_jobs.items():
        scores[("pillar", pillar)][tenant] = sum(values) / len(values)
    return scores


def tenths(value: Decimal) -> Decimal:
    return value.quantize(TENTH, rounding=ROUND_HALF_UP)


def test_peer_figures_come_from_at_least_five_other_tenants_only(warehouse: Warehouse) -> None:
    scores = tenant_scores(warehouse)
    rows = warehouse.query(
        "select grain, tenant_id, coalesce(jtbd_code, pillar_code), opportunity_score,"
        " peer_status, peer_tenant_count, peer_median, peer_p25, peer_p75"
        f" from value_view.{PEERS}"
    )
    assert len(rows) == sum(len(tenants) for tenants in scores.values())
    statuses = defaultdict(int)
    own_would_show = 0
    for grain, tenant, code, own, status, count, median, p25, p75 in rows:
        statuses[status] += 1
        everyone = scores[(grain, code)]
        others = [score for other, score in everyone.items() if other != tenant]
        assert own == tenths(everyone[tenant])
        if len(others) < MIN_PEERS:
            assert (status, count, median, p25, p75) == ("too few peers", None, None, None, None)
            continue
        assert status == "published" and count == len(others) >= MIN_PEERS
        assert (median, p25, p75) == tuple(
            tenths(percentile(others, fraction)) for fraction in (0.5, 0.25, 0.75)
        ), (grain, code)
        with_own = [*others, everyone[tenant]]
        if tenths(percentile(with_own, 0.5)) != median:
            own_would_show += 1
    # the default demo shows both: figures where five other tenants share a job code or a
    # pillar, and rows with too few peers
    assert statuses["published"] > 0 and statuses["too few peers"] > 0
    # the check above tells the tenant's own value apart: counted in, it moves many medians
    assert own_would_show > 0


@pytest.fixture(scope="module")
def attacker(warehouse: Warehouse) -> Iterator[tuple[psycopg.Connection, uuid.UUID, list]]:
    tenants = [row[0] for row in warehouse.query("select id from vital.tenants order by slug")]
    login = f"vv_peer_attack_{secrets.token_hex(3)}"
    tenancy.add_login(warehouse.settings, login, tenants[0], password=PASSWORD)
    try:
        with database.connect(
            replace(warehouse.settings, user=login, password=PASSWORD), autocommit=True
        ) as conn:
            yield conn, tenants[0], tenants[1:]
    finally:
        tenant_removal.remove_login(warehouse.settings, login)


def test_a_tenant_login_learns_nothing_about_a_single_other_tenant(
    warehouse: Warehouse, attacker: tuple[psycopg.Connection, uuid.UUID, list]
) -> None:
    conn, tenant, others = attacker
    view = f"{tenancy.TENANT_SCHEMA}.{PEERS}"
    # the mart itself is out of reach
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(f"select count(*) from value_view.{PEERS}").fetchone()
    # the tenant view holds the tenant's own rows, all of them, and nothing else
    own = warehouse.query(
        f"select count(*) from value_view.{PEERS} where tenant_id = %s", (tenant,)
    )
    assert conn.execute(f"select count(*) from {view}").fetchone() == own[0]
    assert conn.execute(
        f"select count(*) from {view} where tenant_id = any(%s)", (others,)
    ).fetchone() == (0,)
    # only order statistics and a count: no mean or sum to difference, no other tenant's key
    columns = [
        row[0]
        for row in conn.execute(
            "select column_name from information_schema.columns"
            " where table_schema = %s and table_name = %s",
            (tenancy.TENANT_SCHEMA, PEERS),
        )
    ]
    assert {name for name in columns if name.startswith("peer_")} == {
        "peer_status",
        "peer_tenant_count",
        "peer_median",
        "peer_p25",
        "peer_p75",
    }
    # differencing: two rows over peer sets that differ by one tenant would isolate it; the
    # login gets one row per job code or pillar, and a peer set fixed on the server
    rows = conn.execute(
        f"select grain, coalesce(jtbd_code, pillar_code), peer_status, peer_tenant_count,"
        f" peer_median, peer_p25, peer_p75 from {view}"
    ).fetchall()
    subjects = [(row[0], row[1]) for row in rows]
    assert len(subjects) == len(set(subjects))
    published = conn.execute(
        f"select grain, coalesce(jtbd_code, pillar_code), peer_median from {view}"
        " where peer_status = 'published'"
    ).fetchall()
    everything = {(row[0], row[1]): row[4] for row in rows}
    assert all(everything[(grain, code)] == median for grain, code, median in published)
    # the rows left out of the published ones (all minus published) carry no figure at all
    hidden = [row for row in rows if row[2] != "published"]
    assert hidden and all(row[3:] == (None, None, None, None) for row in hidden)
    assert all(row[3] >= MIN_PEERS for row in rows if row[2] == "published")
