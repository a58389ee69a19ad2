"""Reconciliation of one period (or one project in it): PSA ↔ ERP ↔ posting ledger, differences as exceptions.

Started by the monthly schedule (the 2nd at 04:00 in the firm's time zone, for the month before: the
period comes from ``TemporalScheduledStartTime``, as in `workflows.monthly_invoicing`) or by
``psflow reconcile --period YYYY-MM [--project P]``, under ``reconcile:{period}`` or
``reconcile:{period}:{project}``. Steps, each an activity that hands back counts only:

1. snapshot: the PSA's time entries and expenses of the period (every approval status), the ERP's
   time bills and the ledger's rows go into the store's staging table, page by heartbeated page;
2. compare: the staged sides joined per record in SQL, a page at a time; each difference is an
   exception (flow ``reconciliation``) with every side's values, and earlier differences of the
   period no longer found are auto-resolved, naming this run;
3. auto-fix (``auto_fix``): an approved entry never posted is posted by the date's own posting
   workflow (``te-posting:netsuite:{date}``, a child); a ledger row whose ERP record vanished goes to
   the audit trail and out of the ledger, and the date's posting posts it again by the same external
   id: exactly once, by ledger and external id. Then the ERP and the ledger are read again and
   compared again, so the result is the fixed state (the differences fixed are auto-resolved);
4. the run's record for ``psflow reconcile status`` and a ``com.psflow.reconciliation.completed``
   CloudEvent with the counts.

A period not over yet in the firm's zone is reconciled all the same and reported ``provisional``.
Search attributes: ``ReconPeriod`` and ``PsflowState`` (running → clean | differences, prefixed
``provisional-`` for a period not over).
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ApplicationError, ChildWorkflowError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from activities.events import EventActivities
    from activities.reconciliation import (
        CompareActivities,
        CompareRequest,
        CompareResult,
        ReconScope,
        RunOutcome,
        SnapshotActivities,
        SnapshotRequest,
        SnapshotResult,
        UnpostRequest,
    )
    from canonical.calendar import billing_period, firm_day, previous_period
    from canonical.events import CloudEvent
    from workflows import search_attributes as sa
    from workflows.invoice_project import checked, step_options
    from workflows.post_time_expenses import PostTimeExpensesInput, PostTimeExpensesWorkflow
    from workflows.post_time_expenses import workflow_id as posting_workflow_id

SCHEDULED_START = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")
EVENT_SOURCE = "psflow/reconciliation"
EVENT_TYPE = "com.psflow.reconciliation.completed"
UNKNOWN_PERIOD = "UnknownPeriod"
EVERYTHING = (
    ("psa", "time_entry"),
    ("psa", "expense"),
    ("psa", "project"),
    ("erp", "time_entry"),
    ("erp", "expense"),
    ("erp", "project"),
    ("erp", "invoice"),
)
"""What a run reads: each side and kind, in parallel (the ERP's time bills bring the ledger along)."""
AFTER_FIXING = (("erp", "time_entry"), ("erp", "expense"))
"""What auto-fix changed, read again before comparing again: the ERP's records and the ledger."""


def workflow_id(period: str, project_id: str | None = None, prefix: str = "") -> str:
    """The one id of a period's (or a project's) reconciliation, whoever starts it."""
    return f"{prefix}reconcile:{period}" + (f":{project_id}" if project_id else "")


class ReconcileInput(BaseModel):
    """Which period (default: the month before the scheduled start) and project, and whether to fix."""

    period: str | None = Field(default=None, description="YYYY-MM; None: the month before the scheduled start")
    project_id: str | None = None
    time_zone: str = "UTC"
    auto_fix: bool = True
    prefix: str = ""
    """The stack's task-queue prefix, which the daily postings' ids carry (auto-fix runs them under their ids).

    An input rather than read from the task queue, so a run replays wherever the replayer polls."""
    today: date | None = None
    """The firm's today, which says whether the period is over; None: the run's start in ``time_zone``."""
    page_size: int = Field(default=200, ge=1, le=1000)
    step_attempts: int = Field(default=8, ge=1)
    snapshot_timeout: timedelta = timedelta(hours=2)
    heartbeat_timeout: timedelta = timedelta(seconds=60)


class ReconcileResult(BaseModel):
    """The period's reconciliation: counts compared per side and kind, differences by kind, what was fixed."""

    period: str
    project_id: str | None = None
    status: str
    """``clean`` or ``differences``."""
    provisional: bool = False
    """The period is not over yet in the firm's zone: what exists so far was reconciled."""
    compared: dict[str, dict[str, int]] = Field(default_factory=dict)
    differences: dict[str, int] = Field(default_factory=dict)
    fixed: int = 0
    resolved: int = 0
    """Earlier differences of the period no longer found, auto-resolved by this run."""
    postings: list[str] = Field(default_factory=list)
    """The posting workflows auto-fix ran."""

    @property
    def total(self) -> int:
        """Every difference left."""
        return sum(self.differences.values())


class ReconcileProgress(BaseModel):
    """What the ``progress`` query returns: the step and the counts so far."""

    step: str = "starting"
    staged: dict[str, int] = Field(default_factory=dict)
    resumed: dict[str, int] = Field(default_factory=dict)
    """Per side and kind, the page a snapshot resumed at after its worker was lost (absent: read in one go)."""
    differences: int = 0


@workflow.defn(name="Reconcile")
class ReconcileWorkflow:
    """Compare the PSA, the ERP and the posting ledger for one period; differences become exceptions."""

    def __init__(self) -> None:
        self._progress = ReconcileProgress()

    @workflow.query
    def progress(self) -> ReconcileProgress:
        """Where the run stands: the step, records staged per side and kind, differences found."""
        return self._progress

    @workflow.run
    async def run(self, input: ReconcileInput) -> ReconcileResult:
        info = workflow.info()
        today = input.today or checked(lambda: firm_day(workflow.now(), input.time_zone))
        period = input.period or previous_period(checked(lambda: firm_day(self._scheduled_start(), input.time_zone)))
        days = checked(lambda: billing_period(period))
        if days.start > today:
            raise ApplicationError(
                f"period {period} has not started yet (today is {today} in {input.time_zone}): nothing to reconcile",
                type=UNKNOWN_PERIOD,
                non_retryable=True,
            )
        provisional = days.end >= today
        workflow.upsert_search_attributes([sa.RECON_PERIOD.value_set(period), sa.FLOW_STATE.value_set("running")])
        scope = ReconScope(
            run_key=f"{info.workflow_id}/{info.first_execution_run_id}",
            workflow_id=info.workflow_id,
            period=period,
            start=days.start,
            end=days.end,
            project_id=input.project_id,
            provisional=provisional,
        )
        await self._call(CompareActivities.start, scope, input)
        await self._snapshot(scope, input, EVERYTHING)
        self._progress.step = "comparing"
        found = await self._compare(scope, input)
        fixed, postings = 0, []
        fixable = found.differences.get("not_posted", 0) + found.vanished
        if input.auto_fix and fixable:
            self._progress.step = "fixing"
            unposted = await self._call(CompareActivities.unpost_vanished, UnpostRequest(scope=scope), input)
            postings = await self._post_again(sorted({*found.not_posted_dates, *unposted.dates}), input)
            await self._snapshot(scope, input, AFTER_FIXING)
            self._progress.step = "comparing again"
            again = await self._compare(scope, input)
            fixed = max(0, fixable - again.differences.get("not_posted", 0) - again.vanished)
            found = again.model_copy(update={"resolved": found.resolved + again.resolved})
        status = "differences" if found.total else "clean"
        result = ReconcileResult(
            period=period,
            project_id=input.project_id,
            status=status,
            provisional=provisional,
            compared=found.compared,
            differences=found.differences,
            fixed=fixed,
            resolved=found.resolved,
            postings=postings,
        )
        self._progress.step = "done"
        outcome = RunOutcome(
            scope=scope, status=status, compared=found.compared, differences=found.differences, fixed=fixed
        )
        await self._call(CompareActivities.finish, outcome, input)
        await workflow.execute_activity_method(
            EventActivities.publish, completed_event(scope, result, workflow.now()), **step_options("events", 8)
        )
        state = f"provisional-{status}" if provisional else status
        workflow.upsert_search_attributes([sa.FLOW_STATE.value_set(state)])
        return result

    @staticmethod
    def _scheduled_start() -> datetime:
        info = workflow.info()
        return info.typed_search_attributes.get(SCHEDULED_START) or info.start_time

    async def _call(self, method: Any, argument: Any, input: ReconcileInput) -> Any:
        return await workflow.execute_activity_method(
            method, argument, **step_options("erp", input.step_attempts, timedelta(minutes=10))
        )

    async def _snapshot(self, scope: ReconScope, input: ReconcileInput, reads: tuple[tuple[str, str], ...]) -> None:
        self._progress.step = "reading " + " and ".join(dict.fromkeys(side for side, _ in reads))

        async def read(side: str, kind: str) -> SnapshotResult:
            method = SnapshotActivities.snapshot_psa if side == "psa" else SnapshotActivities.snapshot_erp
            options = step_options(side, input.step_attempts, input.snapshot_timeout)
            options["heartbeat_timeout"] = input.heartbeat_timeout
            result: SnapshotResult = await workflow.execute_activity_method(
                method,
                SnapshotRequest(scope=scope, side=side, kind=kind, page_size=input.page_size),
                **options,
            )
            self._progress.staged[f"{side}.{kind}"] = result.staged
            if result.resumed_at_page:
                self._progress.resumed[f"{side}.{kind}"] = result.resumed_at_page
            return result

        await asyncio.gather(*(read(side, kind) for side, kind in reads))

    async def _compare(self, scope: ReconScope, input: ReconcileInput) -> CompareResult:
        options = step_options("erp", input.step_attempts, input.snapshot_timeout)
        options["heartbeat_timeout"] = input.heartbeat_timeout
        found: CompareResult = await workflow.execute_activity_method(
            CompareActivities.compare, CompareRequest(scope=scope), **options
        )
        self._progress.differences = found.total
        return found

    async def _post_again(self, days: list[date], input: ReconcileInput) -> list[str]:
        """Run each date's own posting (a child under the daily id): it posts what the ledger lacks, once."""
        started = []
        for day in days:
            child_id = posting_workflow_id(day, prefix=input.prefix)
            try:
                await workflow.execute_child_workflow(
                    PostTimeExpensesWorkflow.run,
                    PostTimeExpensesInput(business_date=day),
                    id=child_id,
                    search_attributes=TypedSearchAttributes([SearchAttributePair(sa.BUSINESS_DATE, day.isoformat())]),
                    static_summary=f"Post {day} again: reconciliation found records the ERP lacks",
                )
            except WorkflowAlreadyStartedError:
                workflow.logger.info("posting of %s already running; the re-compare shows what it left", day)
            except ChildWorkflowError as failure:
                # The posting says why it stopped; its records stay differences for the re-compare to report.
                workflow.logger.warning("posting of %s failed, its records stay differences: %s", day, failure.cause)
            started.append(child_id)
        return started


def completed_event(scope: ReconScope, result: ReconcileResult, now: datetime) -> CloudEvent:
    """The ``com.psflow.reconciliation.completed`` event: status and counts only, never records."""
    return CloudEvent(
        id=f"{scope.run_key}:completed",
        source=EVENT_SOURCE,
        type=EVENT_TYPE,
        subject=scope.workflow_id,
        time=now,
        data={
            "period": result.period,
            "project_id": result.project_id,
            "status": result.status,
            "provisional": result.provisional,
            "compared": result.compared,
            "differences": result.differences,
            "fixed": result.fixed,
            "resolved": result.resolved,
        },
    )


__all__ = ["ReconcileInput", "ReconcileResult", "ReconcileWorkflow", "completed_event", "workflow_id"]
