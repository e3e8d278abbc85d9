"""The ODI heatmap as a `keyed_incremental_table` on demo data.

One module-scoped build (demo data at scale 1, then the heatmap and everything upstream of it)
backs every test. Random batches of source changes (score updates, inserts and deletes, new and
removed role-job links, a soft-deleted and a hard-deleted job, an unpublished and a newly published
persona, a role moved to another department, AI suitability and pillar changes) are applied and the
heatmap refreshed incrementally; after each batch it must equal the model's full query row for row
(every column but `last_refreshed`). A change hidden from the change state makes that comparison
fail. Readers query the heatmap during an incremental refresh and a `--full-refresh` while a monitor
polls pg_locks: no errors, no lock wait over 50 ms during the incremental refresh, no ACCESS
EXCLUSIVE lock on the heatmap, and every answer is the one before or the one after the refresh.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import re
import secrets
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from orchestration.lib import database, maintained, tenancy
from orchestration.lib import dbt_runner as project
from orchestration.tools import demo_data

# Readers are timed against lock waits of 50 ms: not beside another module's load.
pytestmark = pytest.mark.serial

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SCHEMA = tenancy.BI_SCHEMA
HEATMAP = "mv_value_view_odi_heatmap_v1"
LATEST = "mv_value_view_odi_heatmap"
STATE_SCHEMA = f"{SCHEMA}_meta"
COMPILED = Path("compiled/value_view/models/marts/value_view", f"{HEATMAP}.sql")
OUTCOME = re.compile(rf'keyed_incremental_table "[^"]+"\."{SCHEMA}"\."{HEATMAP}": (.*)')
# Every column of the heatmap but last_refreshed, the time a row was last written.
COMPARED = (
    "persona_name, archetype, role_name, department_name, function_name, jtbd_code, jtbd_name,"
    " complexity, frequency, importance_score, satisfaction_score, opportunity_score,"
    " opportunity_classification, ai_suitability, recommended_service_layer,"
    " primary_value_category, strategic_pillars, tenant_id, industry_id, function_id,"
    " department_id, role_id, persona_id, jtbd_id"
)
# What a reader sees: changes with any score, any row or any key.
CHECKSUM = (
    "select count(*), sum(coalesce(importance_score, 0) * 7 + coalesce(satisfaction_score, 0)),"
    " sum(hashtext(persona_id::text || jtbd_id::text)::numeric) from {relation}"
)


@dataclass
class Heatmap:
    settings: database.ConnectionSettings
    target: Path
    env: dict[str, str]

    def dbt(self, *args: str):
        return project.run_dbt(list(args), target_path=self.target, env=self.env)

    def refresh(self, *args: str) -> str:
        """Run the heatmap; the path its materialization logged."""
        run = self.dbt("run", "--select", HEATMAP, *args)
        found = OUTCOME.search(run.stdout)
        assert found, run.stdout[-3000:]
        return found.group(1)

    def call(self) -> str:
        """Refresh it by its refresh procedure without dbt (as Dagster does); the outcome. A dbt
        run would first put back any capture trigger a test disabled."""
        (done,) = maintained.refresh_in_place(self.settings, [(SCHEMA, HEATMAP)])
        assert done.outcome
        return done.outcome

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with database.connect(self.settings, autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()

    def compiled_sql(self) -> str:
        return (self.target / COMPILED).read_text()

    def differences(self) -> tuple[int, int]:
        """Rows of the heatmap the full query does not give, and rows it gives the heatmap lacks."""
        table = f"select {COMPARED} from {SCHEMA}.{HEATMAP}"
        full = f"select {COMPARED} from ({self.compiled_sql()}) as full_rebuild"
        return self.query(
            f"select (select count(*) from ({table} except all {full}) as extra),"
            f" (select count(*) from ({full} except all {table}) as missing)"
        )[0]

    def row_versions(self) -> dict[tuple, str]:
        rows = self.query(f"select persona_id, jtbd_id, xmin::text from {SCHEMA}.{HEATMAP}")
        return {(persona, job): version for persona, job, version in rows}

    def oid(self) -> int:
        return self.query("select %s::regclass::oid", (f"{SCHEMA}.{HEATMAP}",))[0][0]


@pytest.fixture(scope="module")
def heatmap(
    server: database.ConnectionSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Heatmap]:
    settings = server.with_database(f"vv_heatmap_{os.getpid()}_{secrets.token_hex(3)}")
    database.ensure_database(settings)
    target = tmp_path_factory.mktemp("dbt_heatmap")
    env = {**os.environ, **settings.env(), "DBT_USE_COLORS": "false"}
    try:
        demo_data.load_demo_data(
            settings,
            scale=1,
            seed=42,
            reset=True,
            as_of=dt.datetime.now(dt.timezone.utc).date(),
            progress=False,
        )
        built = Heatmap(settings, target, env)
        built.dbt(
            "build",
            "--quiet",
            "--select",
            f"+{HEATMAP}",
            "--exclude-resource-type",
            "test",
            "unit_test",
        )
        yield built
    finally:
        database.drop_database(settings)


# --------------------------------------------------------------------------------------
# Source changes
# --------------------------------------------------------------------------------------

PUBLISHED_ROLES = "select role_id from vital.personas where validation_status = 'published'"
ON_HEATMAP_JOBS = f"select jtbd_id from {SCHEMA}.{HEATMAP}"


def apply_batch(conn: psycopg.Connection, rng: random.Random) -> list[str]:
    """One random batch of source changes of every kind the heatmap must follow, in one
    transaction; returns what was changed, for the assertion messages."""
    salt = str(rng.random())
    count = rng.randint
    applied: list[str] = []

    def run(label: str, sql: str, params: tuple = ()) -> None:
        cursor = conn.execute(sql, params)
        applied.append(f"{label}: {cursor.rowcount}")

    conn.execute("select setseed(%s)", (rng.random() * 2 - 1,))
    importance = satisfaction = "round((random() * 10)::numeric, 2)"
    run(
        "score updates",
        f"""
        with picked as (
            select id, {importance} as importance, {satisfaction} as satisfaction
            from vital.jtbd_odi_scores order by md5(id::text || %s) limit %s
        )
        update vital.jtbd_odi_scores as scores
        set
            importance_score = picked.importance,
            satisfaction_score = picked.satisfaction,
            opportunity_score = least(
                20, picked.importance + greatest(picked.importance - picked.satisfaction, 0)
            )
        from picked
        where scores.id = picked.id
        """,
        (salt, count(50, 400)),
    )
    run(
        "score deletes",
        "delete from vital.jtbd_odi_scores where id in"
        " (select id from vital.jtbd_odi_scores order by md5(id::text || %s) limit %s)",
        (salt + "d", count(5, 40)),
    )
    run(
        "score inserts",
        f"""
        insert into vital.jtbd_odi_scores (
            id, tenant_id, jtbd_id, persona_id, importance_score, satisfaction_score,
            opportunity_score, opportunity_classification
        )
        select gen_random_uuid(), tenant_id, jtbd_id, persona_id, 8, 3, 13, 'underserved'
        from {SCHEMA}.{HEATMAP}
        where importance_score is null
        order by md5(persona_id::text || jtbd_id::text || %s)
        limit %s
        """,
        (salt, count(1, 10)),
    )
    run(
        "role-job links inserted",
        f"""
        insert into vital.jtbd_roles (id, tenant_id, jtbd_id, role_id)
        select gen_random_uuid(), roles.tenant_id, jobs.id, roles.id
        from vital.org_roles as roles
        inner join vital.jtbd as jobs on jobs.tenant_id = roles.tenant_id
        where
            roles.id in ({PUBLISHED_ROLES})
            and jobs.deleted_at is null
            and not exists (
                select from vital.jtbd_roles as links
                where links.role_id = roles.id and links.jtbd_id = jobs.id
            )
        order by md5(roles.id::text || jobs.id::text || %s)
        limit %s
        """,
        (salt, count(1, 20)),
    )
    run(
        "role-job links deleted",
        f"delete from vital.jtbd_roles where id in (select id from vital.jtbd_roles"
        f" where role_id in ({PUBLISHED_ROLES}) order by md5(id::text || %s) limit %s)",
        (salt, count(1, 20)),
    )
    run(
        "job soft-deleted",
        f"update vital.jtbd set deleted_at = now(), updated_at = now() where id in"
        f" (select id from vital.jtbd where id in ({ON_HEATMAP_JOBS})"
        f" order by md5(id::text || %s) limit 1)",
        (salt,),
    )
    # A hard delete as a source without foreign keys allows it: its scores, links and
    # mappings stay behind, pointing at nothing.
    conn.execute("set local session_replication_role = replica")
    run(
        "job deleted",
        f"delete from vital.jtbd where id in (select id from vital.jtbd where id in"
        f" ({ON_HEATMAP_JOBS}) order by md5(id::text || %s) limit 1)",
        (salt + "hard",),
    )
    conn.execute("set local session_replication_role = origin")
    run(
        "persona unpublished",
        "update vital.personas set validation_status = 'archived', updated_at = now()"
        " where id in (select id from vital.personas where validation_status = 'published'"
        " order by md5(id::text || %s) limit 1)",
        (salt,),
    )
    run(
        "persona published",
        "update vital.personas set validation_status = 'published', updated_at = now()"
        " where id in (select id from vital.personas where validation_status <> 'published'"
        " order by md5(id::text || %s) limit 1)",
        (salt,),
    )
    run(
        "role moved to another department",
        f"""
        update vital.org_roles as roles
        set department_id = (
            select departments.id from vital.org_departments as departments
            where departments.tenant_id = roles.tenant_id and departments.id <> roles.department_id
            order by md5(departments.id::text || %s) limit 1
        )
        where roles.id in ({PUBLISHED_ROLES} order by md5(role_id::text || %s) limit 1)
        """,
        (salt, salt),
    )
    run(
        "AI suitability changed",
        "update vital.jtbd_ai_suitability set overall_score = round((random())::numeric, 2),"
        " recommended_service_layer = (array['ask_me', 'ask_expert', 'ask_panel', 'workflow'])"
        "[1 + floor(random() * 4)::int]"
        " where id in (select id from vital.jtbd_ai_suitability order by md5(id::text || %s)"
        " limit %s)",
        (salt, count(1, 10)),
    )
    run(
        "pillar mappings deleted",
        "delete from vital.jtbd_category_mappings where id in (select id from"
        " vital.jtbd_category_mappings order by md5(id::text || %s) limit %s)",
        (salt, count(1, 10)),
    )
    run(
        "pillar mappings inserted",
        """
        insert into vital.jtbd_category_mappings (id, jtbd_id, pillar_id)
        select gen_random_uuid(), jobs.id, pillars.id
        from vital.jtbd as jobs
        cross join vital.strategic_pillars as pillars
        where not exists (
            select from vital.jtbd_category_mappings as mappings
            where mappings.jtbd_id = jobs.id and mappings.pillar_id = pillars.id
        )
        order by md5(jobs.id::text || pillars.id::text || %s)
        limit %s
        """,
        (salt, count(1, 10)),
    )
    run(
        "top opportunity re-ranked",
        "update vital.ref_opportunities set priority_rank = 1 where id in (select id from"
        " vital.ref_opportunities where priority_rank > 1 order by md5(id::text || %s) limit %s)",
        (salt, count(1, 10)),
    )
    return applied


def update_counts(heatmap: Heatmap) -> int:
    """Rows of the ODI scores updated, as PostgreSQL's cumulative statistics count them now."""
    return heatmap.query(
        "select pg_stat_clear_snapshot(), n_tup_upd from pg_stat_user_tables"
        " where relid = 'vital.jtbd_odi_scores'::regclass"
    )[0][1]


def change_scores(heatmap: Heatmap, rows: int, *, counted: bool = True) -> set[tuple]:
    """Change the scores of `rows` scored pairs on the heatmap; returns those pairs. Counted:
    once the statistics count the update (a session publishes its counts after its commit, and
    the refresh procedure reads them); else written with the statistics off, as an update whose
    counts are not published yet looks to it."""
    before = update_counts(heatmap)
    with database.connect(heatmap.settings) as conn, conn.transaction():
        if not counted:
            conn.execute("set local track_counts = off")
        changed = conn.execute(
            f"""
            update vital.jtbd_odi_scores as scores
            set
                importance_score = case when importance_score >= 9 then importance_score - 1
                    else importance_score + 1 end,
                satisfaction_score = case when satisfaction_score >= 9
                    then satisfaction_score - 1 else satisfaction_score + 1 end
            where (persona_id, jtbd_id) in (
                select persona_id, jtbd_id from {SCHEMA}.{HEATMAP}
                where importance_score is not null
                order by md5(persona_id::text || jtbd_id::text || %s)
                limit %s
            )
            returning persona_id, jtbd_id
            """,
            (secrets.token_hex(4), rows),
        ).fetchall()
    deadline = time.monotonic() + 30
    while counted and update_counts(heatmap) < before + len(changed):
        assert time.monotonic() < deadline, "the statistics never counted the update"
        time.sleep(0.05)
    return set(changed)


def capture_triggers(heatmap: Heatmap) -> list[tuple[str, str]]:
    """The change capture's triggers on the source tables: (table, trigger)."""
    return heatmap.query(
        "select tgrelid::regclass::text, tgname::text from pg_trigger"
        " where not tgisinternal and starts_with(tgname, 'vv_capture_') order by 1, 2"
    )


@contextmanager
def capture_disabled(heatmap: Heatmap) -> Iterator[None]:
    """Every capture trigger disabled (as an operator could), then enabled ALWAYS again."""
    triggers = capture_triggers(heatmap)
    assert triggers
    with database.connect(heatmap.settings, autocommit=True) as conn:
        for table, name in triggers:
            conn.execute(f'alter table {table} disable trigger "{name}"')
        try:
            yield
        finally:
            for table, name in triggers:
                conn.execute(f'alter table {table} enable always trigger "{name}"')


def outcome_matches(outcome: str, pattern: str) -> None:
    """The refresh's outcome starts as `pattern` (a regular expression) says."""
    assert re.match(pattern, outcome), outcome


def logged(heatmap: Heatmap, stream: str) -> int:
    """Rows in the capture log of `stream`."""
    return heatmap.query(f"select count(*) from {STATE_SCHEMA}.{HEATMAP}__{stream}__log")[0][0]


# --------------------------------------------------------------------------------------
# Readers and the lock monitor
# --------------------------------------------------------------------------------------


@dataclass
class ReaderReport:
    queries: int = 0
    errors: list[str] = field(default_factory=list)
    answers: set[tuple] = field(default_factory=set)
    max_lock_wait: float = 0.0
    lock_waits: int = 0
    exclusive_locks: set[str] = field(default_factory=set)

    def summary(self, label: str) -> str:
        return (
            f"[{label}] reader queries={self.queries} errors={len(self.errors)}"
            f" lock waits={self.lock_waits} max lock wait={self.max_lock_wait * 1000:.1f} ms"
            f" distinct answers={len(self.answers)}"
        )


class Readers:
    """Readers querying the heatmap (the table and its latest-version view) on their own
    connections; a monitor polling pg_locks for their ungranted locks (how long each has waited)
    and for any ACCESS EXCLUSIVE lock on the heatmap."""

    def __init__(self, settings: database.ConnectionSettings, oid: int, readers: int = 4) -> None:
        self.settings = settings
        self.oid = oid
        self.readers = readers
        self.report = ReaderReport()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._pids: list[int] = []

    def __enter__(self) -> Readers:
        connections = [
            database.connect(self.settings, autocommit=True) for _ in range(self.readers)
        ]
        self._pids = [conn.info.backend_pid for conn in connections]
        relations = [f"{SCHEMA}.{HEATMAP}", f"{SCHEMA}.{LATEST}"]
        for position, conn in enumerate(connections):
            query = CHECKSUM.format(relation=relations[position % len(relations)])
            self._threads.append(threading.Thread(target=self._read, args=(conn, query)))
        self._threads.append(threading.Thread(target=self._monitor))
        for thread in self._threads:
            thread.daemon = True
            thread.start()
        deadline = time.monotonic() + 30
        while self.report.queries < 2 * self.readers and time.monotonic() < deadline:
            time.sleep(0.05)
        return self

    def __exit__(self, *exc_info: object) -> None:
        time.sleep(0.3)
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def _read(self, conn: psycopg.Connection, query: str) -> None:
        with conn:
            while not self._stop.is_set():
                try:
                    answer = conn.execute(query).fetchone()
                except psycopg.Error as error:
                    with self._lock:
                        self.report.errors.append(str(error).strip())
                    continue
                with self._lock:
                    self.report.queries += 1
                    self.report.answers.add(tuple(answer))
                self._stop.wait(0.02)

    def _monitor(self) -> None:
        episodes: set[tuple[int, object]] = set()
        with database.connect(self.settings, autocommit=True) as conn:
            while not self._stop.is_set():
                waits = conn.execute(
                    "select pid, waitstart, extract(epoch from clock_timestamp() - waitstart)"
                    " from pg_locks where not granted and waitstart is not null"
                    " and pid = any(%s)",
                    (self._pids,),
                ).fetchall()
                exclusive = conn.execute(
                    "select pid, granted from pg_locks where relation = %s"
                    " and mode = 'AccessExclusiveLock'",
                    (self.oid,),
                ).fetchall()
                with self._lock:
                    for pid, waitstart, waited in waits:
                        episodes.add((pid, waitstart))
                        self.report.max_lock_wait = max(self.report.max_lock_wait, float(waited))
                    self.report.lock_waits = len(episodes)
                    for pid, granted in exclusive:
                        self.report.exclusive_locks.add(f"pid {pid} granted={granted}")
                time.sleep(0.005)


def checksum(heatmap: Heatmap) -> tuple:
    return tuple(heatmap.query(CHECKSUM.format(relation=f"{SCHEMA}.{HEATMAP}"))[0])


# --------------------------------------------------------------------------------------
# Tests (in order: each leaves the heatmap equal to its full query)
# --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_heatmap_is_a_table_with_its_indexes_state_and_dependent_views(heatmap: Heatmap):
    kind, comment = heatmap.query(
        "select relkind::text, obj_description(oid, 'pg_class') from pg_class where oid = %s",
        (heatmap.oid(),),
    )[0]
    assert kind == "r"
    assert re.search(r"\[value_view:fingerprint=[0-9a-f]{32}\]$", comment)
    indexes = dict(
        heatmap.query(
            "select indexname, indexdef from pg_indexes where schemaname = %s and tablename = %s",
            (SCHEMA, HEATMAP),
        )
    )
    assert len(indexes) == 18
    assert "UNIQUE" in indexes[f"{HEATMAP}__persona_id_jtbd_id_uidx"]
    assert "gin" in indexes[f"{HEATMAP}__strategic_pillars_gin_idx"]
    states = heatmap.query(
        "select relname::text from pg_class where relnamespace = %s::regnamespace"
        " and relkind = 'r' and starts_with(relname, %s) order by 1",
        (STATE_SCHEMA, f"{HEATMAP}__"),
    )
    assert len([state for (state,) in states if not state.endswith("__log")]) == 7
    # and the capture log of each stream, with a trigger on every table under it
    assert len([state for (state,) in states if state.endswith("__log")]) == 7
    assert {table for table, _ in capture_triggers(heatmap)} >= {
        "vital.jtbd_odi_scores",
        "vital.jtbd_roles",
        "vital.personas",
        "value_view_quarantine.quarantine_jtbd_odi_scores",
    }
    dependents = {
        row[0]
        for row in heatmap.query(
            "select distinct rewrites.ev_class::regclass::text from pg_depend as depends"
            " inner join pg_rewrite as rewrites on rewrites.oid = depends.objid"
            " where depends.refobjid = %s and rewrites.ev_class <> %s",
            (heatmap.oid(), heatmap.oid()),
        )
    }
    assert f"{SCHEMA}.{LATEST}" in dependents
    # The tenant view reads the heatmap through its function, by name, so it needs no re-pointing.
    assert heatmap.query(
        "select to_regclass(%s) is not null", (f"{tenancy.TENANT_SCHEMA}.{LATEST}",)
    ) == [(True,)]
    assert heatmap.differences() == (0, 0)
    assert heatmap.refresh().startswith("unchanged: no change in 7 streams")


@pytest.mark.slow
def test_a_refresh_rewrites_only_the_pairs_whose_scores_changed(heatmap: Heatmap):
    before = heatmap.row_versions()
    changed = change_scores(heatmap, 40)
    outcome = heatmap.refresh()
    assert outcome.startswith("updated incrementally: changed keys odi_scores 40 "), outcome
    after = heatmap.row_versions()
    assert after.keys() == before.keys()
    rewritten = {key for key, version in after.items() if before[key] != version}
    assert rewritten == changed
    assert heatmap.differences() == (0, 0)


def state_digest(heatmap: Heatmap, stream: str, digest: str | None) -> None:
    """Set (or with None, remove) the digest a stream's state table keeps in its comment."""
    state = f"{STATE_SCHEMA}.{HEATMAP}__{stream}"
    with database.connect(heatmap.settings, autocommit=True) as conn:
        comment = conn.execute(
            "select obj_description(%s::regclass, 'pg_class')", (state,)
        ).fetchone()[0]
        kept = re.sub(r"\s*\[value_view:stream_digest=[^]]*\]", "", comment)
        marker = f" [value_view:stream_digest={digest}]" if digest else ""
        conn.execute(f"comment on table {state} is {sql_literal(kept + marker)}")


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@pytest.mark.slow
def test_unchanged_streams_are_told_by_their_digest_which_is_never_trusted_blindly(
    heatmap: Heatmap,
):
    """Without the change capture (its triggers disabled), the streams' digests."""
    with capture_disabled(heatmap):
        heatmap.call()  # the statistics kept while the capture told the changes: updated
        unchanged_streams_are_told_by_their_digest(heatmap)


def unchanged_streams_are_told_by_their_digest(heatmap: Heatmap) -> None:
    checked = r"\(checked in [0-9.]+s, {} unchanged by their digest\)"
    assert re.match(r"unchanged: no change in 7 streams " + checked.format(7), heatmap.call())
    # Updated scores keep the stream's row count: only the fingerprints' sum tells them (the
    # update is written with the statistics off, so the digest is computed).
    change_scores(heatmap, 5, counted=False)
    outcome = heatmap.call()
    assert re.match(
        r"updated incrementally: changed keys odi_scores 5 " + checked.format(6), outcome
    ), outcome
    assert re.match(r"unchanged: no change in 7 streams " + checked.format(7), heatmap.call())

    # A digest that does not describe the stream, or none (a state kept before digests were):
    # the stream is compared with its state row by row, and its state's digest kept anew.
    state_digest(heatmap, "jobs", "1:0")
    state_digest(heatmap, "job_roles", None)
    changed = change_scores(heatmap, 3, counted=False)
    outcome = heatmap.call()
    assert re.match(
        r"updated incrementally: changed keys odi_scores 3 " + checked.format(4), outcome
    ), outcome
    assert re.match(r"unchanged: no change in 7 streams " + checked.format(7), heatmap.call())
    assert len(changed) == 3
    assert heatmap.differences() == (0, 0)


@pytest.mark.slow
def test_the_statistics_choose_the_order_and_never_stand_for_unchanged(heatmap: Heatmap):
    """Without the change capture: a stream whose tables PostgreSQL counts writes to since the
    last refresh is compared with its state at once (its digest would differ); one with equal
    counts is still checked by its digest, which catches a write the statistics have not
    counted."""
    with capture_disabled(heatmap):
        heatmap.call()
        statistics_choose_the_order(heatmap)


def statistics_choose_the_order(heatmap: Heatmap) -> None:
    at_once = (
        r"\(checked in [0-9.]+s, 6 unchanged by their digest, 1 written since"
        r" \(compared at once\)\)"
    )
    changed = change_scores(heatmap, 6)
    outcome = heatmap.call()
    assert re.match(r"updated incrementally: changed keys odi_scores 6 " + at_once, outcome), (
        outcome
    )
    assert heatmap.differences() == (0, 0)

    # Counted writes that change nothing the heatmap reads: compared, and nothing changed.
    before = update_counts(heatmap)
    with database.connect(heatmap.settings) as conn, conn.transaction():
        conn.execute(
            "update vital.jtbd_odi_scores set respondent_count = respondent_count + 1"
            " where (persona_id, jtbd_id) in (select * from unnest(%s::uuid[], %s::uuid[]))",
            ([persona for persona, _ in changed], [job for _, job in changed]),
        )
    while update_counts(heatmap) < before + len(changed):
        time.sleep(0.05)
    outcome = heatmap.call()
    assert re.match(r"unchanged: no change in 7 streams " + at_once, outcome), outcome

    # An uncounted write: the counts are as kept, and the digest finds it.
    change_scores(heatmap, 4, counted=False)
    outcome = heatmap.call()
    assert re.match(
        r"updated incrementally: changed keys odi_scores 4 \(checked in [0-9.]+s, 6 unchanged"
        r" by their digest\)",
        outcome,
    ), outcome
    assert heatmap.differences() == (0, 0)


@pytest.mark.slow
def test_the_capture_logs_tell_what_changed_and_no_stream_is_read_for_nothing(heatmap: Heatmap):
    """With change_capture, triggers on the tables under each stream log the keys written (the
    ODI scores, the role-job links, the AI suitability) or one whole-stream row (the others): a
    refresh reads no stream when nothing was logged, compares only the keys logged (looked up
    one by one through the scores' index while they are few, in one scan past that), and the
    whole stream after a write to a table without its keys. The triggers fire without the
    statistics and in a session that replicates (session_replication_role = replica)."""
    heatmap.refresh()  # the capture's epochs after the tests that disabled it
    by_log = r"\(checked in [0-9.]+s, 7 unchanged by their capture log\)"
    assert re.match(r"unchanged: no change in 7 streams " + by_log, heatmap.refresh())
    keys = (
        r"\(checked in [0-9.]+s, 6 unchanged by their capture log,"
        r" 1 compared on the keys captured \(1 looked up by index\)\)"
    )

    change_scores(heatmap, 8, counted=False)
    assert logged(heatmap, "odi_scores") == 8
    outcome = heatmap.refresh()
    assert re.match(r"updated incrementally: changed keys odi_scores 8 " + keys, outcome), outcome
    assert logged(heatmap, "odi_scores") == 0
    assert heatmap.differences() == (0, 0)

    with database.connect(heatmap.settings) as conn, conn.transaction():
        conn.execute("set local session_replication_role = replica")
        conn.execute(
            "update vital.jtbd_odi_scores set satisfaction_score = 10 - satisfaction_score"
            f" where (persona_id, jtbd_id) in (select persona_id, jtbd_id from {SCHEMA}.{HEATMAP}"
            " where satisfaction_score is not null and satisfaction_score <> 5"
            " order by persona_id, jtbd_id limit 3)"
        )
    outcome = heatmap.refresh()
    assert re.match(r"updated incrementally: changed keys odi_scores 3 " + keys, outcome), outcome
    assert heatmap.differences() == (0, 0)

    # Past one key in 30 rows of the scores, the captured keys are compared in one scan of the
    # stream instead of a lookup each.
    scores = heatmap.query(
        "select reltuples::bigint from pg_class where oid = 'vital.jtbd_odi_scores'::regclass"
    )[0][0]
    many = scores // 30 + 50
    assert len(change_scores(heatmap, many, counted=False)) == many
    outcome = heatmap.refresh()
    outcome_matches(
        outcome,
        rf"updated incrementally: changed keys odi_scores {many} \(checked in [0-9.]+s, 6"
        r" unchanged by their capture log, 1 compared on the keys captured\)",
    )
    assert heatmap.differences() == (0, 0)

    # A job renamed: vital.jtbd carries no `jtbd_id`, so its writes have the streams it is
    # under compared whole (the jobs, the pillars and the value drivers).
    with database.connect(heatmap.settings) as conn, conn.transaction():
        conn.execute(
            "update vital.jtbd set name = name || ' (renamed)' where id ="
            f" (select jtbd_id from {SCHEMA}.{HEATMAP} order by jtbd_id limit 1)"
        )
    outcome = heatmap.refresh()
    assert re.match(
        r"updated incrementally: changed keys jobs 1 \(checked in [0-9.]+s, 4 unchanged by their"
        r" capture log, 3 compared whole \(captured\)\)",
        outcome,
    ), outcome
    assert heatmap.differences() == (0, 0)
    assert re.match(r"unchanged: no change in 7 streams " + by_log, heatmap.refresh())

    # A statement writing more rows than key_filter_limit (a bulk load) logs one whole-stream
    # row, not its keys: the refresh would compare the whole stream anyway.
    rows = heatmap.query("select count(*) from vital.jtbd_odi_scores")[0][0]
    assert rows > 20_000
    with database.connect(heatmap.settings) as conn, conn.transaction():
        conn.execute("update vital.jtbd_odi_scores set respondent_count = respondent_count")
    assert logged(heatmap, "odi_scores") == 1
    outcome_matches(
        heatmap.refresh(),
        r"unchanged: no change in 7 streams \(checked in [0-9.]+s, 6 unchanged by their capture"
        r" log, 1 compared whole \(captured\)\)",
    )


@pytest.mark.slow
def test_a_write_behind_a_disabled_capture_trigger_is_not_missed(heatmap: Heatmap):
    """A capture trigger disabled by hand: the streams are refreshed through their digests.
    Enabled again, a trigger has another catalog version (epoch) than the one the last refresh
    recorded, so its log is not trusted for what it missed: the stream is compared whole once.
    Without that, the scores written while it was off would stay stale."""
    heatmap.refresh()
    with capture_disabled(heatmap):
        change_scores(heatmap, 4, counted=False)
        outcome = heatmap.call()
        assert outcome.startswith("updated incrementally: changed keys odi_scores 4 "), outcome
        assert "capture" not in outcome, outcome
        change_scores(heatmap, 5, counted=False)
    assert logged(heatmap, "odi_scores") == 0
    outcome_matches(
        heatmap.call(),
        r"updated incrementally: changed keys odi_scores 5 \(checked in [0-9.]+s, 7 compared"
        r" whole \(captured\)\)",
    )
    assert heatmap.differences() == (0, 0)
    assert heatmap.call().startswith("unchanged: no change in 7 streams")

    # dbt's run puts back a trigger disabled by hand (the model asks for the capture), and the
    # stream it belongs to is compared whole once.
    table, name = next(t for t in capture_triggers(heatmap) if t[0] == "vital.jtbd_odi_scores")
    with database.connect(heatmap.settings, autocommit=True) as conn:
        conn.execute(f'alter table {table} disable trigger "{name}"')
    changed = change_scores(heatmap, 2, counted=False)
    outcome = heatmap.refresh()
    assert re.match(
        r"updated incrementally: changed keys odi_scores 2 \(checked in [0-9.]+s, 6 unchanged by"
        r" their capture log, 1 compared whole \(captured\)\)",
        outcome,
    ), outcome
    assert heatmap.query(
        "select tgenabled::text from pg_trigger where tgrelid = %s::regclass and tgname = %s",
        (table, name),
    ) == [("A",)]
    assert len(changed) == 2
    assert heatmap.differences() == (0, 0)


@pytest.mark.slow
def test_the_refresh_procedure_refreshes_the_heatmap_without_dbt(heatmap: Heatmap):
    """What dbt's run calls, called as Dagster does (refresh_in_place): the same rows; refused in
    a transaction that is not REPEATABLE READ, and on a table built from another definition."""
    change_scores(heatmap, 7)
    (done,) = maintained.refresh_in_place(heatmap.settings, [(SCHEMA, HEATMAP)])
    assert done.outcome and done.outcome.startswith(
        "updated incrementally: changed keys odi_scores 7 "
    ), done.outcome
    assert heatmap.differences() == (0, 0)
    assert heatmap.query(
        "select count(*) from value_view_meta.refresh_log"
        " where relation_name = %s and refreshed_at > now() - interval '1 minute'",
        (HEATMAP,),
    ) == [(1,)]

    procedure = f"value_view_meta.{HEATMAP}__refresh()"
    change_scores(heatmap, 2)
    with (
        database.connect(heatmap.settings) as conn,
        pytest.raises(psycopg.errors.InvalidTransactionState, match="REPEATABLE READ"),
    ):
        conn.execute(f"call {procedure}")
    comment = heatmap.query(
        "select obj_description(%s::regclass, 'pg_class')", (f"{SCHEMA}.{HEATMAP}",)
    )[0][0]
    tampered = re.sub(r"fingerprint=[0-9a-f]{32}", "fingerprint=" + "0" * 32, comment)
    with database.connect(heatmap.settings, autocommit=True) as conn:
        conn.execute(f"comment on table {SCHEMA}.{HEATMAP} is {sql_literal(tampered)}")
        try:
            with pytest.raises(
                psycopg.errors.ObjectNotInPrerequisiteState, match="another definition"
            ):
                maintained.refresh_in_place(heatmap.settings, [(SCHEMA, HEATMAP)])
        finally:
            conn.execute(f"comment on table {SCHEMA}.{HEATMAP} is {sql_literal(comment)}")
    assert heatmap.differences() != (0, 0)
    assert heatmap.refresh().startswith("updated incrementally: changed keys odi_scores 2 ")
    assert heatmap.differences() == (0, 0)


@pytest.mark.slow
@pytest.mark.parametrize("batch", range(3))
def test_after_random_batches_of_changes_the_heatmap_equals_a_full_rebuild(
    heatmap: Heatmap, batch: int
):
    with database.connect(heatmap.settings) as conn, conn.transaction():
        applied = apply_batch(conn, random.Random(batch))
    assert heatmap.differences() != (0, 0), applied
    outcome = heatmap.refresh()
    assert outcome.startswith("updated incrementally"), outcome
    assert heatmap.differences() == (0, 0), f"{applied}\n{outcome}"


@pytest.mark.slow
def test_the_comparison_fails_when_one_change_is_dropped(heatmap: Heatmap):
    changed = sorted(change_scores(heatmap, 10))
    dropped = changed[0]
    # Hide one change from the refresh: its state already holds the new fingerprint (of the keys
    # and the stream's `columns`, the two scores: mv_value_view_odi_heatmap.yml; each column
    # hashed by its type's hash function seeded with its position, the hashes XORed).
    with database.connect(heatmap.settings) as conn:
        conn.execute(
            f"""
            update {STATE_SCHEMA}.{HEATMAP}__odi_scores as state
            set fingerprint = (
                select
                    uuid_hash_extended(scores.persona_id, 1)
                    # uuid_hash_extended(scores.jtbd_id, 2)
                    # coalesce(hash_numeric_extended(scores.importance_score, 3), 3)
                    # coalesce(hash_numeric_extended(scores.satisfaction_score, 4), 4)
                from value_view_staging.stg_vital__jtbd_odi_scores as scores
                where scores.persona_id = state.persona_id and scores.jtbd_id = state.jtbd_id
            )
            where state.persona_id = %s and state.jtbd_id = %s
            """,
            dropped,
        )
    outcome = heatmap.refresh()
    assert outcome.startswith("updated incrementally: changed keys odi_scores 9 "), outcome
    assert heatmap.differences() == (1, 1)
    stale = heatmap.query(
        f"select persona_id, jtbd_id from (select {COMPARED} from {SCHEMA}.{HEATMAP}"
        f" except all select {COMPARED} from ({heatmap.compiled_sql()}) as full_rebuild) as stale"
    )
    assert stale == [dropped]
    assert heatmap.refresh("--full-refresh").startswith("rebuilt (--full-refresh)")
    assert heatmap.differences() == (0, 0)


@pytest.mark.slow
def test_readers_never_wait_nor_see_half_an_incremental_refresh(heatmap: Heatmap):
    rows = heatmap.query(f"select count(*) from {SCHEMA}.{HEATMAP}")[0][0]
    before = checksum(heatmap)
    change_scores(heatmap, rows // 10)
    with Readers(heatmap.settings, heatmap.oid()) as readers:
        outcome = heatmap.refresh()
    after = checksum(heatmap)
    report = readers.report
    print(report.summary("incremental refresh"), outcome)
    assert outcome.startswith("updated incrementally"), outcome
    assert not report.errors, report.errors[:5]
    assert report.max_lock_wait <= 0.05, report.summary("incremental refresh")
    assert not report.exclusive_locks, report.exclusive_locks
    assert before != after
    assert report.answers <= {before, after}, report.answers
    assert heatmap.differences() == (0, 0)


@pytest.mark.slow
def test_a_full_refresh_swaps_in_a_new_table_while_readers_keep_reading(heatmap: Heatmap):
    old_oid = heatmap.oid()
    before = checksum(heatmap)
    with Readers(heatmap.settings, old_oid) as readers:
        outcome = heatmap.refresh("--full-refresh")
    report = readers.report
    print(report.summary("full refresh"), outcome)
    assert outcome.startswith("rebuilt (--full-refresh)"), outcome
    assert not report.errors, report.errors[:5]
    assert report.answers == {before}
    assert report.max_lock_wait < 1.0, report.summary("full refresh")
    new_oid = heatmap.oid()
    assert new_oid != old_oid
    # The latest-version view follows the new table; the tenant view reads it through its
    # function, by name, so it depends on no table at all.
    readers_of_new = heatmap.query(
        "select distinct rewrites.ev_class::regclass::text from pg_depend as depends"
        " inner join pg_rewrite as rewrites on rewrites.oid = depends.objid"
        " where depends.refobjid = %s and rewrites.ev_class <> %s",
        (new_oid, new_oid),
    )
    assert (f"{SCHEMA}.{LATEST}",) in readers_of_new, readers_of_new
    grants = heatmap.query(
        "select has_table_privilege(%s, %s, 'select')", (tenancy.READER_ROLE, new_oid)
    )[0][0]
    assert grants
    assert heatmap.refresh().startswith("unchanged")


@pytest.mark.slow
def test_the_heatmap_replaces_the_materialized_view_it_was(heatmap: Heatmap):
    """The first run over a deployment whose heatmap is still a materialized view."""
    with database.connect(heatmap.settings) as conn, conn.transaction():
        conn.execute("set local search_path = pg_catalog")
        dependents = conn.execute(
            "select distinct rewrites.ev_class::regclass::text,"
            " pg_get_viewdef(rewrites.ev_class), relations.reloptions"
            " from pg_depend as depends"
            " inner join pg_rewrite as rewrites on rewrites.oid = depends.objid"
            " inner join pg_class as relations on relations.oid = rewrites.ev_class"
            " where depends.refobjid = %s and rewrites.ev_class <> %s",
            (heatmap.oid(), heatmap.oid()),
        ).fetchall()
        conn.execute(f"alter table {SCHEMA}.{HEATMAP} rename to {HEATMAP}__table")
        conn.execute(f"create materialized view {SCHEMA}.{HEATMAP} as {heatmap.compiled_sql()}")
        for name, definition, options in dependents:
            definition = definition.replace(f"{HEATMAP}__table", HEATMAP)
            with_options = f" with ({', '.join(options)})" if options else ""
            conn.execute(f"create or replace view {name}{with_options} as {definition}")
        conn.execute(f"drop table {SCHEMA}.{HEATMAP}__table")
    outcome = heatmap.refresh()
    assert outcome.startswith("rebuilt (replacing a materialized view)"), outcome
    assert heatmap.query("select relkind::text from pg_class where oid = %s", (heatmap.oid(),)) == [
        ("r",)
    ]
    assert heatmap.differences() == (0, 0)
    assert heatmap.query(f"select count(*) from {SCHEMA}.{LATEST}")[0][0] > 0
    assert heatmap.refresh().startswith("unchanged")


@pytest.mark.slow
def test_a_model_reading_a_relation_outside_its_streams_fails_the_build(
    heatmap: Heatmap, tmp_path: Path
):
    """Without the ODI score stream, score changes would go unnoticed: the build says so."""
    root = tmp_path / "project"
    for name in ("models", "macros", "seeds", "snapshots", "tests", "analyses"):
        shutil.copytree(PROJECT_ROOT / name, root / name)
    shutil.copy(PROJECT_ROOT / "dbt_project.yml", root / "dbt_project.yml")
    yml = root / "models" / "marts" / "value_view" / f"{LATEST}.yml"
    lines = yml.read_text().splitlines(keepends=True)
    yml.write_text("".join(line for line in lines if "name: odi_scores" not in line))
    version = heatmap.query("select sum(xmin::text::bigint) from value_view." + HEATMAP)
    with pytest.raises(project.DbtCommandError) as failure:
        project.run_dbt(
            ["run", "--select", HEATMAP, "--project-dir", str(root)],
            target_path=tmp_path / "target",
            env=heatmap.env,
        )
    message = str(failure.value)
    assert "outside its change streams" in message, message
    assert "vital.jtbd_odi_scores" in message, message
    assert heatmap.query("select sum(xmin::text::bigint) from value_view." + HEATMAP) == version
