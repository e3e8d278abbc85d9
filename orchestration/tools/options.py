"""Command-line values shared by the tools: what a scale, a seed or a date may be, and the one
error a bad value raises (printed as one line)."""

from __future__ import annotations

import datetime as dt

DEFAULT_SEED = 42
MAX_SCALE = 1000
MAX_HISTORY_DAYS = 3650
MAX_TENANTS_PER_SCALE = 12  # a large tenant splits at most into its business functions
# Anchor dates the demo data can be generated around (it reaches years back and months ahead).
MIN_AS_OF = dt.date(1970, 1, 1)
MAX_AS_OF = dt.date(9000, 12, 31)


class UsageError(ValueError):
    """A bad command-line value; printed as one line."""


def parse_scale(raw: str) -> int:
    try:
        scale = int(raw)
    except ValueError:
        scale = None
    if scale is None or not 1 <= scale <= MAX_SCALE:
        raise UsageError(f"--scale must be a whole number from 1 to {MAX_SCALE}, got {raw!r}")
    return scale


def parse_tenants(raw: str, scale: int) -> int:
    most = scale * MAX_TENANTS_PER_SCALE + 1
    try:
        tenants = int(raw)
    except ValueError:
        tenants = None
    if tenants is None or not scale + 1 <= tenants <= most:
        raise UsageError(
            f"--tenants must be a whole number from {scale + 1} to {most} at scale {scale},"
            f" got {raw!r}"
        )
    return tenants


def parse_history_days(raw: str) -> int:
    try:
        days = int(raw)
    except ValueError:
        days = None
    if days is None or not 0 <= days <= MAX_HISTORY_DAYS:
        raise UsageError(
            f"--history-days must be a whole number from 0 to {MAX_HISTORY_DAYS}, got {raw!r}"
        )
    return days


def parse_seed(raw: str) -> int:
    try:
        seed = int(raw)
    except ValueError:
        raise UsageError(f"--seed must be a non-negative whole number, got {raw!r}") from None
    if not 0 <= seed < 2**63:
        raise UsageError(f"--seed must be a non-negative whole number below 2**63, got {seed}")
    return seed


def parse_date(raw: str) -> dt.date:
    try:
        date = dt.date.fromisoformat(raw)
    except ValueError:
        raise UsageError(f"--as-of must be a date as YYYY-MM-DD, got {raw!r}") from None
    if not MIN_AS_OF <= date <= MAX_AS_OF:
        raise UsageError(f"--as-of must be from {MIN_AS_OF} to {MAX_AS_OF}, got {raw}")
    return date
