"""Time off and standard hours in the PSA (research apis-round2 §1 "Time off, holidays, availability").

Kantata keeps one ``time_off_entries`` entry per user-day: a second POST for the day merges into
it (the hours add up), capped at the user's workday, and a PUT changes only ``hours``; a DELETE
answers 204. So `set_time_off` reads the day first and writes the hours HR says, instead of
posting (which would add to what is there).

Capacity is a workweek: ``workweek_memberships`` give a user minutes per weekday (``sunday_minutes`` …
``saturday_minutes``) from a start date that is a Sunday until their next one.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from connectors._core import Page
from connectors.kantata._base import KantataBase
from connectors.kantata.models import RawTimeOffEntry, RawWorkweekMembership

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")


class TimeOffMethods(KantataBase):
    """Set, clear and list users' time off, one user-day at a time; set their standard hours."""

    async def set_standard_hours(self, user_id: str, hours_per_week: Decimal, effective: date) -> str:
        """Give the user a Monday-to-Friday workweek of ``hours_per_week`` from ``effective``; its id.

        Kantata's workweeks start on a Sunday, so the week starts on the Sunday on or before
        ``effective``. The minutes are spread evenly over the five days, any remainder on Monday.
        The workweek of that start date is changed when it exists; the same hours write nothing.
        """
        sunday = effective - timedelta(days=effective.isoweekday() % 7)
        total = int(hours_per_week * 60)
        minutes = {f"{day}_minutes": total // 5 for day in _WEEKDAYS}
        minutes["monday_minutes"] += total % 5
        minutes |= {"saturday_minutes": 0, "sunday_minutes": 0}
        envelope = await self._get("/workweek_memberships.json", {"user_id": user_id, "per_page": 200})
        weeks = envelope.primary("workweek_memberships", RawWorkweekMembership)
        existing = next((w for w in weeks if w.start_date == sunday), None)
        if existing is None:
            body = {"workweek_membership": {"user_id": user_id, "start_date": sunday.isoformat(), **minutes}}
            return (await self._post("/workweek_memberships.json", body)).results[0].id
        if existing.minutes() != minutes:
            await self._put(f"/workweek_memberships/{existing.id}.json", {"workweek_membership": minutes})
        return existing.id

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
