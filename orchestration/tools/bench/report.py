"""The report of a run as Markdown: one table per phase, the summary and the ambitions (the
same text goes to the terminal and to ``bench.md``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestration.lib.report import format_table
from orchestration.tools.bench import fmt
from orchestration.tools.bench.figures import ratio
from orchestration.tools.bench.readers import REFRESH_MODES
from orchestration.tools.bench.report_refresh import incremental_table, sweep_table, tiers_table
from orchestration.tools.bench.summary import summary_rows, why


def _query_table(report: Mapping[str, Any]) -> str:
    rows = [
        [
            row["benchmark"],
            f"{row['rows']:,}",
            fmt.ms(row["mart"].get("p50_ms")),
            fmt.ms(row["mart"].get("p95_ms")),
            fmt.ms(row["mart"].get("p99_ms")),
            fmt.ms(row["raw"].get("p50_ms")),
            fmt.ms(row["raw"].get("p95_ms")),
            fmt.ms(row["raw"].get("p99_ms")),
            fmt.speed(row["speedup_p95"]),
            fmt.budget(row["p95_budget_ms"]),
            fmt.pct(row["budget_fraction"]),
            why(row["plan"]),
        ]
        for row in report["queries"]
    ]
    return format_table(
        [
            "benchmark",
            "rows",
            "mart p50",
            "mart p95",
            "mart p99",
            "raw p50",
            "raw p95",
            "raw p99",
            "mart vs raw (p95)",
            "budget",
            "p95/budget",
            "why (plan of one run)",
        ],
        rows,
        title="1. Dashboard queries: mart vs raw source tables (same rows checked, interleaved"
        f" runs, up to {report['parameters']['runs']} per side)",
    )


def _refresh_table(report: Mapping[str, Any]) -> str:
    refresh = report["refresh"]
    rows = [
        [
            row["relation"] + (" (table)" if row.get("table") else ""),
            row["cron"] or ("maintained" if row.get("maintained") else "-"),
            f"{row['rows']:,}",
            fmt.secs(row["plain_s"]),
            fmt.secs(row["concurrent_s"]) if row["concurrent_possible"] else "n/a",
            row["spec_estimate"] or "-",
            fmt.times(row["spec_low_over_ours"]),
        ]
        for row in refresh["views"]
    ]
    spec = refresh["spec_total_s"]
    rows.append(
        [
            "all together",
            "",
            "",
            fmt.secs(refresh["total_plain_s"]),
            fmt.secs(refresh["total_concurrent_s"]),
            fmt.span(spec),
            fmt.times(ratio(spec[0], refresh["total_production_s"]) if spec else None),
        ]
    )
    return format_table(
        [
            "materialized view",
            "tier (cron)",
            "rows",
            "plain",
            "concurrently",
            "spec estimate",
            "spec low / ours",
        ],
        rows,
        title="2. Refresh cost per materialized view (median of"
        f" {report['parameters']['refresh_runs']} runs; 'ours' is the refresh dbt runs:"
        " concurrently when a unique index allows; a maintained (table) is merged on its key,"
        " its plain figure its query as a materialized view with the same indexes)",
    )


def readers_table(reads: Mapping[str, Any]) -> str:
    labels = {
        "none": "none (control)",
        "plain": "plain REFRESH",
        "concurrently": "REFRESH CONCURRENTLY",
        "full_refresh": "dbt build --full-refresh (marts and parents, once)",
    }
    rows = []
    for mode in REFRESH_MODES:
        figures = reads["modes"].get(mode) or {}
        if "reads" not in figures:
            rows.append([labels[mode], figures.get("skipped", "skipped"), *[""] * 9])
            continue
        label = labels[mode]
        if mode == "full_refresh":
            label += f", {figures.get('reader_seconds', '-')} s of readers"
            if figures.get("build_outlasted_readers"):
                label += ", the build outlasted them"
        rows.append(
            [
                label,
                f"{figures['reads_per_s']:,.1f}",
                fmt.ms(figures["latency"].get("p50_ms")),
                fmt.ms(figures["latency"].get("p99_ms")),
                fmt.ms(figures["longest_read_ms"]),
                fmt.ms(figures["longest_stall_ms"]),
                str(figures["refreshes"]),
                str(figures["max_readers_waiting_on_lock"]),
                fmt.ms(figures["longest_lock_wait_ms"]),
                str(figures["errors"]),
                str(figures.get("deadlocks", 0)),
            ]
        )
    return format_table(
        [
            "refresh",
            "reads/s",
            "p50",
            "p99",
            "longest read",
            "longest stall",
            "refreshes",
            "readers waiting on a lock (max)",
            "longest lock wait",
            "errors",
            "deadlocks",
        ],
        rows,
        title=f"3. Reads under refresh: {reads['readers']} readers for {reads['seconds']} s run the"
        f" dashboard mix while {reads['relation']} ({reads['rows']:,} rows) is refreshed back to"
        " back, then during one full-refresh build (stall: a read's time minus the control median"
        " of the same query; errors must be 0)",
    )


def _refused_row(row: Mapping[str, Any]) -> list[str]:
    return [str(row["clients"]), "-", "-", "-", "-", "-", "-", row["refused"]]


def throughput_table(report: Mapping[str, Any]) -> str:
    rows = [
        _refused_row(row)
        if row.get("refused")
        else [
            str(row["clients"]),
            f"{row['queries_per_s']:,.1f}",
            fmt.ms(row["latency"].get("p50_ms")),
            fmt.ms(row["latency"].get("p95_ms")),
            fmt.ms(row["latency"].get("p99_ms")),
            str(row["errors"]),
            f"{row['point_reads_per_s']:,.0f}" if row.get("point_reads_per_s") else "-",
            fmt.pct(row.get("mix_over_point_reads")),
        ]
        for row in report["throughput"]
    ]
    return format_table(
        [
            "clients",
            "queries/s",
            "p50",
            "p95",
            "p99",
            "errors",
            "pgbench -S reads/s",
            "mix / point reads",
        ],
        rows,
        title=f"4. Throughput: the dashboard mix through pgbench (closed loop),"
        f" {report['parameters']['throughput_seconds']} s per client count, beside pgbench's"
        " own primary-key point read at the same count (the ceiling of any read here)",
    )


def _load_table(load: Mapping[str, Any]) -> str:
    return format_table(
        [
            "readers",
            "seconds",
            "tier",
            "tier refreshes (dbt run)",
            "reads",
            "reads/s",
            "p99",
            "errors",
        ],
        [
            [
                str(load["readers"]),
                str(load["seconds"]),
                f"{load['tier']}: {', '.join(load['models'])}",
                f"{load['tier_refreshes']} ({len(load['refresh_errors'])} failed)",
                f"{load['reads']:,}",
                f"{load['reads_per_s']:,.1f}",
                fmt.ms(load["latency"].get("p99_ms")),
                str(load["errors"]),
            ]
        ],
        title="5. Load: readers while dbt refreshes a whole tier (reader errors must be 0)",
    )


def _scaling_table(report: Mapping[str, Any]) -> str:
    scaling = report["scaling"]
    per_scale = scaling["per_scale"]
    ratios = scaling["ratios"]
    headers = [
        "measure",
        *[f"scale {figures['scale']}" for figures in per_scale],
        *[f"x{item['to_scale']} / x{item['from_scale']}" for item in ratios],
    ]
    rows = [
        [
            "source rows",
            *[f"{figures['source_rows']:,}" for figures in per_scale],
            *[fmt.times(item["data"]) for item in ratios],
        ],
        [
            "largest view rows",
            *[f"{figures['largest_view_rows'] or 0:,}" for figures in per_scale],
            *["" for _ in ratios],
        ],
        [
            "demo data load",
            *[fmt.secs(figures["load_s"]) for figures in per_scale],
            *["" for _ in ratios],
        ],
        [
            "dbt build of the marts (no tests)",
            *[fmt.secs(figures["build_s"]) for figures in per_scale],
            *[fmt.times(item["build"]) for item in ratios],
        ],
        [
            "refresh all views and incremental marts",
            *[fmt.secs(figures["refresh_total_s"]) for figures in per_scale],
            *[fmt.times(item["refresh_total"]) for item in ratios],
        ],
        [
            "the same, plain REFRESH and full rebuilds",
            *[fmt.secs(figures["refresh_total_plain_s"]) for figures in per_scale],
            *[fmt.times(item.get("refresh_total_plain")) for item in ratios],
        ],
    ]
    for name in [row["benchmark"] for row in report["queries"]]:
        for side in ("mart", "raw"):
            rows.append(
                [
                    f"{name} p95 {side}",
                    *[
                        fmt.ms(figures["queries"].get(name, {}).get(f"{side}_p95_ms"))
                        for figures in per_scale
                    ],
                    *[
                        fmt.times(item["queries"].get(name, {}).get(f"{side}_p95"))
                        for item in ratios
                    ],
                ]
            )
    return format_table(
        headers, rows, title="6. Scaling: each scale in its own database ('-' load: data reused)"
    )


def render_markdown(report: Mapping[str, Any]) -> str:
    params = report["parameters"]
    machine = report["machine"]
    versions = report["versions"]
    parts = [
        f"## Value View benchmark: scale {params['scale']}, seed {params['seed']},"
        f" as of {params['as_of']}\n\n"
        f"Machine: {machine.get('cpu_count')} CPUs ({machine.get('cpu_model', '?')}),"
        f" {(machine.get('memory_bytes') or 0) / 2**30:.1f} GiB RAM, {machine.get('platform')};"
        f" PostgreSQL {versions.get('postgres')} ({versions.get('server_source')}),"
        f" dbt {versions.get('dbt-core')}, Python {versions.get('python')}.\n"
        f"Command: `{report['command']}`",
        _query_table(report),
        _refresh_table(report),
    ]
    if (report.get("incremental") or {}).get("marts"):
        parts.append(incremental_table(report))
        if any(len(row.get("sweep") or []) > 1 for row in report["incremental"]["marts"]):
            parts.append(sweep_table(report))
    if report.get("tiers"):
        parts.append(tiers_table(report))
    if report.get("reads_under_refresh"):
        parts.append(readers_table(report["reads_under_refresh"]))
    if report.get("throughput"):
        parts.append(throughput_table(report))
    if report.get("load"):
        parts.append(_load_table(report["load"]))
    parts.append(_scaling_table(report))
    parts.append(
        format_table(
            ["measure", "Value View", "compared with", "ratio", "target", "met", "why"],
            summary_rows(report),
            title="Summary: how fast, compared with what, and why",
        )
    )
    parts.append(
        format_table(
            ["ambition", "measured", "met"],
            [
                [item["ambition"], item["actual"], fmt.yes(item["met"])]
                for item in report["ambitions"]
            ],
            title="Ambitions",
        )
    )
    if report["failures"]:
        parts.append("\nFAILURES:\n" + "\n".join(f"- {failure}" for failure in report["failures"]))
    return "\n".join(parts) + "\n"
