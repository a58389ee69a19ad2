"""`WorkdayHR`: the HR port (`connectors.hr.HRSystem`) over a `WorkdayConnector`.

A separate adapter rather than methods on the connector because the connector's own
``workers_page(offset, limit)`` and ``time_off(worker_id, between)`` predate the port and keep
their signatures. Research: ``apis-round2.md`` §5 (Workday REST): changes come from
``auditLogs`` (the only REST-native moment-range feed); time off that is cancelled or denied is
simply no longer returned, so it is absent here too.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from canonical import Consultant, DateRange, SystemName, SystemRef, TimeOff, TimeOffStatus
from connectors._core import Page, cursor_to_int
from connectors.hr import ChangeAction, ChangePage, WorkerChange
from connectors.workday.client import WorkdayConnector
from connectors.workday.mapping import canonical_id, wid_of
from connectors.workday.models import TimeOffDetail

__all__ = ["WorkdayHR"]

_INSERTS = frozenset({"hire employee", "hire", "rehire employee"})
_STATUSES = {
    "approved": TimeOffStatus.APPROVED,
    "submitted": TimeOffStatus.REQUESTED,
    "not submitted": TimeOffStatus.REQUESTED,
    "sent back": TimeOffStatus.REQUESTED,
}


class WorkdayHR:
    """Workday behind the HR port.

    Args:
        connector: The tenant's connector (its settings decide page size and the staffing report).
    """

    hr_system = SystemName.WORKDAY.value

    def __init__(self, connector: WorkdayConnector) -> None:
        self.connector = connector

    async def changed_since(self, since: datetime | None, cursor: str | None = None) -> ChangePage:
        """One page of ``auditLogs`` from `since` (inclusive): hires are inserts, the rest updates."""
        entries, next_offset = await self.connector.audit_logs_page(since, cursor_to_int(cursor, default=0))
        changes = [
            WorkerChange(
                worker_id=canonical_id(entry.target.id),
                action=ChangeAction.INSERTED
                if (entry.task_display_name or "").strip().lower() in _INSERTS
                else ChangeAction.UPDATED,
                changed_at=entry.request_time,
            )
            for entry in entries
            if entry.target is not None and entry.target.id
        ]
        moments = [c.changed_at for c in changes] + ([since] if since is not None else [])
        return ChangePage(
            changes,
            None if next_offset is None else str(next_offset),
            high_water_mark=max(moments) if moments else None,
        )

    async def worker(self, worker_id: str) -> Consultant:
        """One worker (terminated too) with manager, weekly hours and dates."""
        return await self.connector.get_worker(worker_id)

    async def workers_page(self, cursor: str | None = None) -> Page[Consultant]:
        """One page of every worker, terminated ones included (``includeTerminatedWorkers``).

        A worker that cannot be mapped (no work email) is in ``unreadable``: the page's others still count.
        """
        return await self.connector.workers_page(
            cursor_to_int(cursor, default=0), active_only=False, keep_unreadable=True
        )

    async def time_off(self, between: DateRange, worker_id: str | None = None) -> list[TimeOff]:
        """Standing time off, one `TimeOff` per day entry; cancelled or denied entries are absent."""
        if worker_id is not None:
            wids = [wid_of(worker_id)]
        else:
            wids = []
            cursor: str | None = None
            while True:
                page = await self.workers_page(cursor)
                wids += [wid_of(c.id) for c in page.items]
                if page.next_cursor is None:
                    break
                cursor = page.next_cursor
        found: list[TimeOff] = []
        for wid in wids:
            found += [_time_off(wid, d) for d in await self.connector.time_off_details(wid, between)]
        return found


def _time_off(wid: str, detail: TimeOffDetail) -> TimeOff:
    status = (detail.status.descriptor if detail.status else None) or "Approved"
    key = detail.id or f"{wid}-{detail.date.isoformat()}"
    hours = {detail.date: detail.quantity} if detail.quantity is not None else {}
    return TimeOff(
        id=f"{SystemName.WORKDAY.value}:{key}",
        worker_id=canonical_id(wid),
        start=detail.date,
        end=detail.date,
        hours_by_day={d: Decimal(h) for d, h in hours.items()},
        status=_STATUSES.get(status.strip().lower(), TimeOffStatus.REQUESTED),
        kind=detail.time_off_type.descriptor if detail.time_off_type else None,
        source=SystemRef(system=SystemName.WORKDAY, id=key),
    )
