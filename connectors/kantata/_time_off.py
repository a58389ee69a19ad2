"""Time off in the PSA (research apis-round2 §1 "Time off, holidays, availability").

Kantata keeps one ``time_off_entries`` entry per user-day: a second POST for the day merges into
it (the hours add up), capped at the user's workday, and a PUT changes only ``hours``; a DELETE
answers 204. So `set_time_off` reads the day first and writes the hours HR says, instead of
posting (which would add to what is there).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from connectors._core import Page
from connectors.kantata._base import KantataBase
from connectors.kantata.models import RawTimeOffEntry


class TimeOffMethods(KantataBase):
    """Set, clear and list users' time off, one user-day at a time."""

    async def set_time_off(self, user_id: str, day: date, hours: Decimal) -> RawTimeOffEntry:
        """Make the user off ``hours`` on ``day``; the entry as Kantata keeps it.

        Kantata caps the hours at the user's workday, so the entry may hold fewer than asked.
        Setting the same hours again writes nothing.
        """
        existing = await self._time_off_on(user_id, day)
        if existing is None:
            body = {"time_off_entry": {"user_id": user_id, "requested_date": day.isoformat(), "hours": float(hours)}}
            return (await self._post("/time_off_entries.json", body)).primary("time_off_entries", RawTimeOffEntry)[0]
        if existing.hours == hours:
            return existing
        body = {"time_off_entry": {"hours": float(hours)}}
        envelope = await self._put(f"/time_off_entries/{existing.id}.json", body)
        return envelope.primary("time_off_entries", RawTimeOffEntry)[0]

    async def clear_time_off(self, user_id: str, day: date) -> bool:
        """Remove the user's time off on ``day``; False when there was none."""
        existing = await self._time_off_on(user_id, day)
        if existing is None:
            return False
        await self.client.delete(f"/time_off_entries/{existing.id}.json", allow={404})
        return True

    async def time_off_page(
        self,
        cursor: str | None = None,
        *,
        user_ids: list[str] | None = None,
        start: date | None = None,
        end: date | None = None,
        updated_after: datetime | None = None,
    ) -> Page[RawTimeOffEntry]:
        """One page of time-off entries by day, filtered by users, a date range and last change."""
        params: dict[str, str] = {}
        if user_ids:
            params["user_ids"] = ",".join(user_ids)
        if start is not None:
            params["start_date"] = start.isoformat()
        if end is not None:
            params["end_date"] = end.isoformat()
        if updated_after is not None:
            params["updated_after"] = updated_after.isoformat()
        envelope = await self._page("/time_off_entries.json", params, cursor, self.settings.page_size)
        return Page(envelope.primary("time_off_entries", RawTimeOffEntry), self._next_cursor(envelope))

    async def _time_off_on(self, user_id: str, day: date) -> RawTimeOffEntry | None:
        params = {"user_id": user_id, "start_date": day.isoformat(), "end_date": day.isoformat()}
        found = (await self._get("/time_off_entries.json", params)).primary("time_off_entries", RawTimeOffEntry)
        return found[0] if found else None
