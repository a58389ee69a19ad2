"""A leaver's future bookings (Kantata ``workspace_allocations``; see research apis-round2 §1 [K7]
and the emulator's ``_allocations``): allocations after the last day go, history stays."""

from __future__ import annotations

from datetime import date, timedelta

from connectors.kantata._base import KantataBase
from connectors.kantata.models import RawAllocation


class AllocationMethods(KantataBase):
    """End a user's project allocations on their last day."""

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
