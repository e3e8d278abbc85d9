"""`value-view describe <mart>`: everything the project knows about one mart, on one page.

Its SQL and YAML files, its versions, kind and grain, its tests (data and unit), its refresh
cadence and tier, its dashboard queries with their budgets, its indexes and the exposures that read
it, all from the dbt manifest (the YAML is the one source of truth; nothing here lists marts).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from orchestration.lib import manifest as manifests
from orchestration.lib.report import format_table

NO_VALUE = "-"


class UnknownMart(LookupError):
    """No BI relation has the name asked for; the message lists the ones that exist."""


def find_versions(manifest: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    """Every version of the mart called ``name`` (its model name or a version's relation)."""
    found = [
        node
        for node in manifests.mart_nodes(manifest).values()
        if name in (node["name"], manifests.relation_name(node))
    ]
    if not found:
        names = sorted({node["name"] for node in manifests.mart_nodes(manifest).values()})
        raise UnknownMart(f"no mart named {name!r}; the marts are: {', '.join(names)}")
    return sorted(found, key=lambda node: str(node.get("version") or ""))


def tests_on(manifest: Mapping[str, Any], unique_ids: set[str]) -> list[list[str]]:
    """(test, kind, severity) of every data test on these nodes and every unit test of them."""
    rows = []
    for node in manifest.get("nodes", {}).values():
        if node.get("resource_type") != "test":
            continue
        attached = node.get("attached_node")
        depends = set(node.get("depends_on", {}).get("nodes", []))
        guarded = attached in unique_ids if attached else bool(depends & unique_ids)
        if not guarded:
            continue
        metadata = node.get("test_metadata") or {}
        kind = metadata.get("name") or "singular"
        column = node.get("column_name")
        rows.append(
            [
                node["name"],
                f"{kind} on {column}" if column else kind,
                str((node.get("config") or {}).get("severity", "")).lower(),
            ]
        )
    for test in manifest.get("unit_tests", {}).values():
        if set(test.get("depends_on", {}).get("nodes", [])) & unique_ids:
            rows.append([test["name"], "unit test", "error"])
    return sorted(rows)


def exposures_of(manifest: Mapping[str, Any], unique_ids: set[str]) -> list[str]:
    return sorted(
        exposure["name"]
        for exposure in manifest.get("exposures", {}).values()
        if set(exposure.get("depends_on", {}).get("nodes", [])) & unique_ids
    )


def benchmark_rows(node: Mapping[str, Any]) -> list[list[str]]:
    meta = manifests.node_meta(node)
    entries = [meta.get("benchmark"), *(meta.get("additional_benchmarks") or [])]
    rows = []
    for entry in entries:
        if not isinstance(entry, Mapping) or not entry.get("analysis"):
            continue
        analysis = str(entry["analysis"])
        rows.append(
            [
                f"{manifests.BENCHMARKS / analysis}.sql",
                f"{manifests.RAW_BENCHMARKS / analysis}.sql",
                f"{float(entry.get('p95_budget_ms', 0)):g} ms",
                str(entry.get("max_rows", NO_VALUE)),
                "yes" if entry.get("expect_index_scan") else "no",
            ]
        )
    return rows


def index_rows(node: Mapping[str, Any]) -> list[list[str]]:
    rows = []
    for index in (node.get("config") or {}).get("indexes") or []:
        rows.append(
            [
                ", ".join(index.get("columns") or []),
                index.get("type") or "btree",
                "yes" if index.get("unique") else "no",
                str(index.get("where") or NO_VALUE),
            ]
        )
    return rows


def describe(manifest: Mapping[str, Any], name: str) -> str:
    """The page `value-view describe` prints for the mart called ``name``."""
    versions = find_versions(manifest, name)
    latest = next((node for node in versions if manifests.is_latest_version(node)), versions[-1])
    unique_ids = {node["unique_id"] for node in versions}
    meta = manifests.node_meta(latest)
    config = latest.get("config") or {}
    cron = manifests.refresh_cron(latest)
    contract = (config.get("contract") or {}).get("enforced")
    summary = [
        ["mart", latest["name"]],
        ["description", " ".join(str(latest.get("description") or NO_VALUE).split())[:160]],
        ["layer", manifests.model_layer(latest) or NO_VALUE],
        ["materialized", str(config.get("materialized") or NO_VALUE)],
        ["relation", manifests.qualified_name(latest)],
        ["owner", str(meta.get("owner") or NO_VALUE)],
        ["refresh", f"{cron} UTC (tier {manifests.tier_name(cron)})" if cron else "real-time"],
        ["contract", "enforced" if contract else "not enforced"],
        ["access", str(latest.get("access") or NO_VALUE)],
        ["sql", str(latest.get("original_file_path") or NO_VALUE)],
        ["yaml", str(latest.get("patch_path") or NO_VALUE).split("://")[-1]],
        ["exposures", ", ".join(exposures_of(manifest, unique_ids)) or NO_VALUE],
    ]
    parts = [format_table(["", ""], summary, title=f"{latest['name']}")]
    parts.append(
        format_table(
            ["version", "relation", "latest", "deprecation"],
            [
                [
                    str(node.get("version") or NO_VALUE),
                    manifests.qualified_name(node),
                    "yes" if manifests.is_latest_version(node) else "no",
                    str(node.get("deprecation_date") or NO_VALUE),
                ]
                for node in versions
            ],
            title="versions",
        )
    )
    sections: Sequence[tuple[str, list[str], list[list[str]]]] = (
        (
            "dashboard queries",
            ["analysis", "raw twin", "p95 budget", "max rows", "index scan"],
            benchmark_rows(latest),
        ),
        ("indexes", ["columns", "type", "unique", "where"], index_rows(latest)),
        ("tests", ["test", "kind", "severity"], tests_on(manifest, unique_ids)),
    )
    for title, headers, rows in sections:
        parts.append(
            format_table(headers, rows, title=title) if rows else f"{title}: none declared"
        )
    return "\n\n".join(parts)


def run(name: str) -> int:
    """Parse the project (no database needed) and print the page for ``name``."""
    target = manifests.target_path()
    manifest = manifests.read(manifests.parse(target))
    print(describe(manifest, name))
    return 0
