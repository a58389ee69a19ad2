"""Project bookings (Kantata ``workspace_allocations``; see research apis-round2 §1 [K7] and the
emulator's ``_allocations``): a leaver's future ones go while history stays, and the hours people
are booked over a range, for staffing.

An allocation belongs to a workspace resource (a user on a workspace) and holds ``minutes`` for its
whole ``start_date`` .. ``end_date``; the user is read from the side-loaded resource.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import date, timedelta
from decimal import Decimal

from connectors.kantata._base import KantataBase
from connectors.kantata.models import Id, RawAllocation, RawRecord

USER_IDS_PER_REQUEST = 100
"""User ids per listing: keeps the query string short for a large team."""
HOUR = Decimal(60)
CENT = Decimal("0.01")


class _BookedAllocation(RawAllocation):
    workspace_resource_id: Id | None = None


class _WorkspaceResource(RawRecord):
    user_id: Id | None = None


def business_days(start: date, end: date) -> int:
    """Monday-to-Friday days from ``start`` to ``end``, inclusive (0 when ``end`` is before ``start``)."""
    if end < start:
        return 0
    weeks, extra = divmod((end - start).days + 1, 7)
    return weeks * 5 + sum(1 for n in range(extra) if (start + timedelta(days=n)).weekday() < 5)


def booked_share(allocation: RawAllocation, start: date, end: date) -> Decimal:
    """The minutes of ``allocation`` that fall on ``start`` .. ``end``: spread evenly over its business
    days (over all its days when it has none, a weekend booking), unrounded."""
    low, high = max(start, allocation.start_date), min(end, allocation.end_date)
    if high < low:
        return Decimal(0)
    total = business_days(allocation.start_date, allocation.end_date)
    inside = business_days(low, high)
    if total == 0:
        total, inside = (allocation.end_date - allocation.start_date).days + 1, (high - low).days + 1
    return Decimal(allocation.minutes) * inside / total


class AllocationMethods(KantataBase):
    """End a user's project allocations on their last day; sum who is booked when."""

    async def allocated_hours(
        self, start: date, end: date, user_ids: Collection[str] | None = None
    ) -> dict[str, Decimal]:
        """Hours each user is booked on projects from ``start`` to ``end`` (inclusive), by Kantata user id.

        Each allocation overlapping the range counts with its share of the range (see `booked_share`);
        a user's hours are rounded once, to the cent. Users with no booking in the range are absent.

        Args:
            user_ids: Only these users (sent ``USER_IDS_PER_REQUEST`` at a time); None: everyone booked.
        """
        if end < start:
            raise ValueError(f"end {end} is before start {start}")
        params = {"overlaps_with_date_range": f"{start.isoformat()}:{end.isoformat()}", "include": "workspace_resource"}
        wanted = sorted(set(user_ids)) if user_ids is not None else None
        chunks = (
            [None]
            if wanted is None
            else [wanted[i : i + USER_IDS_PER_REQUEST] for i in range(0, len(wanted), USER_IDS_PER_REQUEST)]
        )
        minutes: dict[str, Decimal] = defaultdict(Decimal)
        for chunk in chunks:
            query = params if chunk is None else {**params, "user_ids": ",".join(chunk)}
            async for envelope in self._envelopes("/workspace_allocations.json", query):
                resources = envelope.side_loaded("workspace_resources", _WorkspaceResource)
                for allocation in envelope.primary("workspace_allocations", _BookedAllocation):
                    resource = resources.get(allocation.workspace_resource_id or "")
                    if resource is None or resource.user_id is None:
                        continue  # a placeholder booking (no person yet) takes nobody's time
                    minutes[resource.user_id] += booked_share(allocation, start, end)
        return {user: (total / HOUR).quantize(CENT) for user, total in minutes.items() if total}

    async def remove_future_allocations(self, user_id: str, last_day: date) -> int:
        """Delete the user's allocations that start after ``last_day`` and end the ones running past it.

        An allocation that straddles the last day keeps its past part: its end moves to
        ``last_day`` and its minutes shrink in proportion to the days kept. Allocations that
        ended by ``last_day`` are untouched. Returns how many allocations changed; a second run
        changes none.
        """
        after = last_day + timedelta(days=1)
        params = {"user_ids": user_id, "overlaps_with_date_range": f"{after.isoformat()}:"}
        found: list[RawAllocation] = []
        async for envelope in self._envelopes("/workspace_allocations.json", params):
            found += envelope.primary("workspace_allocations", RawAllocation)
        for allocation in found:
            if allocation.start_date > last_day:
                await self.client.delete(f"/workspace_allocations/{allocation.id}.json", allow={404})
                continue
            days = (allocation.end_date - allocation.start_date).days + 1
            kept = (last_day - allocation.start_date).days + 1
            body = {"end_date": last_day.isoformat(), "minutes": allocation.minutes * kept // days}
            await self._put(f"/workspace_allocations/{allocation.id}.json", {"workspace_allocation": body})
        return len(found)
