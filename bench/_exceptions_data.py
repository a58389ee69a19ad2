"""The exceptions benchmark's data: N open exceptions over every flow, first seen over 30 days, recorded in pages."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

from store import Store
from store import exceptions as exc

__all__ = ["AS_OF", "bench_key", "occurrences", "seed"]

AS_OF = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
"""The instant the escalations and queries run at: a Friday, so first-seen days span weekends too."""
RECORD_PAGE = 500

MIX: tuple[tuple[str, str, str, int], ...] = (
    # flow, system, kind, weight out of 100: posting dominates, as it does in a firm's day
    ("posting", "netsuite", "time_entry", 40),
    ("posting", "netsuite", "expense", 8),
    ("posting", "netsuite", "rate_change", 2),
    ("provisioning", "kantata", "engagement", 6),
    ("invoicing", "netsuite", "invoice", 6),
    ("reconciliation", "netsuite", "hours_mismatch", 12),
    ("reconciliation", "netsuite", "not_posted", 10),
    ("reconciliation", "netsuite", "amount_mismatch", 6),
    ("reconciliation", "netsuite", "project_mismatch", 2),
    ("amendment", "kantata", "amendment", 2),
    ("resources", "kantata", "consultant", 6),
)
SLOTS = [row for row in MIX for _ in range(row[3])]

Say = Callable[[str], None]


def bench_key(number: int) -> str:
    """The business key of the benchmark's ``number``-th exception."""
    return f"bench:{number:07d}"


def occurrences(count: int) -> Iterator[tuple[datetime, list[exc.Occurrence]]]:
    """``count`` distinct occurrences in pages of ``RECORD_PAGE``, each page with the instant it was first seen."""
    for start in range(0, count, RECORD_PAGE):
        days_ago = (start // RECORD_PAGE) % 30
        seen = AS_OF - timedelta(days=days_ago, hours=1)
        page = []
        for number in range(start, min(start + RECORD_PAGE, count)):
            flow, system, kind, _ = SLOTS[number % len(SLOTS)]
            business_date = (seen - timedelta(days=1)).date()
            page.append(
                exc.Occurrence(
                    flow=flow,
                    system=system,
                    kind=kind,
                    business_key=bench_key(number),
                    reason="bench",
                    message=f"benchmark exception {number}",
                    values={"psa": {"hours": "7.5"}, "erp": {"hours": "7.0"}},
                    records=[{"system": system, "type": kind, "id": str(number)}],
                    business_date=business_date,
                )
            )
        yield seen, page


def seed(store: Store, count: int, say: Say) -> float:
    """Record ``count`` open exceptions; returns the seconds it took."""
    started = time.perf_counter()
    for number, (seen, page) in enumerate(occurrences(count)):
        exc.record(store, page, run_id=f"bench-seed-{number}", actor="bench", now=seen)
        if (number + 1) % 40 == 0:
            say(f"  {(number + 1) * RECORD_PAGE} recorded")
    return time.perf_counter() - started
