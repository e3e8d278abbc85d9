"""The report of a ``--users`` run: the users on the primary and through the pooler, each
dashboard query's p95 against its budget, the closed-loop throughput beside ``pgbench -S``, as
Markdown (terminal and ``bench.md``) and a chart (``bench.png``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from orchestration.lib.report import format_table
from orchestration.tools.bench import fmt

LABELS = {"primary": "direct to the primary", "pooler": "through the pooler"}


def _sides_table(users: Mapping[str, Any]) -> str:
    rows = []
    for side in users["sides"]:
        latency = side.get("latency") or {}
        rows.append(
            [
                LABELS.get(side["target"], side["target"]),
                f"{side['users']:,}",
                str(side["server_connections"]),
                f"{side.get('queries_per_s', 0):,.1f}",
                fmt.ms(latency.get("p50_ms")),
                fmt.ms(latency.get("p95_ms")),
                fmt.ms(latency.get("p99_ms")),
                f"{side['errors']:,}",
                fmt.secs(side.get("replica_lag_s")),
                side.get("error") or "",
            ]
        )
    return format_table(
        [
            "path",
            "users",
            "server connections (peak)",
            "queries/s",
            "p50",
            "p95",
            "p99",
            "errors",
            "replica lag",
            "first error",
        ],
        rows,
        title=f"Users: {users['users']:,} concurrent BI users for {users['seconds']} s, each on"
        f" its own connection, one dashboard query every {users['think_s'][0]:g}-"
        f"{users['think_s'][1]:g} s (pooler {users['pooler']} in front of"
        f" {users['pooler_backend']}, {users['pool_size']} server connections per login)",
    )


def _per_query_table(users: Mapping[str, Any]) -> str:
    targets = [side["target"] for side in users["sides"]]
    rows = []
    for row in users["per_query"]:
        budget = row["budget_ms"]
        pooled = row.get("pooler_p95_ms")
        rows.append(
            [
                row["benchmark"],
                *[fmt.ms(row.get(f"{target}_p95_ms")) for target in targets],
                fmt.budget(budget),
                fmt.yes(None if budget is None or pooled is None else pooled <= budget),
            ]
        )
    return format_table(
        ["benchmark", *[f"p95 {LABELS.get(t, t)}" for t in targets], "budget", "within"],
        rows,
        title="Each dashboard query's p95 under the users, against its budget",
    )


def render_users_markdown(report: Mapping[str, Any], throughput_table: str) -> str:
    users = report["users"]
    parts = [
        f"## Value View benchmark: {users['users']:,} BI users on {report['database']}\n\n"
        f"Command: `{report['command']}`",
        _sides_table(users),
        _per_query_table(users),
        throughput_table,
    ]
    failures = report.get("failures") or []
    parts.append("Result: " + ("every gate holds" if not failures else "; ".join(failures)) + "\n")
    return "\n\n".join(parts)


def write_users_chart(report: Mapping[str, Any], path: Path) -> None:
    """Per query p95 on each path against its budget; throughput beside pgbench -S."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    users = report["users"]
    figure, (left, right) = plt.subplots(1, 2, figsize=(15, 6))
    names = [row["benchmark"] for row in users["per_query"]]
    positions = list(range(len(names)))
    colours = {"primary": "#b8b8b8", "pooler": "#2b7bba"}
    for offset, side in zip((-0.2, 0.2), users["sides"], strict=False):
        values = [
            max(row.get(f"{side['target']}_p95_ms") or 0.0, 1e-2) for row in users["per_query"]
        ]
        left.barh(
            [p + offset for p in positions],
            values,
            height=0.38,
            color=colours.get(side["target"], "#888888"),
            label=f"p95 {LABELS.get(side['target'], side['target'])}",
        )
    for position, row in zip(positions, users["per_query"], strict=True):
        if row["budget_ms"]:
            left.plot([row["budget_ms"]] * 2, [position - 0.45, position + 0.45], color="#d62728")
    left.set_yticks(positions, names)
    left.set_xscale("log")
    left.set_xlabel("p95 latency (ms, log scale); red: budget")
    left.set_title(
        f"{users['users']:,} users, think time {users['think_s'][0]:g}-{users['think_s'][1]:g} s"
    )
    left.legend(loc="lower right")
    throughput = report.get("throughput") or []
    clients = [str(row["clients"]) for row in throughput]
    right.plot(
        clients, [row["queries_per_s"] for row in throughput], marker="o", label="dashboard mix"
    )
    right.plot(
        clients,
        [row.get("point_reads_per_s") or 0 for row in throughput],
        marker="s",
        label="pgbench -S (point read)",
    )
    right.set_yscale("log")
    right.set_xlabel("closed-loop clients")
    right.set_ylabel("queries/s (log scale)")
    right.set_title("Throughput beside the point-read ceiling")
    right.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
