"""The chart of a run (``bench.png``): p95 latency of each dashboard query on the mart and on
the raw tables against its budget, and every read over time under plain and concurrent refresh."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from orchestration.tools.bench import fmt
from orchestration.tools.bench.ambitions import AMBITION_STALL_MS

# pgbench logs latencies in whole microseconds, some as 0: the chart's log axis starts here.
LATENCY_FLOOR_MS = 0.05


def write_chart(report: Mapping[str, Any], points: Mapping[str, Any], path: Path) -> None:
    """Latency against budget per query, and the reads-under-refresh timeline."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    queries = report["queries"]
    figure = plt.figure(figsize=(14, 11))
    grid = figure.add_gridspec(2, 2, height_ratios=[1.2, 1.0])
    axis = figure.add_subplot(grid[0, :])
    names = [row["benchmark"] for row in queries]
    positions = list(range(len(names)))
    mart = [max(row["mart"].get("p95_ms") or 0.0, 1e-3) for row in queries]
    raw = [max(row["raw"].get("p95_ms") or 0.0, 1e-3) for row in queries]
    axis.barh([p - 0.2 for p in positions], mart, height=0.38, color="#2b7bba", label="mart p95")
    axis.barh(
        [p + 0.2 for p in positions], raw, height=0.38, color="#b8b8b8", label="raw tables p95"
    )
    labelled = False
    for position, row in zip(positions, queries, strict=True):
        if row["p95_budget_ms"]:
            axis.plot(
                [row["p95_budget_ms"]] * 2,
                [position - 0.45, position + 0.45],
                color="#d62728",
                linewidth=2.5,
                label=None if labelled else "spec p95 budget",
            )
            labelled = True
        axis.text(
            max(mart[position], raw[position]) * 1.15,
            position,
            fmt.speed(row["speedup_p95"]),
            va="center",
            fontsize=9,
        )
    axis.set_xscale("log")
    if queries:
        axis.set_xlim(right=max(mart + raw) * 8)
    axis.set_yticks(positions, names)
    axis.invert_yaxis()
    axis.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=3, frameon=False)
    axis.set_xlabel("p95 latency, ms (log scale)")
    axis.set_title(
        f"Dashboard queries at scale {report['parameters']['scale']}: mart vs raw tables,"
        " against the spec budget",
        pad=28,
    )

    reads = report.get("reads_under_refresh") or {}
    titles = {"plain": "plain REFRESH", "concurrently": "REFRESH CONCURRENTLY"}
    for column, mode in enumerate(titles):
        axis = figure.add_subplot(grid[1, column])
        data = points.get(mode)
        if data and data["reads"]:
            for start, end in data["refreshes"]:
                axis.axvspan(start, end, color="#ffbf00", alpha=0.25, linewidth=0)
                axis.axvline(start, color="#c08a00", linewidth=0.6)
            axis.scatter(
                [point[0] for point in data["reads"]],
                [max(point[1], LATENCY_FLOOR_MS) for point in data["reads"]],
                s=3,
                alpha=0.5,
                color="#d62728" if mode == "plain" else "#2b7bba",
            )
            axis.axhline(AMBITION_STALL_MS, color="#555555", linestyle="--", linewidth=1)
            axis.set_yscale("log")
            axis.set_ylim(bottom=LATENCY_FLOOR_MS)
        else:
            axis.text(0.5, 0.5, "not measured", ha="center", va="center", transform=axis.transAxes)
        axis.set_xlabel("seconds since the readers started (shaded: refreshes, one per line)")
        axis.set_ylabel("read latency, ms (log); dashed: 50 ms")
        axis.set_title(
            f"{titles[mode]}: {reads.get('readers', '-')} readers\n"
            f"{reads.get('relation', '-')} refreshed back to back",
            fontsize=10,
        )
    figure.tight_layout(h_pad=4.0)
    figure.savefig(path, dpi=110)
    plt.close(figure)
