"""Phase 6: scaling. Build, refresh and query p95 at each scale of ``--scales`` (each in its own
database), and how they grew against the smallest scale."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from orchestration.tools.bench.figures import ratio
from orchestration.tools.bench.warehouse import Warehouse


def scale_figures(
    warehouse: Warehouse,
    queries: Sequence[Mapping[str, Any]],
    refresh: Mapping[str, Any],
    incremental: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One scale's figures from its warehouse and its query and refresh phases: the refresh total
    is every materialized view's refresh plus every incremental mart's refresh after its declared
    change (what the tiers run), and the full rebuilds of those marts are kept beside it."""
    incremental = incremental or {"total_changed_s": 0.0, "total_full_s": 0.0}
    largest = max(warehouse.views, key=lambda view: view.rows, default=None)
    return {
        "scale": warehouse.scale,
        "database": warehouse.settings.dbname,
        "source_rows": warehouse.source_rows,
        "largest_view": largest.name if largest else None,
        "largest_view_rows": largest.rows if largest else None,
        "load_s": round(warehouse.load_seconds, 3) if warehouse.load_seconds is not None else None,
        "build_s": round(warehouse.build_seconds, 3),
        "refresh_total_s": round(refresh["total_production_s"] + incremental["total_changed_s"], 4),
        "refresh_total_plain_s": round(refresh["total_plain_s"] + incremental["total_full_s"], 4),
        "incremental_full_s": incremental["total_full_s"],
        "views": {
            row["relation"]: {
                "plain_s": row["plain_s"],
                "concurrent_s": row["concurrent_s"],
                "concurrent_over_plain": ratio(row["concurrent_s"], row["plain_s"]),
            }
            for row in refresh.get("views", [])
        },
        "incremental": {
            row["relation"]: {
                "full_s": row["full_s"],
                "fraction": row["fraction"],
                "changed_s": row["changed_s"],
                "changed_over_full": row["changed_over_full"],
                "view_concurrent_s": (row.get("as_view") or {}).get("concurrent_s"),
                "changed_over_view_refresh": row.get("changed_over_view_refresh"),
            }
            for row in incremental.get("marts", [])
        },
        "queries": {
            row["benchmark"]: {
                "mart_p95_ms": row["mart"].get("p95_ms"),
                "raw_p95_ms": row["raw"].get("p95_ms"),
                "speedup_p95": row["speedup_p95"],
                "budget_fraction": row["budget_fraction"],
                "rows": row["rows"],
            }
            for row in queries
        },
    }


def scaling_ratios(per_scale: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each step from one scale to the next (1 to 10, 10 to 30): how the data, the build, the
    refreshes and each p95 grew over that step."""
    ratios = []
    for base, other in itertools.pairwise(per_scale):
        ratios.append(
            {
                "from_scale": base["scale"],
                "to_scale": other["scale"],
                "data": ratio(other["source_rows"], base["source_rows"]),
                "build": ratio(other["build_s"], base["build_s"]),
                "refresh_total": ratio(other["refresh_total_s"], base["refresh_total_s"]),
                "refresh_total_plain": ratio(
                    other["refresh_total_plain_s"], base["refresh_total_plain_s"]
                ),
                "queries": {
                    name: {
                        "mart_p95": ratio(
                            figures["mart_p95_ms"],
                            base["queries"].get(name, {}).get("mart_p95_ms"),
                        ),
                        "raw_p95": ratio(
                            figures["raw_p95_ms"],
                            base["queries"].get(name, {}).get("raw_p95_ms"),
                        ),
                    }
                    for name, figures in other["queries"].items()
                },
            }
        )
    return ratios
