"""Reading the HR system of record for the resource sync (``hr`` task queue): changes, workers, time off.

`ResourceHrActivities` holds one `connectors.hr.HRSystem` per system name and never writes to HR.
A worker HR returns that cannot be used (no email, a termination before the hire, gone) comes back
as a `BadWorker` with the offending values, never as a failed call: one bad record must not stop the
sync of everyone else. Only what may pass with a retry (HR down, throttled) fails the call.

Time off goes through the store's staging table rather than the workflow's history: HR's approved
requests in the window, one row per worker and business day, for the PSA activity to diff against
what psflow applied before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from pydantic import ValidationError
from temporalio import activity

from activities._errors import classified
from activities._heartbeat import heartbeating
from activities.resources.models import (
    FLOW,
    BadWorker,
    ChangesPage,
    ChangesRequest,
    StageTimeOffRequest,
    StageTimeOffResult,
    SweepRequest,
    WorkersPage,
    WorkersRequest,
)
from canonical import Consultant, DateRange, TimeOff, TimeOffStatus
from connectors._core import NotFoundError, PermanentError, Unreadable
from connectors.hr import HRSystem
from store import Store
from store import exceptions as exc
from store import resources as resource_store

READ_CONCURRENCY = 8
"""Workers read from HR at once by one `hr_workers` call (HR systems throttle by the second)."""
OVERLAP = "time_off_overlap"
DEFAULT_WEEK = Decimal(40)
"""Standard hours a week when neither HR nor the store knows them: a full day is 8 hours."""


def bad_of(unreadable: Unreadable) -> BadWorker:
    """A record a connector listed but could not map, with each field's problem and offending value."""
    problems = "; ".join(str(problem) for problem in unreadable.problems) or "cannot be read"
    values = {problem.field or "record": problem.value for problem in unreadable.problems}
    return BadWorker(worker_id=unreadable.record_id, problem=problems, values=values)


def _root_value_error(error: BaseException) -> ValueError | None:
    """The innermost ValueError behind a connector's "cannot be mapped" error (pydantic's, with values)."""
    found: ValueError | None = None
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ValueError):
            found = cause
        cause = cause.__cause__
    return found


RECORD_FIELDS = ("email", "employee_id", "hire_date", "termination_date", "cost_centre", "standard_hours_per_week")
"""What a `BadWorker` shows of a record refused as a whole (e.g. dates out of order)."""


def bad_from_error(worker_id: str, error: Exception) -> BadWorker:
    """The `BadWorker` for a worker HR would not give (not found) or the connector could not map.

    The problem is the mapping's own words (``termination date ... is before the hire date ...``),
    the values the offending fields held; a rule over the whole record shows its key fields.
    """
    if isinstance(error, NotFoundError):
        return BadWorker(worker_id=worker_id, problem="HR has no such worker (deleted?)", values={"id": worker_id})
    root = _root_value_error(error)
    if root is None:
        return BadWorker(worker_id=worker_id, problem=str(error).splitlines()[0] or type(error).__name__)
    bad = bad_of(Unreadable.of(worker_id, worker_id, root))
    values = {field: value for field, value in bad.values.items() if field != "record"}
    if isinstance(root, ValidationError):
        for found in root.errors(include_url=False):
            record = found.get("input")
            if isinstance(record, dict):
                values |= {k: None if record.get(k) is None else str(record[k]) for k in RECORD_FIELDS if k in record}
    return bad.model_copy(update={"values": values})


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def business_days(start: date, end: date) -> Iterable[date]:
    """Monday to Friday from `start` to `end`, inclusive."""
    day = start
    while day <= end:
        if day.weekday() < 5:
            yield day
        day += timedelta(days=1)


def days_off(time_off: TimeOff, window: DateRange, full_day: Decimal) -> dict[date, Decimal]:
    """The hours off per business day of `time_off` within `window`.

    HR's hours per day when it gives them (a day it leaves out or gives 0 hours is not off), else
    `full_day` for each business day.
    """
    start, end = max(time_off.start, window.start), min(time_off.end, window.end)
    found: dict[date, Decimal] = {}
    for day in business_days(start, end):
        hours = time_off.hours_by_day.get(day) if time_off.hours_by_day else full_day
        if hours is not None and hours > 0:
            found[day] = hours
    return found


class ResourceHrActivities:
    """Reads of the HR systems, by name (``workday``, ``bamboohr``), and the staging of their time off.

    Args:
        hr_systems: One HR port per system name the sources use.
        store: Where time off is staged and the resources' standard hours are known.
    """

    def __init__(self, hr_systems: Mapping[str, HRSystem], store: Store) -> None:
        self.hr_systems = dict(hr_systems)
        self.store = store

    def _hr(self, name: str) -> HRSystem:
        try:
            return self.hr_systems[name]
        except KeyError:
            raise PermanentError(name, f"no HR system {name!r} is configured", code="unknown_hr_system") from None

    @activity.defn(name="resources.hr_changes")
    @classified
    async def hr_changes(self, request: ChangesRequest) -> ChangesPage:
        """One page of the change feed from ``since``: the workers' ids once each, and the mark so far.

        HR reports changes *at* the mark again (the port's feed is inclusive, so that a change in the
        mark's own second is never lost). A worker whose only change is at the mark and whom psflow
        has written since is left out: the run that stored the mark applied it. Without that, a
        bulk load (thousands of changes in one second) would come back on every run and turn each
        into a full sweep. A change psflow may not have seen is still read; the full sweep is the
        backstop for the rest.
        """
        page = await self._hr(request.source.hr_system).changed_since(request.since, request.cursor)
        if not request.ids:
            return ChangesPage(next_cursor=page.next_cursor, high_water_mark=page.high_water_mark)
        ids = list(dict.fromkeys(change.worker_id for change in page.items))
        if request.since is not None:
            later = {change.worker_id for change in page.items if change.changed_at != request.since}
            at_mark = [worker_id for worker_id in ids if worker_id not in later]
            if at_mark:
                seen = await asyncio.to_thread(self._written_since, at_mark, request.since)
                ids = [worker_id for worker_id in ids if worker_id not in seen]
        return ChangesPage(
            worker_ids=ids,
            bad=[bad_of(unreadable) for unreadable in page.unreadable],
            next_cursor=page.next_cursor,
            high_water_mark=page.high_water_mark,
        )

    def _written_since(self, worker_ids: list[str], since: datetime) -> set[str]:
        """The workers psflow wrote after ``since``."""
        rows = resource_store.resources(self.store, worker_ids)
        return {worker_id for worker_id, row in rows.items() if _aware(row.updated_at) > since}

    @activity.defn(name="resources.hr_workers")
    @classified
    @heartbeating
    async def hr_workers(self, request: WorkersRequest) -> WorkersPage:
        """These workers, read a few at a time; one that is gone or cannot be mapped is a `BadWorker`."""
        hr = self._hr(request.source.hr_system)
        slots = asyncio.Semaphore(READ_CONCURRENCY)

        async def one(worker_id: str) -> Consultant | BadWorker:
            async with slots:
                try:
                    return await hr.worker(worker_id)
                except (NotFoundError, PermanentError) as error:
                    # Permanent for this worker only (unmappable, gone): the rest of the batch goes on.
                    return bad_from_error(worker_id, error)
                except ValueError as error:  # an id of another system, an adapter's own check
                    return bad_from_error(worker_id, error)

        read = await asyncio.gather(*(one(worker_id) for worker_id in dict.fromkeys(request.worker_ids)))
        return WorkersPage(
            workers=[item for item in read if isinstance(item, Consultant)],
            bad=[item for item in read if isinstance(item, BadWorker)],
        )

    @activity.defn(name="resources.hr_sweep_page")
    @classified
    @heartbeating
    async def hr_sweep_page(self, request: SweepRequest) -> WorkersPage:
        """One page of every worker (terminated included); records that cannot be mapped are `BadWorker`s."""
        page = await self._hr(request.source.hr_system).workers_page(request.cursor)
        return WorkersPage(
            workers=list(page.items),
            bad=[bad_of(unreadable) for unreadable in page.unreadable],
            next_cursor=page.next_cursor,
        )

    @activity.defn(name="resources.stage_time_off")
    @classified
    @heartbeating
    async def stage_time_off(self, request: StageTimeOffRequest) -> StageTimeOffResult:
        """HR's approved time off in the window, per worker and business day, into the run's staging.

        A request that is not approved, or of a worker the store does not know (not applied yet, or
        bad), is skipped. Two approved requests on one worker-day keep the larger hours and open a
        ``time_off_overlap`` exception naming both; an earlier overlap in the window that HR no longer
        has is resolved, naming the run. Staging again (a retry) writes the same rows.
        """
        source = request.source
        requests = await self._hr(source.hr_system).time_off(request.window)
        return await asyncio.to_thread(self._stage, request, requests)

    def _stage(self, request: StageTimeOffRequest, requests: list[TimeOff]) -> StageTimeOffResult:
        source = request.source
        approved = [r for r in requests if r.status is TimeOffStatus.APPROVED]
        skipped = len(requests) - len(approved)
        full_days: dict[str, Decimal | None] = {}
        rows: dict[tuple[str, date], tuple[Decimal, str]] = {}
        overlaps: list[exc.Occurrence] = []
        for time_off in sorted(approved, key=lambda r: (r.worker_id, r.start, r.id)):
            if time_off.worker_id not in full_days:
                known = resource_store.resource(self.store, time_off.worker_id)
                week = (known.standard_hours_per_week if known is not None else None) or DEFAULT_WEEK
                full_days[time_off.worker_id] = None if known is None else Decimal(week) / 5
            full_day = full_days[time_off.worker_id]
            if full_day is None:
                skipped += 1
                continue
            for day, hours in days_off(time_off, request.window, full_day).items():
                key = (time_off.worker_id, day)
                if key in rows:
                    kept_hours, kept_id = rows[key]
                    overlaps.append(
                        _overlap(source.hr_system, time_off.worker_id, day, (kept_id, kept_hours), (time_off.id, hours))
                    )
                    if hours > kept_hours:
                        rows[key] = (hours, time_off.id)
                    continue
                rows[key] = (hours, time_off.id)
        staged = resource_store.stage_time_off(
            self.store,
            request.run_id,
            [(worker_id, day, hours, request_id) for (worker_id, day), (hours, request_id) in sorted(rows.items())],
        )
        if overlaps:
            exc.record(self.store, overlaps, run_id=request.run_id)
        self._resolve_overlaps_gone(request, {o.business_key for o in overlaps})
        return StageTimeOffResult(
            days=staged,
            workers=len({worker_id for worker_id, _ in rows}),
            skipped=skipped,
            overlaps=len(overlaps),
        )

    def _resolve_overlaps_gone(self, request: StageTimeOffRequest, found: set[str]) -> int:
        """Resolve the system's overlaps in the window that HR no longer has (a request cancelled or fixed)."""
        gone: list[str] = []
        after: int | None = None
        while True:
            page = exc.find(
                self.store, flow=FLOW, kind=OVERLAP, system=request.source.hr_system, after_id=after, limit=500
            )
            gone += [
                row.business_key
                for row in page
                if row.business_key not in found
                and row.business_date is not None
                and row.business_date in request.window
            ]
            if len(page) < 500:
                break
            after = page[-1].id
        if not gone:
            return 0
        return exc.resolve(
            self.store,
            flow=FLOW,
            system=request.source.hr_system,
            kind=OVERLAP,
            business_keys=gone,
            run_id=request.run_id,
        )


def _overlap(
    system: str, worker_id: str, day: date, first: tuple[str, Decimal], second: tuple[str, Decimal]
) -> exc.Occurrence:
    kept = max(first, second, key=lambda pair: pair[1])
    return exc.Occurrence(
        flow=FLOW,
        system=system,
        kind=OVERLAP,
        business_key=f"{worker_id}:{day.isoformat()}",
        reason=OVERLAP,
        message=(
            f"{worker_id} has two approved time off requests on {day}: {first[0]} ({first[1]} h) and "
            f"{second[0]} ({second[1]} h); {kept[1]} h kept"
        ),
        values={
            "worker_id": worker_id,
            "day": day.isoformat(),
            "requests": {first[0]: str(first[1]), second[0]: str(second[1])},
            "kept_hours": str(kept[1]),
        },
        business_date=day,
    )


__all__ = ["ResourceHrActivities", "bad_from_error", "bad_of", "business_days", "days_off"]
