"""The summary of a run: each measure beside what it is compared with, the target, and why
(the rows of the report's "Summary" table)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestration.tools.bench import fmt
from orchestration.tools.bench.ambitions import (
    AMBITION_REFRESH_SCALE,
    AMBITION_REFRESH_TOTAL_S,
    AMBITION_STALL_MS,
    AMBITION_UNCHANGED_TIER_OVER_FORCED,
)
from orchestration.tools.bench.figures import ratio


def _tables(count: int) -> str:
    return f"{count} table" if count == 1 else f"{count} tables"


def why(plans: Mapping[str, Any]) -> str:
    """Why one side is faster, from the plan of one run of each."""
    mart, raw = plans["mart"], plans["raw"]
    return (
        f"mart: {mart['main_scan']}, {mart['shared_buffers']:,} buffers,"
        f" {fmt.ms(mart['execution_ms'])} in the server; raw: {_tables(raw['relations_read'])},"
        f" {raw['shared_buffers']:,} buffers, {fmt.ms(raw['execution_ms'])}"
    )


def summary_rows(report: Mapping[str, Any]) -> list[list[str]]:
    """measure, Value View, compared with, ratio, target, met, why: one row a measure."""
    rows = []
    for row in report["queries"]:
        budget = row["p95_budget_ms"]
        rows.append(
            [
                f"{row['benchmark']} p95",
                fmt.ms(row["mart"].get("p95_ms")),
                f"raw tables {fmt.ms(row['raw'].get('p95_ms'))}",
                fmt.speed(row["speedup_p95"]),
                f"{fmt.budget(budget)} ({fmt.pct(row['budget_fraction'])} used)" if budget else "-",
                fmt.yes(row["within_budget"]) if budget else "-",
                why(row["plan"]),
            ]
        )
    refresh = report["refresh"]
    spec = refresh["spec_total_s"]
    at_scale_one = report["parameters"]["scale"] == AMBITION_REFRESH_SCALE
    rows.append(
        [
            "refresh every materialized view",
            fmt.secs(refresh["total_production_s"]),
            f"spec estimate {fmt.span(spec)}" if spec else "-",
            fmt.speed(ratio(spec[0], refresh["total_production_s"])) if spec else "-",
            f"< {AMBITION_REFRESH_TOTAL_S:g} s at scale {AMBITION_REFRESH_SCALE}",
            fmt.yes(refresh["total_production_s"] < AMBITION_REFRESH_TOTAL_S)
            if at_scale_one
            else "-",
            f"plain REFRESH of all: {fmt.secs(refresh['total_plain_s'])};"
            f" concurrently: {fmt.secs(refresh['total_concurrent_s'])}",
        ]
    )
    for row in (report.get("incremental") or {}).get("marts", []):
        rows.append(
            [
                f"refresh {row['relation']} after {row['fraction']:.0%} of {row['source']} changed",
                fmt.secs(row["changed_s"]),
                f"its query refreshed concurrently as a view"
                f" {fmt.secs((row.get('as_view') or {}).get('concurrent_s'))}",
                f"{fmt.pct(row.get('changed_over_view_refresh'))} of it",
                f"<= {row['goal']:.0%} of a full concurrent refresh",
                fmt.yes(row["met"]),
                f"{row['changed_source_rows']:,} source rows changed; through dbt"
                f" {fmt.secs(row.get('changed_dbt_s'))}"
                f" ({fmt.pct(row.get('changed_dbt_over_view_refresh'))}); nothing changed:"
                f" {fmt.secs(row['unchanged_s'])}; full rebuild {fmt.secs(row['full_s'])}"
                f" ({fmt.pct(row['changed_over_full'])})",
            ]
        )
    tiers = report.get("tiers")
    if tiers and tiers["tiers"]:
        worst = max(tiers["tiers"], key=lambda row: row["unchanged_over_forced"] or 0)
        rows.append(
            [
                "tier runs on unchanged sources (Dagster)",
                fmt.secs(tiers["unchanged_s"]),
                f"forced runs {fmt.secs(tiers['forced_s'])}",
                f"{fmt.pct(tiers['unchanged_over_forced'])} of forced",
                f"< {AMBITION_UNCHANGED_TIER_OVER_FORCED:.0%} of forced, each tier",
                fmt.yes(
                    worst["unchanged_over_forced"] is not None
                    and worst["unchanged_over_forced"] < AMBITION_UNCHANGED_TIER_OVER_FORCED
                ),
                f"worst {worst['tier']}: {fmt.pct(worst['unchanged_over_forced'])}"
                f" ({fmt.secs(worst['unchanged']['wall_s'])} vs"
                f" {fmt.secs(worst['forced']['wall_s'])})",
            ]
        )
    reads = report.get("reads_under_refresh")
    if reads:
        modes = reads["modes"]
        plain, concurrent = modes.get("plain", {}), modes.get("concurrently", {})
        stall = concurrent.get("longest_stall_ms")
        rows.append(
            [
                "longest reader stall during refresh",
                f"concurrently {fmt.ms(stall)}",
                f"plain {fmt.ms(plain.get('longest_stall_ms'))}; no refresh"
                f" {fmt.ms(modes.get('none', {}).get('longest_stall_ms'))}",
                f"{fmt.times(reads['stall_ratio_plain_over_concurrent'])} shorter",
                f"<= {AMBITION_STALL_MS:g} ms",
                fmt.yes(None if stall is None else stall <= AMBITION_STALL_MS),
                "readers waiting on a lock: plain up to"
                f" {plain.get('max_readers_waiting_on_lock', '-')} for"
                f" {fmt.ms(plain.get('longest_lock_wait_ms'))}, concurrently up to"
                f" {concurrent.get('max_readers_waiting_on_lock', '-')} for"
                f" {fmt.ms(concurrent.get('longest_lock_wait_ms'))}",
            ]
        )
        rows.append(
            [
                "reads/s during refresh",
                f"concurrently {concurrent.get('reads_per_s', 0):,.1f}",
                f"plain {plain.get('reads_per_s', 0):,.1f}",
                fmt.times(reads["throughput_ratio_concurrent_over_plain"]),
                "-",
                "-",
                f"control without refresh: {modes.get('none', {}).get('reads_per_s', 0):,.1f}",
            ]
        )
    throughput = [row for row in report.get("throughput") or [] if not row.get("refused")]
    if throughput:
        best = max(throughput, key=lambda row: row["queries_per_s"])
        rows.append(
            [
                "dashboard throughput",
                f"{best['queries_per_s']:,.0f} q/s at {best['clients']} clients",
                ", ".join(f"{row['clients']}: {row['queries_per_s']:,.0f}" for row in throughput),
                "-",
                "-",
                "-",
                f"p95 {fmt.ms(best['latency'].get('p95_ms'))} at {best['clients']} clients",
            ]
        )
    load = report.get("load")
    if load:
        rows.append(
            [
                f"load: {load['readers']} readers x {load['seconds']} s",
                f"{load['errors']} errors",
                f"{load['reads']:,} reads; tier {load['tier']} refreshes: {load['tier_refreshes']}",
                "-",
                "0 errors",
                fmt.yes(load["errors"] == 0 and not load["refresh_errors"]),
                f"read p99 {fmt.ms(load['latency'].get('p99_ms'))}; each tier refresh (dbt run)"
                f" {', '.join(fmt.secs(value) for value in load['tier_refresh_seconds'])}",
            ]
        )
    for item in report["scaling"]["ratios"]:
        growth = [
            (name, figures["mart_p95"])
            for name, figures in item["queries"].items()
            if figures["mart_p95"] is not None
        ]
        worst = max(growth, key=lambda pair: pair[1], default=None)
        rows.append(
            [
                f"scale {item['to_scale']} vs {item['from_scale']}",
                f"build {fmt.times(item['build'])}, refresh {fmt.times(item['refresh_total'])}",
                f"data {fmt.times(item['data'])}",
                f"mart p95 up to {fmt.times(worst[1])}" if worst else "-",
                "-",
                "-",
                f"largest growth: {worst[0]}" if worst else "-",
            ]
        )
    return rows
