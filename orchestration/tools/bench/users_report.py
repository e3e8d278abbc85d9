"""The report of a ``--users`` run: the users on the primary and through the pooler, each
dashboard query's p95 against its budget, the closed-loop throughput beside ``pgbench -S``, as
Markdown (terminal and ``bench.md``) and a chart (``bench.png``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from orchestration.lib.report import format_table
from orchestration.tools.bench import fmt

LABELS = {"primary": "direct to the primary", "pooler": "through the pooler"}
# The specification's load goal for the closed loop: every dashboard query within its budget
# with this many clients querying without pause.
CLOSED_LOOP_GOAL_CLIENTS = 64


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


def _closed_loop_per_query_table(report: Mapping[str, Any]) -> str | None:
    """Each query's p95 at each closed-loop client count that ran, against its budget; the
    verdict at ``CLOSED_LOOP_GOAL_CLIENTS`` (or the largest count below it that ran)."""
    runs = [row for row in report.get("throughput") or [] if not row.get("refused")]
    if not runs:
        return None
    judged = closed_loop_judged_run(runs)
    rows = []
    for row in report["users"]["per_query"]:
        name, budget = row["benchmark"], row["budget_ms"]
        judged_p95 = (judged.get("per_query_p95_ms") or {}).get(name)
        rows.append(
            [
                name,
                *[fmt.ms((run.get("per_query_p95_ms") or {}).get(name)) for run in runs],
                fmt.budget(budget),
                fmt.yes(None if budget is None or judged_p95 is None else judged_p95 <= budget),
            ]
        )
    return format_table(
        [
            "benchmark",
            *[f"p95 at {run['clients']} clients" for run in runs],
            "budget",
            f"within at {judged['clients']}",
        ],
        rows,
        title="Each dashboard query's p95 in the closed loop on the primary, against its budget"
        f" (the goal: within it at {CLOSED_LOOP_GOAL_CLIENTS} clients; past that, clients queue"
        " for 2 cores)",
    )


def closed_loop_judged_run(runs: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    """The closed-loop run the budgets are held to: the largest count up to the goal's."""
    within_goal = [run for run in runs if run["clients"] <= CLOSED_LOOP_GOAL_CLIENTS]
    return max(within_goal or runs[:1], key=lambda run: run["clients"])


def render_users_markdown(report: Mapping[str, Any], throughput_table: str) -> str:
    users = report["users"]
    parts = [
        f"## Value View benchmark: {users['users']:,} BI users on {report['database']}\n\n"
        f"Command: `{report['command']}`",
        _sides_table(users),
        _per_query_table(users),
        throughput_table,
    ]
    closed_loop = _closed_loop_per_query_table(report)
    if closed_loop:
        parts.append(closed_loop)
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
    unanswered: list[str] = []
    for offset, side in zip((-0.2, 0.2), users["sides"], strict=False):
        # A path that answered no query (every user refused) draws no bar, and says so.
        measured = [
            (position + offset, row.get(f"{side['target']}_p95_ms"))
            for position, row in zip(positions, users["per_query"], strict=True)
        ]
        measured = [(position, value) for position, value in measured if value is not None]
        label = f"p95 {LABELS.get(side['target'], side['target'])}"
        if not measured:
            unanswered.append(f"{label}: no query answered ({side['errors']:,} errors)")
            continue
        left.barh(
            [position for position, _ in measured],
            [max(value, 1e-2) for _, value in measured],
            height=0.38,
            color=colours.get(side["target"], "#888888"),
            label=label,
        )
    for position, row in zip(positions, users["per_query"], strict=True):
        if row["budget_ms"]:
            left.plot([row["budget_ms"]] * 2, [position - 0.45, position + 0.45], color="#d62728")
    left.set_yticks(positions, names)
    left.set_xscale("log")
    left.set_xlabel("p95 latency (ms, log scale); red: budget")
    left.set_title(
        "\n".join(
            [
                f"{users['users']:,} users, think time"
                f" {users['think_s'][0]:g}-{users['think_s'][1]:g} s",
                *unanswered,
            ]
        )
    )
    left.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2)
    throughput = [row for row in report.get("throughput") or [] if not row.get("refused")]
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


def closed_loop_failures(report: Mapping[str, Any]) -> list[str]:
    """A dashboard query whose closed-loop p95 at ``CLOSED_LOOP_GOAL_CLIENTS`` is over its
    budget (only when that count ran); errors in any closed-loop run."""
    runs = [row for row in report.get("throughput") or [] if not row.get("refused")]
    failures = [
        f"closed loop: {run['errors']} errors at {run['clients']} clients"
        for run in runs
        if run["errors"]
    ]
    goal = next((run for run in runs if run["clients"] == CLOSED_LOOP_GOAL_CLIENTS), None)
    if goal is None:
        return failures
    for row in report["users"]["per_query"]:
        p95, budget = (goal.get("per_query_p95_ms") or {}).get(row["benchmark"]), row["budget_ms"]
        if budget is not None and (p95 is None or p95 > budget):
            failures.append(
                f"closed loop: {row['benchmark']} p95 {fmt.ms(p95)} at"
                f" {CLOSED_LOOP_GOAL_CLIENTS} clients, over its {fmt.budget(budget)} budget"
            )
    return failures
