"""How the bench writes its figures for a person: '3.21 ms', '1.8 s', '68x faster', '12.5%',
and '-' for a figure that was not measured."""

from __future__ import annotations

from collections.abc import Sequence


def ms(value: float | None) -> str:
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


def secs(value: float | None) -> str:
    return "-" if value is None else ms(value * 1000.0)


def span(seconds: Sequence[float] | None) -> str:
    """A spec estimate in seconds as the spec writes it: '5 s', '3.8-9.8 min'."""
    if not seconds:
        return "-"
    low, high = seconds
    if high < 60:
        return f"{low:g} s" if low == high else f"{low:g}-{high:g} s"
    return f"{low / 60:.1f}-{high / 60:.1f} min"


def times(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}x" if value >= 10 else f"{value:.1f}x"


def speed(value: float | None) -> str:
    """A raw/mart ratio as words: '68x faster', '2.5x slower'."""
    if value is None:
        return "-"
    if value >= 1:
        return f"{times(value)} faster"
    return f"{times(1 / value)} slower"


def budget(value: float | None) -> str:
    return "-" if value is None else f"{value:g} ms"


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def yes(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "NO")
