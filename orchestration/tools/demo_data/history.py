"""Dated ODI score changes replayed into the score history (``value-view demo-data
--history-days N``), so the trend mart has content on a fresh clone.

The loaded scores are the end state. Every score starts at a baseline survey ``N`` days before
the as-of date; a few waves of rescoring follow (the waves within the window, the last one the
day before the as-of date), each rescoring about a tenth of the pairs. A pair's values before its
last wave are drawn near its end values, so bands are crossed; its last wave restores the loaded
values. The source is set to each state in turn with the state's ``scored_at`` and the project's
snapshot of the scores (``dbt snapshot``, every snapshot whose ``meta.history`` is ``odi_scores``)
is taken after each one, so the snapshot holds the dated history. A replay first empties the
snapshot: its history is that of the data just loaded.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Callable

from psycopg import sql

from orchestration.lib import database
from orchestration.lib import manifest as manifests
from orchestration.lib import settings as project_settings
from orchestration.lib.dbt_guard import dbt_executable
from orchestration.lib.dbt_runner import dbt_env
from orchestration.tools.demo_data.draws import odi_opportunity
from orchestration.tools.demo_data.load import DemoDataError
from orchestration.tools.demo_data.world import DemoPlan

HISTORY_META = "odi_scores"
WAVE_DAYS_AGO = (75, 45, 20, 10, 1)  # waves of rescoring within the window, days before as-of
WAVE_SHARE = 0.1  # share of the pairs each wave rescores
MAX_HISTORY_DAYS = 3650

Snapshot = Callable[[], None]


def waves(plan: DemoPlan, days: int) -> list[dt.datetime]:
    """The baseline and the waves of rescoring within ``days`` before the as-of date, oldest
    first."""
    ago = [days, *(day for day in WAVE_DAYS_AGO if day < days)]
    return [plan.anchor - dt.timedelta(days=day) for day in ago]


def _perturbed(rng, value: int) -> int:
    return max(0, min(1000, value + rng.randint(-300, 300)))


def plan_states(
    plan: DemoPlan, days: int, scores: list[tuple[str, int, int]]
) -> list[tuple[dt.datetime, list[tuple[str, int, int]]]]:
    """The states to replay: the baseline (every pair) and, per wave, the pairs it rescores, as
    (id, importance, satisfaction) in hundredths. The last state of every pair is its loaded one."""
    moments = waves(plan, days)
    rng = plan.rng("history", days)
    changes: dict[str, list[int]] = {}
    for score_id, _, _ in scores:
        changed = [index for index in range(1, len(moments)) if rng.random() < WAVE_SHARE]
        if changed:
            changes[score_id] = changed
    states: list[tuple[dt.datetime, list[tuple[str, int, int]]]] = [
        (moment, []) for moment in moments
    ]
    for score_id, importance, satisfaction in scores:
        changed = changes.get(score_id, [])
        if not changed:
            states[0][1].append((score_id, importance, satisfaction))
            continue
        states[0][1].append((score_id, _perturbed(rng, importance), _perturbed(rng, satisfaction)))
        for index in changed[:-1]:
            states[index][1].append(
                (score_id, _perturbed(rng, importance), _perturbed(rng, satisfaction))
            )
        states[changed[-1]][1].append((score_id, importance, satisfaction))
    return states


def _apply(conn, schema: str, moment: dt.datetime, rows: list[tuple[str, int, int]]) -> None:
    conn.execute(
        "create temporary table if not exists history_state "
        "(id uuid, importance numeric(4, 2), satisfaction numeric(4, 2),"
        " opportunity numeric(4, 2), classification text) on commit drop"
    )
    conn.execute("truncate history_state")
    with conn.cursor().copy("copy history_state from stdin") as copy:
        for score_id, importance, satisfaction in rows:
            opportunity, classification = odi_opportunity(importance, satisfaction)
            copy.write_row(
                (score_id, importance / 100, satisfaction / 100, opportunity / 100, classification)
            )
    conn.execute(
        sql.SQL(
            "update {}.jtbd_odi_scores as scores set importance_score = state.importance,"
            " satisfaction_score = state.satisfaction, opportunity_score = state.opportunity,"
            " opportunity_classification = state.classification, scored_at = %(moment)s"
            " from history_state as state where scores.id = state.id"
        ).format(sql.Identifier(schema)),
        {"moment": moment},
    )


def snapshot_relations(env: dict[str, str]) -> list[str]:
    """``schema.table`` of the project's snapshots of the ODI scores (from a fresh parse)."""
    target = project_settings.PROJECT_ROOT / "target" / "history"
    manifest = manifests.read(manifests.parse(target, env=env))
    return [
        manifests.qualified_name(node)
        for node in manifest.get("nodes", {}).values()
        if node.get("resource_type") == "snapshot"
        and manifests.node_meta(node).get("history") == HISTORY_META
    ]


def dbt_snapshot(settings: database.ConnectionSettings, schema: str) -> Snapshot:
    """Take the project's snapshots with dbt against ``settings`` (sources in ``schema``)."""
    env = dbt_env(settings, source_schema=schema)

    def take() -> None:
        done = subprocess.run(
            [dbt_executable(), "snapshot", "--quiet", "--select", "resource_type:snapshot"],
            env=env,
            cwd=project_settings.PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            tail = (done.stdout + done.stderr).strip().splitlines()[-1:] or ["no output"]
            raise DemoDataError(f"`dbt snapshot` failed while replaying history: {tail[0]}")

    return take


def empty_snapshots(settings: database.ConnectionSettings, relations: list[str]) -> None:
    with database.connect(settings, autocommit=True) as conn:
        for relation in relations:
            schema, table = relation.split(".", 1)
            exists = conn.execute("select to_regclass(%s)", (relation,)).fetchone()[0]
            if exists:
                conn.execute(
                    sql.SQL("delete from {}.{}").format(
                        sql.Identifier(schema), sql.Identifier(table)
                    )
                )


def replay_history(
    settings: database.ConnectionSettings,
    plan: DemoPlan,
    days: int,
    *,
    schema: str = "vital",
    snapshot: Snapshot | None = None,
    progress: bool = True,
) -> int:
    """Replay ``days`` of dated score changes through the snapshot; the states replayed."""
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= MAX_HISTORY_DAYS:
        raise DemoDataError(
            f"history days must be a whole number from 0 to {MAX_HISTORY_DAYS}, got {days!r}"
        )
    if days == 0:
        return 0
    take = snapshot or dbt_snapshot(settings, schema)
    if snapshot is None:
        empty_snapshots(settings, snapshot_relations(dbt_env(settings, source_schema=schema)))
    with database.connect(settings) as conn:
        scores = [
            (str(row[0]), round(row[1] * 100), round(row[2] * 100))
            for row in conn.execute(
                sql.SQL(
                    "select id, importance_score, satisfaction_score from {}.jtbd_odi_scores"
                    " order by id"
                ).format(sql.Identifier(schema))
            )
        ]
    states = plan_states(plan, days, scores)
    for moment, rows in states:
        with database.connect(settings) as conn, conn.transaction():
            _apply(conn, schema, moment, rows)
        take()
        if progress:
            print(
                f"demo-data: history {moment:%Y-%m-%d}: {len(rows):,} scores",
                file=sys.stderr,
                flush=True,
            )
    return len(states)
