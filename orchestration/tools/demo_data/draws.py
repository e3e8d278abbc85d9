"""Small helpers shared by the generated world and the row generators: identifiers drawn from a
random stream, scores in hundredths, and the ODI opportunity formula."""

from __future__ import annotations

import random
import re
import uuid


def new_uuid(rng: random.Random) -> str:
    """A version-4 UUID drawn from ``rng`` (so the same stream gives the same ids)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def hundredths(value: int) -> str:
    """A non-negative number of hundredths as a two-decimal string."""
    return f"{value // 100}.{value % 100:02d}"


def clamp(value: int, low: int = 0, high: int = 1000) -> int:
    return low if value < low else high if value > high else value


def spread(rng: random.Random, total: int, buckets: int) -> list[int]:
    """``total`` split over ``buckets`` as evenly as possible, the remainder placed at random."""
    base, extra = divmod(total, buckets)
    counts = [base] * buckets
    for index in rng.sample(range(buckets), extra):
        counts[index] += 1
    return counts


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def odi_opportunity(importance: int, satisfaction: int) -> tuple[int, str]:
    """ODI opportunity and its classification, scores in hundredths (0-1000 each).

    opportunity = importance + max(importance - satisfaction, 0); classified, in this order:
    >= 15 highly_underserved, >= 10 underserved, satisfaction > importance overserved, else
    appropriately_served.
    """
    opportunity = importance + max(importance - satisfaction, 0)
    if opportunity >= 1500:
        return opportunity, "highly_underserved"
    if opportunity >= 1000:
        return opportunity, "underserved"
    if satisfaction > importance:
        return opportunity, "overserved"
    return opportunity, "appropriately_served"
