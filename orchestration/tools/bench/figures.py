"""The bench's arithmetic: latency summaries, ratios, and the spec's refresh estimates in
seconds."""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence

from orchestration.lib.measure import percentile


def latency_summary(samples_ms: Sequence[float]) -> dict[str, float]:
    """n, p50, p95, p99, max and mean of latencies in milliseconds (interpolated percentiles)."""
    if not samples_ms:
        return {"n": 0}
    return {
        "n": len(samples_ms),
        "p50_ms": round(percentile(samples_ms, 0.50), 3),
        "p95_ms": round(percentile(samples_ms, 0.95), 3),
        "p99_ms": round(percentile(samples_ms, 0.99), 3),
        "max_ms": round(max(samples_ms), 3),
        "mean_ms": round(statistics.fmean(samples_ms), 3),
    }


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return round(numerator / denominator, 3)


def parse_estimate(text: str | None) -> tuple[float, float] | None:
    """'2-5 min' -> (120, 300); '5 sec' -> (5, 5); None for anything else."""
    if not text:
        return None
    match = re.fullmatch(
        r"\s*([\d.]+)\s*(?:-\s*([\d.]+))?\s*(s|sec|secs|seconds|min|mins|minutes)\s*", text
    )
    if not match:
        return None
    unit = 60.0 if match.group(3).startswith("min") else 1.0
    low = float(match.group(1)) * unit
    high = float(match.group(2) or match.group(1)) * unit
    return low, high
