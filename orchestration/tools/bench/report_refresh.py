"""The bench report's tables of refresh work beyond the plain and concurrent REFRESH: the
incremental marts (2b, 2c) and the tier runs through Dagster (2d)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestration.lib.report import format_table
from orchestration.tools.bench import fmt


def incremental_table(report: Mapping[str, Any]) -> str:
    rows = [
        [
            row["relation"],
            row["cron"] or "-",
            f"{row['rows']:,}",
            fmt.secs(row["full_s"]),
            fmt.secs(row["unchanged_s"]),
            f"{row['changed_source_rows']:,} of {row['source']} ({row['fraction']:.0%})",
            fmt.secs(row["changed_s"]),
            fmt.pct(row["changed_over_full"]),
            fmt.secs((row.get("as_view") or {}).get("concurrent_s")),
            fmt.pct(row.get("changed_over_view_refresh")),
            f"{fmt.secs(row.get('changed_dbt_s'))}"
            f" ({fmt.pct(row.get('changed_dbt_over_view_refresh'))})",
            f"<= {row['goal']:.0%}",
            fmt.yes(row["met"]),
        ]
        for row in report["incremental"]["marts"]
    ]
    return format_table(
        [
            "incremental mart",
            "tier (cron)",
            "rows",
            "full rebuild",
            "refresh, nothing changed",
            "rows changed",
            "refresh after the change",
            "after change / full",
            "its query as a view, refreshed concurrently",
            "after change / concurrent refresh",
            "after change through dbt (/ concurrent)",
            "target",
            "met",
        ],
        rows,
        title="2b. Incremental marts: a refresh after a small change to their inputs against a"
        " full rebuild and against their query refreshed concurrently as a materialized view"
        " (the refresh procedure's transaction, median of"
        f" {report['incremental']['marts'][0]['changed_runs'] if rows else 0} refreshes; through"
        " dbt: the node's execution time, median of 2; full rebuild: dbt --full-refresh)",
    )


def sweep_table(report: Mapping[str, Any]) -> str:
    marts = [row for row in report["incremental"]["marts"] if len(row.get("sweep") or []) > 1]
    rows = [
        [
            row["relation"],
            f"{point['fraction']:.1%} of {row['source']}",
            f"{point['changed_source_rows']:,}",
            fmt.secs(point["changed_s"]),
            fmt.secs(row["full_s"]),
            fmt.pct(point["changed_over_full"]),
        ]
        for row in marts
        for point in row["sweep"]
    ]
    return format_table(
        ["incremental mart", "change", "source rows changed", "refresh", "full rebuild", "share"],
        rows,
        title="2c. Incremental marts: the refresh after changes of growing size"
        " (median of the change and its undo)",
    )


def tier_outcome(run: Mapping[str, Any]) -> str:
    """What a tier run did with its tier's marts, in words."""
    parts = [
        f"{run[key]} {label}"
        for key, label in (
            ("rebuilt", "rebuilt"),
            ("in_place", "refreshed in place"),
            ("skipped", "skipped"),
        )
        if run[key]
    ]
    return ", ".join(parts) or "none"


def tiers_table(report: Mapping[str, Any]) -> str:
    tiers = report["tiers"]
    rows = [
        [
            row["tier"],
            str(row["marts"]),
            fmt.secs(row["forced"]["wall_s"]),
            tier_outcome(row["forced"]),
            fmt.secs(row["unchanged"]["wall_s"]),
            tier_outcome(row["unchanged"]),
            fmt.pct(row["unchanged_over_forced"]),
            f"{fmt.secs(row['unchanged']['steps_s'])} / {fmt.secs(row['forced']['steps_s'])}",
        ]
        for row in tiers["tiers"]
    ]
    rows.append(
        [
            "all tiers",
            str(sum(row["marts"] for row in tiers["tiers"])),
            fmt.secs(tiers["forced_s"]),
            "",
            fmt.secs(tiers["unchanged_s"]),
            "",
            fmt.pct(tiers["unchanged_over_forced"]),
            "",
        ]
    )
    return format_table(
        [
            "tier",
            "marts",
            "forced run",
            "forced: marts",
            "run on unchanged sources",
            "unchanged: marts",
            "unchanged / forced",
            "steps' time, unchanged / forced",
        ],
        rows,
        title=f"2d. Tier runs through Dagster at scale {tiers['scale']}: forced, then again on"
        " unchanged sources (wall-clock from start to end of each run)",
    )
