"""What a mart is built from, and whether any of it changed since the mart was last built.

A mart's inputs are its own SQL and every model, seed and macro it depends on (their checksums in
the manifest), and the source tables under it (their observed data versions: row count and newest
change, ``lib.sources``). Two builds from equal inputs give equal rows, so a scheduled refresh can
skip a mart whose inputs match the ones recorded at its last build.

Some marts' rows depend on the clock too. One whose windows start at a UTC day boundary
(``meta.refresh.clock: day``) counts that day as one more input (``clock``): it is skipped when run
again on the same day over unchanged sources, and rebuilt on the next day. One whose window
slides with every instant (``meta.refresh.skip_unchanged: false``, "the 7 days before the
refresh") is never skipped; when nothing else changed, a materialized view or maintained table
of that kind is refreshed in place (``refreshes_in_place``) instead of being rebuilt by dbt.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from orchestration.lib import manifest as manifests
from orchestration.lib.database import ConnectionSettings, connect
from orchestration.lib.sources import source_states


@dataclass(frozen=True)
class Upstream:
    """The nodes a mart depends on, transitively: models and seeds, macros, source tables."""

    nodes: frozenset[str]
    macros: frozenset[str]
    sources: frozenset[str]


def upstream(manifest: Mapping[str, Any], unique_id: str) -> Upstream:
    """Everything ``unique_id`` is built from, following ``depends_on`` to the sources."""
    nodes, sources, macros = set(), set(), set()
    pending = [unique_id]
    while pending:
        uid = pending.pop()
        if uid in nodes or uid in sources:
            continue
        if uid in manifest.get("sources", {}):
            sources.add(uid)
            continue
        node = manifest.get("nodes", {}).get(uid)
        if node is None:
            continue
        nodes.add(uid)
        depends = node.get("depends_on") or {}
        pending.extend(depends.get("nodes") or [])
        macros.update(depends.get("macros") or [])
    return Upstream(frozenset(nodes), _with_called_macros(manifest, macros), frozenset(sources))


def _with_called_macros(manifest: Mapping[str, Any], roots: Iterable[str]) -> frozenset[str]:
    found: set[str] = set()
    pending = list(roots)
    while pending:
        uid = pending.pop()
        macro = manifest.get("macros", {}).get(uid)
        if uid in found or macro is None:
            continue
        found.add(uid)
        pending.extend((macro.get("depends_on") or {}).get("macros") or [])
    return frozenset(found)


def code_version(manifest: Mapping[str, Any], found: Upstream) -> str:
    """One digest of the SQL and config of every node and macro a mart is built from."""
    parts = []
    for uid in sorted(found.nodes):
        node = manifest["nodes"][uid]
        checksum = (node.get("checksum") or {}).get("checksum", "")
        config = json.dumps(node.get("config") or {}, sort_keys=True, default=str)
        parts.append([uid, checksum, config])
    for uid in sorted(found.macros):
        parts.append([uid, manifest["macros"][uid].get("macro_sql", "")])
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


CLOCK_INPUT = "clock"
CLOCK_GRAINS = ("day",)


def _refresh_meta(node: Mapping[str, Any]) -> Mapping[str, Any]:
    refresh = manifests.node_meta(node).get("refresh") or {}
    return refresh if isinstance(refresh, Mapping) else {}


def skips_when_unchanged(node: Mapping[str, Any]) -> bool:
    """Whether a scheduled refresh may skip the mart when its inputs are unchanged."""
    return bool(_refresh_meta(node).get("skip_unchanged", True))


def refreshes_in_place(node: Mapping[str, Any]) -> bool:
    """A materialized view or maintained table whose window slides with the clock: when its other
    inputs are unchanged, ``REFRESH MATERIALIZED VIEW CONCURRENTLY`` (a maintained table's refresh
    procedure) gives what a dbt rebuild would."""
    materialized = str((node.get("config") or {}).get("materialized") or "")
    in_place = materialized.endswith("materialized_view") or materialized == "maintained_table"
    return not skips_when_unchanged(node) and in_place


def clock_grain(node: Mapping[str, Any]) -> str | None:
    """``meta.refresh.clock``: the UTC boundary the mart's windows start at, or None."""
    grain = _refresh_meta(node).get("clock")
    if grain is None:
        return None
    if grain not in CLOCK_GRAINS:
        raise ValueError(
            f"{node.get('unique_id')}: meta.refresh.clock is {grain!r}; use one of {CLOCK_GRAINS}"
        )
    return str(grain)


def clock_version(now: dt.datetime | None = None) -> str:
    """The clock as an input: the UTC day (ISO date), the one grain there is."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return now.astimezone(dt.timezone.utc).date().isoformat()


def input_versions(
    manifest: Mapping[str, Any],
    unique_ids: Iterable[str],
    settings: ConnectionSettings,
    source_schema: str,
) -> dict[str, dict[str, str]]:
    """For each node: ``{"code": <digest>, <source unique id>: <data version>, ...}``, and
    ``clock`` for a mart whose rows move with the UTC day.

    The source tables are read once for all the nodes (each one row count and one max).
    """
    found = {uid: upstream(manifest, uid) for uid in unique_ids}
    tables = {
        uid: str(manifest["sources"][uid].get("identifier") or manifest["sources"][uid]["name"])
        for ups in found.values()
        for uid in ups.sources
    }
    states = source_states(settings, source_schema, sorted(set(tables.values())))
    return {
        uid: {
            "code": code_version(manifest, ups),
            **{source: states[tables[source]].version for source in sorted(ups.sources)},
            **_clock_input(manifest["nodes"][uid]),
        }
        for uid, ups in found.items()
    }


def _clock_input(node: Mapping[str, Any]) -> dict[str, str]:
    return {CLOCK_INPUT: clock_version()} if clock_grain(node) else {}


def existing_relations(settings: ConnectionSettings, names: Iterable[str]) -> set[str]:
    """Which of the ``schema.relation`` names exist in the warehouse now."""
    wanted = sorted(set(names))
    with connect(settings, autocommit=True) as conn:
        rows = conn.execute(
            "select name from unnest(%s::text[]) as name where to_regclass(name) is not null",
            (wanted,),
        ).fetchall()
    return {row[0] for row in rows}


def changed_inputs(recorded: Mapping[str, str] | None, current: Mapping[str, str]) -> list[str]:
    """The inputs whose version differs from the recorded one (all of them with no record)."""
    if not recorded:
        return sorted(current)
    keys = set(current) | set(recorded)
    return sorted(key for key in keys if recorded.get(key) != current.get(key))
