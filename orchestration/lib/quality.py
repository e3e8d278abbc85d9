"""Bad input in the VITAL sources: what the dbt build found, and whether the rows reconcile.

The checks themselves are dbt: models/quarantine/quarantine_<table> lists the rows that break a
rule of the catalogue (macros/quality/quality_tables.sql), a `quality_check` test per
rule reports them (named quality_<check>_<table>[_<column>], severity warn, failures stored in
schema value_view_quality), staging keeps rejected rows out with exclude_quarantined(), and
quality_reconciliation balances source rows against staged + rejected + soft-deleted rows.
This module reads those results from the manifest, run_results.json and the warehouse, for
tests, Dagster checks and people.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from orchestration.lib.database import ConnectionSettings, connect
from orchestration.lib.manifest import node_meta

QUALITY_PREFIX = "quality_"
QUARANTINE_PREFIX = "quarantine_"
RECONCILIATION_META = ("quality", "reconciliation")
SAMPLE_SIZE = 3


@dataclass(frozen=True)
class QualityTest:
    """One rule's test, as the manifest declares it."""

    name: str
    source_table: str
    check: str
    column: str | None
    unique_id: str


@dataclass(frozen=True)
class QualityFinding:
    """A quality test that found rows in the last run."""

    name: str
    status: str
    failures: int
    source_table: str
    column: str
    disposition: str
    description: str
    sample_keys: tuple[str, ...]
    relation_name: str


@dataclass(frozen=True)
class Reconciliation:
    source_table: str
    source_rows: int
    staged_rows: int
    rejected_rows: int
    soft_deleted_rows: int
    flagged_rows: int
    unaccounted_rows: int
    is_balanced: bool


def quality_tests(manifest: Mapping[str, Any]) -> list[QualityTest]:
    """Every quality_check test of the manifest, by name."""
    tests = []
    for unique_id, node in manifest.get("nodes", {}).items():
        metadata = node.get("test_metadata") or {}
        if node.get("resource_type") != "test" or metadata.get("name") != "quality_check":
            continue
        kwargs = metadata.get("kwargs") or {}
        model = str((node.get("attached_node") or "").split(".")[-1])
        tests.append(
            QualityTest(
                name=node["name"],
                source_table=model.removeprefix(QUARANTINE_PREFIX),
                check=str(kwargs.get("check")),
                column=kwargs.get("column"),
                unique_id=unique_id,
            )
        )
    return sorted(tests, key=lambda test: test.name)


def wired_tables(manifest: Mapping[str, Any]) -> set[str]:
    """Source tables whose staging model applies exclude_quarantined (depends on its quarantine)."""
    nodes = manifest.get("nodes", {})
    quarantine = {
        unique_id: node["name"].removeprefix(QUARANTINE_PREFIX)
        for unique_id, node in nodes.items()
        if node.get("resource_type") == "model" and node["name"].startswith(QUARANTINE_PREFIX)
    }
    wired = set()
    for node in nodes.values():
        if node.get("resource_type") != "model" or not node["name"].startswith("stg_"):
            continue
        table = node["name"].split("__", 1)[-1]
        for parent in (node.get("depends_on") or {}).get("nodes", []):
            if quarantine.get(parent) == table:
                wired.add(table)
    return wired


def findings(
    settings: ConnectionSettings,
    run_results: Mapping[str, Any],
    manifest: Mapping[str, Any],
) -> list[QualityFinding]:
    """The quality tests of a run that found rows, with up to three sample keys each."""
    nodes = manifest.get("nodes", {})
    found = []
    with connect(settings, autocommit=True) as conn:
        for result in run_results.get("results", []):
            node = nodes.get(result.get("unique_id"), {})
            relation = node.get("relation_name")
            if (
                node.get("resource_type") != "test"
                or not node.get("name", "").startswith(QUALITY_PREFIX)
                or result.get("status") not in ("warn", "fail")
                or not relation
            ):
                continue
            rows = conn.execute(
                f"select source_table, column_name, disposition, description,"
                f" coalesce(row_id::text, bad_value, 'null') as row_key"
                f" from {relation} order by row_key limit {SAMPLE_SIZE}"
            ).fetchall()
            if not rows:
                continue
            found.append(
                QualityFinding(
                    name=node["name"],
                    status=result["status"],
                    failures=int(result.get("failures") or 0),
                    source_table=rows[0][0],
                    column=rows[0][1],
                    disposition=rows[0][2],
                    description=rows[0][3],
                    sample_keys=tuple(row[4] for row in rows),
                    relation_name=relation,
                )
            )
    return sorted(found, key=lambda finding: finding.name)


def stored_keys(settings: ConnectionSettings, relation_name: str) -> set[str]:
    """Every row key a quality test stored (``coalesce(row_id, bad_value)`` as text)."""
    with connect(settings, autocommit=True) as conn:
        return {
            row[0]
            for row in conn.execute(
                f"select coalesce(row_id::text, bad_value, 'null') from {relation_name}"
            )
        }


def is_reconciliation(node: Mapping[str, Any]) -> bool:
    """Whether a manifest node is the reconciliation model (``meta.quality: reconciliation``)."""
    key, value = RECONCILIATION_META
    return node.get("resource_type") == "model" and node_meta(node).get(key) == value


def reconciliation(
    settings: ConnectionSettings, manifest: Mapping[str, Any]
) -> list[Reconciliation]:
    """The rows of the reconciliation model (``meta.quality: reconciliation``), table by table."""
    relation = next(
        node["relation_name"]
        for node in manifest.get("nodes", {}).values()
        if is_reconciliation(node)
    )
    with connect(settings, autocommit=True) as conn:
        rows = conn.execute(
            "select source_table, source_rows, staged_rows, rejected_rows, soft_deleted_rows,"
            f" flagged_rows, unaccounted_rows, is_balanced from {relation} order by 1"
        ).fetchall()
    return [Reconciliation(*row) for row in rows]


def format_findings(found: Sequence[QualityFinding]) -> list[str]:
    """One line per finding, as the dbt run's quality report prints them."""
    return [
        f"{finding.name}: {finding.failures} rows {finding.disposition} in "
        f"{finding.source_table}.{finding.column} ({finding.description}); "
        f"sample id: {', '.join(finding.sample_keys)}"
        for finding in found
    ]
