"""The resource sync: each legal entity's HR system of record → the PSA's users, skills, hours and time off.

Started by the ``resource-sync`` Schedule (every hour by default; Temporal suffixes each run's id with
its time) or ``psflow resources sync [--full]`` under ``{prefix}resource-sync``, which first looks for a
sync already running. For each source (a legal entity and its HR system), in order:

1. ``resources.sync_state``: the source's high-water mark and when it was last swept in full;
2. workers: a full sweep when asked, never done, or older than ``full_sweep_every`` — first the
   change feed is paged from the mark only to learn the new mark, then every worker page is applied;
   otherwise the change feed is paged from the mark, and the changed workers are read in batches and
   applied (more than ``sweep_threshold`` of them: a full sweep instead). Each page goes to
   ``resources.apply_workers`` on the ``psa`` queue, which matches, invites, updates and records
   exceptions; its capacity changes are published as they come;
3. ``resources.disable_due``: users whose last day is over are disabled (never deleted).

Then time off, for every source: HR's approved time off in the window (``time_off_days_back`` ..
``time_off_days_ahead`` around today) is staged in the store per worker-day (``hr`` queue), and the
PSA made to match it page by page (set, or cleared when HR cancelled, denied or stopped returning
it). Last the staging is cleared and each source's mark saved: a run killed before that repeats
idempotent work and loses nothing. With ``worker_ids`` only those workers are read and applied; no
time off, no mark.

The history holds counts and pages of at most ``batch_size`` workers; a long run continues as new
where it stood (``carry``). Search attribute ``PsflowState``: running → synced | exceptions.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.resources.models import (
        ApplyRequest,
        ApplyResult,
        ApplyTimeOffRequest,
        ApplyTimeOffResult,
        AvailabilityChange,
        BadWorker,
        ChangesPage,
        ChangesRequest,
        DueRequest,
        HRSource,
        PublishAvailability,
        ResourcePolicy,
        SaveMark,
        StageTimeOffRequest,
        StageTimeOffResult,
        SweepRequest,
        SyncState,
        WorkersPage,
        WorkersRequest,
    )
    from canonical import Consultant, DateRange
    from canonical.calendar import firm_day
    from workflows import _metrics
    from workflows import search_attributes as sa
    from workflows.invoice_project import checked, step_options

Phase = Literal["start", "changes", "workers", "sweep", "disable", "next_source", "stage", "time_off", "finish"]
PUBLISH_LIMIT = 1000
"""Capacity changes per ``resources.publish_availability`` call (its request's limit)."""


def workflow_id(prefix: str = "") -> str:
    """The id of a sync started by hand (a scheduled one carries the schedule's timestamped id)."""
    return f"{prefix}resource-sync"


class SourceResult(BaseModel):
    """What the run did for one source.

    ``counts`` adds up `ApplyResult.counts` over every page (invited, linked, updated, unchanged,
    disabled, allocations_removed, conflicts, invalid).
    """

    source: HRSource
    full: bool = False
    mark: datetime | None = None
    """The high-water mark saved (or to save) for the source."""
    previous_mark: datetime | None = None
    changed: int = 0
    """Workers the change feed named (0 for a full sweep)."""
    read: int = 0
    """Workers read from HR (good and bad)."""
    pages: int = 0
    counts: dict[str, int] = Field(default_factory=dict)
    time_off_days: int = 0
    """Worker-days of approved time off staged from HR."""
    time_off_overlaps: int = 0
    time_off_set: int = 0
    time_off_cleared: int = 0
    events: int = 0


class ResourceSyncCarry(BaseModel):
    """Where a run stood when it continued as new: the next run picks up at that very step."""

    run_key: str
    today: date
    started_at: datetime
    phase: Phase = "start"
    source_index: int = 0
    ids: list[str] = Field(default_factory=list)
    """Changed workers not read yet (``workers`` phase)."""
    bad: list[BadWorker] = Field(default_factory=list)
    """Unreadable change-feed entries still to report."""
    cursor: str | None = None
    """The change feed's or the sweep's next cursor; for ``time_off``, the worker id to continue after."""
    results: list[SourceResult] = Field(default_factory=list)
    runs: int = 1


class ResourceSyncInput(BaseModel):
    """What to sync, from when, and how big the steps are."""

    sources: list[HRSource] = Field(min_length=1)
    full: bool = False
    """Sweep every worker of every source, whatever the marks say."""
    worker_ids: list[str] | None = None
    """Only these workers (canonical ids; each goes to the source of its system); no time off, no mark."""
    full_sweep_every: timedelta = timedelta(hours=24)
    time_off_days_back: int = Field(default=7, ge=0)
    time_off_days_ahead: int = Field(default=90, ge=0)
    today: date | None = None
    """The firm's today; None: the run's start in ``time_zone``."""
    time_zone: str = "UTC"
    batch_size: int = Field(default=100, ge=1, le=200)
    sweep_threshold: int = Field(default=500, ge=0)
    policy: ResourcePolicy = Field(default_factory=ResourcePolicy)
    step_attempts: int = Field(default=8, ge=1)
    heartbeat_timeout: timedelta = timedelta(seconds=60)
    steps_per_run: int = Field(default=400, ge=1, description="Activity calls before continuing as new")
    carry: ResourceSyncCarry | None = None
    """Set by continue-as-new only."""


class ResourceSyncResult(BaseModel):
    """Per source what was read and applied, and the run's totals."""

    sources: list[SourceResult] = Field(default_factory=list)
    full: bool = False
    """At least one source was swept in full."""
    runs: int = 1
    """Runs in the continue-as-new chain."""

    def total(self, key: str) -> int:
        """A count summed over the sources (``invited``, ``conflicts`` ...)."""
        return sum(result.counts.get(key, 0) for result in self.sources)

    @property
    def events(self) -> int:
        return sum(result.events for result in self.sources)

    @property
    def time_off_set(self) -> int:
        return sum(result.time_off_set for result in self.sources)

    @property
    def time_off_cleared(self) -> int:
        return sum(result.time_off_cleared for result in self.sources)


class ResourceSyncProgress(BaseModel):
    """What the ``progress`` query returns: the step, the source, and the counts so far."""

    step: str = "starting"
    source: str | None = None
    pages: int = 0
    counts: dict[str, int] = Field(default_factory=dict)
    time_off_set: int = 0
    time_off_cleared: int = 0
    events: int = 0


def _add(into: dict[str, int], counts: dict[str, int]) -> None:
    for key, value in counts.items():
        into[key] = into.get(key, 0) + value


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return max(a, b)


def _of_source(worker_ids: list[str], source: HRSource) -> list[str]:
    prefix = f"{source.hr_system}:"
    return list(dict.fromkeys(worker_id for worker_id in worker_ids if worker_id.startswith(prefix)))


@workflow.defn(name="ResourceSync")
class ResourceSyncWorkflow:
    """Bring each legal entity's HR workers and time off into the PSA; HR is the system of record."""

    def __init__(self) -> None:
        self._progress = ResourceSyncProgress()
        self._steps = 0

    @workflow.query
    def progress(self) -> ResourceSyncProgress:
        """Where the run stands: the step, the source, pages applied and counts so far."""
        return self._progress

    @workflow.run
    async def run(self, input: ResourceSyncInput) -> ResourceSyncResult:
        info = workflow.info()
        carry = input.carry or ResourceSyncCarry(
            run_key=f"{info.workflow_id}/{info.first_execution_run_id}",
            today=input.today or checked(lambda: firm_day(workflow.now(), input.time_zone)),
            started_at=workflow.now(),
            results=[SourceResult(source=source) for source in input.sources],
        )
        if input.carry is None:
            workflow.upsert_search_attributes([sa.FLOW_STATE.value_set("running")])
        for result in carry.results:
            _add(self._progress.counts, result.counts)
            self._progress.pages += result.pages
            self._progress.events += result.events
        while carry.phase != "finish":
            if self._steps >= input.steps_per_run or (self._steps and info.is_continue_as_new_suggested()):
                workflow.continue_as_new(
                    input.model_copy(update={"carry": carry.model_copy(update={"runs": carry.runs + 1})})
                )
            try:
                await self._step(input, carry)
            except ActivityError:
                _metrics.resource_sync_ended("failed", workflow.now() - carry.started_at)
                raise
        return await self._finish(input, carry)

    # -- the steps: each moves ``carry`` on by one activity call (or a few), so a run can stop between any two

    async def _step(self, input: ResourceSyncInput, carry: ResourceSyncCarry) -> None:
        result = carry.results[carry.source_index]
        self._progress.source = result.source.legal_entity
        handlers = {
            "start": self._start,
            "changes": self._changes,
            "workers": self._workers,
            "sweep": self._sweep,
            "disable": self._disable,
            "next_source": self._next_source,
            "stage": self._stage,
            "time_off": self._time_off,
        }
        await handlers[carry.phase](input, carry, result)

    async def _next_source(self, input: ResourceSyncInput, carry: ResourceSyncCarry, result: SourceResult) -> None:
        """The source's workers are done: the next source's, or (after the last) everyone's time off."""
        carry.cursor, carry.ids, carry.bad = None, [], []
        carry.source_index += 1
        if carry.source_index < len(carry.results):
            carry.phase = "start"
        elif input.worker_ids is not None:
            carry.phase = "finish"
        else:
            carry.phase, carry.source_index = "stage", 0

    async def _start(self, input: ResourceSyncInput, carry: ResourceSyncCarry, result: SourceResult) -> None:
        self._progress.step = "reading the mark"
        if input.worker_ids is not None:
            carry.ids = _of_source(input.worker_ids, result.source)
            result.changed = len(carry.ids)
            carry.phase = "workers"
            return
        state: SyncState = await self._call("events", "resources.sync_state", result.source, SyncState, input)
        result.previous_mark = result.mark = state.high_water_mark
        swept = state.last_full_sweep_at
        result.full = input.full or swept is None or carry.started_at - swept >= input.full_sweep_every
        carry.phase, carry.cursor = "changes", None

    async def _changes(self, input: ResourceSyncInput, carry: ResourceSyncCarry, result: SourceResult) -> None:
        """One page of the change feed from the mark: ids to read (not in a sweep), and the new mark."""
        self._progress.step = "reading HR's changes"
        request = ChangesRequest(
            source=result.source, since=result.previous_mark, cursor=carry.cursor, ids=not result.full
        )
        page: ChangesPage = await self._call("hr", "resources.hr_changes", request, ChangesPage, input)
        result.mark = _later(result.mark, page.high_water_mark)
        if not result.full:
            seen = set(carry.ids)
            carry.ids += [worker_id for worker_id in page.worker_ids if worker_id not in seen]
            carry.bad += page.bad
            result.changed = len(carry.ids)
            if len(carry.ids) > input.sweep_threshold:
                # Too many to read one by one: sweep them all, keep paging only for the mark.
                result.full, carry.ids, carry.bad = True, [], []
        carry.cursor = page.next_cursor
        if carry.cursor is None:
            carry.phase = "sweep" if result.full else "workers"

    async def _workers(self, input: ResourceSyncInput, carry: ResourceSyncCarry, result: SourceResult) -> None:
        """Read the next batch of changed workers and apply them."""
        self._progress.step = "applying changed workers"
        batch, carry.ids = carry.ids[: input.batch_size], carry.ids[input.batch_size :]
        page = WorkersPage()
        if batch:
            request = WorkersRequest(source=result.source, worker_ids=batch)
            page = await self._call("hr", "resources.hr_workers", request, WorkersPage, input)
        bad, carry.bad = carry.bad + page.bad, []
        await self._apply(input, carry, result, page.workers, bad)
        if not carry.ids:
            carry.phase = "next_source" if input.worker_ids is not None else "disable"

    async def _sweep(self, input: ResourceSyncInput, carry: ResourceSyncCarry, result: SourceResult) -> None:
        """Read and apply the next page of every worker."""
        self._progress.step = "sweeping every worker"
        request = SweepRequest(source=result.source, cursor=carry.cursor)
        page: WorkersPage = await self._call("hr", "resources.hr_sweep_page", request, WorkersPage, input)
        await self._apply(input, carry, result, page.workers, page.bad)
        carry.cursor = page.next_cursor
        if carry.cursor is None:
            carry.phase = "disable"

    async def _apply(
        self,
        input: ResourceSyncInput,
        carry: ResourceSyncCarry,
        result: SourceResult,
        workers: list[Consultant],
        bad: list[BadWorker],
    ) -> None:
        result.read += len(workers) + len(bad)
        if not workers and not bad:
            return
        request = ApplyRequest(
            source=result.source,
            run_id=carry.run_key,
            today=carry.today,
            workers=workers,
            bad=bad,
            policy=input.policy,
        )
        applied: ApplyResult = await self._call("psa", "resources.apply_workers", request, ApplyResult, input)
        _add(result.counts, applied.counts)
        _add(self._progress.counts, applied.counts)
        result.pages += 1
        self._progress.pages += 1
        await self._publish(input, carry, result, applied.availability)

    async def _disable(self, input: ResourceSyncInput, carry: ResourceSyncCarry, result: SourceResult) -> None:
        self._progress.step = "disabling leavers"
        request = DueRequest(source=result.source, run_id=carry.run_key, today=carry.today)
        applied: ApplyResult = await self._call("psa", "resources.disable_due", request, ApplyResult, input)
        _add(result.counts, applied.counts)
        _add(self._progress.counts, applied.counts)
        await self._publish(input, carry, result, applied.availability)
        carry.phase = "next_source"

    def _window(self, input: ResourceSyncInput, carry: ResourceSyncCarry) -> DateRange:
        return DateRange(
            start=carry.today - timedelta(days=input.time_off_days_back),
            end=carry.today + timedelta(days=input.time_off_days_ahead),
        )

    async def _stage(self, input: ResourceSyncInput, carry: ResourceSyncCarry, result: SourceResult) -> None:
        """Stage one source's approved time off; after the last source, apply every source's."""
        self._progress.step = "reading time off"
        request = StageTimeOffRequest(source=result.source, run_id=carry.run_key, window=self._window(input, carry))
        staged: StageTimeOffResult = await self._call(
            "hr", "resources.stage_time_off", request, StageTimeOffResult, input
        )
        result.time_off_days, result.time_off_overlaps = staged.days, staged.overlaps
        carry.source_index += 1
        if carry.source_index == len(carry.results):
            # Every source staged: only now is each source's time off diffed against what was applied.
            carry.phase, carry.source_index, carry.cursor = "time_off", 0, None

    async def _time_off(self, input: ResourceSyncInput, carry: ResourceSyncCarry, result: SourceResult) -> None:
        """One page of workers' time off made to match the staging in the PSA."""
        self._progress.step = "applying time off"
        request = ApplyTimeOffRequest(
            source=result.source,
            run_id=carry.run_key,
            window=self._window(input, carry),
            after=carry.cursor,
            limit=input.batch_size,
        )
        applied: ApplyTimeOffResult = await self._call(
            "psa", "resources.apply_time_off", request, ApplyTimeOffResult, input
        )
        result.time_off_set += applied.set
        result.time_off_cleared += applied.cleared
        self._progress.time_off_set += applied.set
        self._progress.time_off_cleared += applied.cleared
        await self._publish(input, carry, result, applied.availability)
        carry.cursor = applied.next_after
        if carry.cursor is None:
            carry.source_index += 1
            if carry.source_index == len(carry.results):
                carry.phase, carry.source_index = "finish", 0

    async def _publish(
        self,
        input: ResourceSyncInput,
        carry: ResourceSyncCarry,
        result: SourceResult,
        changes: list[AvailabilityChange],
    ) -> None:
        for start in range(0, len(changes), PUBLISH_LIMIT):
            request = PublishAvailability(run_id=carry.run_key, changes=changes[start : start + PUBLISH_LIMIT])
            sent: int = await self._call("events", "resources.publish_availability", request, int, input)
            result.events += sent
            self._progress.events += sent

    async def _finish(self, input: ResourceSyncInput, carry: ResourceSyncCarry) -> ResourceSyncResult:
        """Clear the staging, then save the marks: last, so a run stopped before them loses nothing."""
        if input.worker_ids is None:
            self._progress.step = "saving the marks"
            await self._call("events", "resources.clear_staging", carry.run_key, None, input)
            for result in carry.results:
                mark = SaveMark(
                    source=result.source,
                    high_water_mark=result.mark,
                    full_sweep_at=carry.started_at if result.full else None,
                )
                await self._call("events", "resources.save_mark", mark, None, input)
        problems = sum(
            r.counts.get("conflicts", 0) + r.counts.get("invalid", 0) + r.time_off_overlaps for r in carry.results
        )
        workflow.upsert_search_attributes([sa.FLOW_STATE.value_set("exceptions" if problems else "synced")])
        _metrics.resource_sync_ended("exceptions" if problems else "synced", workflow.now() - carry.started_at)
        self._progress.step = "done"
        return ResourceSyncResult(sources=carry.results, full=any(r.full for r in carry.results), runs=carry.runs)

    # -- activity calls

    def _options(self, domain: str, input: ResourceSyncInput) -> dict[str, Any]:
        options = step_options(domain, input.step_attempts, timedelta(minutes=10))
        options["heartbeat_timeout"] = input.heartbeat_timeout
        return options

    async def _call(self, domain: str, name: str, argument: Any, result_type: Any, input: ResourceSyncInput) -> Any:
        self._steps += 1
        return await workflow.execute_activity(name, argument, result_type=result_type, **self._options(domain, input))


__all__ = [
    "ResourceSyncCarry",
    "ResourceSyncInput",
    "ResourceSyncProgress",
    "ResourceSyncResult",
    "ResourceSyncWorkflow",
    "SourceResult",
    "workflow_id",
]
