"""The bench's arithmetic (latency summaries, ratios, the spec's refresh estimates) and how its
figures are written for a person: '3.21 ms', '1.8 s', '68x faster', '12.5%'."""

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


def fmt_ms(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 10_000:
        return f"{value / 1000:,.1f} s"
    if value >= 1000:
        return f"{value / 1000:,.2f} s"
    if value >= 100:
        return f"{value:,.0f} ms"
    if value >= 10:
        return f"{value:.1f} ms"
    return f"{value:.2f} ms"


def fmt_secs(value: float | None) -> str:
    return "-" if value is None else fmt_ms(value * 1000.0)


def fmt_span(seconds: Sequence[float] | None) -> str:
    """A spec estimate in seconds as the spec writes it: '5 s', '3.8-9.8 min'."""
    if not seconds:
        return "-"
    low, high = seconds
    if high < 60:
        return f"{low:g} s" if low == high else f"{low:g}-{high:g} s"
    return f"{low / 60:.1f}-{high / 60:.1f} min"


def fmt_times(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}x" if value >= 10 else f"{value:.1f}x"


def fmt_speed(value: float | None) -> str:
    """A raw/mart ratio as words: '68x faster', '2.5x slower'."""
    if value is None:
        return "-"
    if value >= 1:
        return f"{fmt_times(value)} faster"
    return f"{fmt_times(1 / value)} slower"


def fmt_budget(value: float | None) -> str:
    return "-" if value is None else f"{value:g} ms"


def fmt_pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def fmt_yes(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "NO")
