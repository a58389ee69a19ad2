"""Daily time & expense posting: one business date's approved PSA time and expenses into the ERP, exactly once.

One workflow id per date and ERP (``te-posting:netsuite:2026-11-25``), so a re-run of a date is the
same posting: records already in the ledger are counted as already posted, never posted twice.
The workflow only moves cursors: each `PostingActivities.post_approved_page` call reads, checks
and posts a few pages of one kind (time entries, then expenses) and hands back counts and the
next cursor, so history stays small whatever the day's volume; the run continues as new with its
counters and cursor before the history grows large. Records that break a rule become exceptions
(`psflow exceptions list`) and the rest of the day still posts.

Faults are outlasted, not counted: a call that posted something hands back even when a system
failed it, so Temporal's retry only sees calls that could post nothing, and retries those with
backoff for as long as ``retry_for`` allows (by default, no attempt limit). The posting stops only
on an error a person must fix, or an outage longer than ``retry_for``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, RetryState, TimeoutType
from temporalio.exceptions import TimeoutError as ActivityTimeout

with workflow.unsafe.imports_passed_through():
    from activities._errors import NON_RETRYABLE_TYPES
    from activities.posting import (
        KINDS,
        Kind,
        PostingActivities,
        PostingCounts,
        PostPageRequest,
        SettleRequest,
    )
    from workflows import _metrics
    from workflows import search_attributes as sa
    from workflows._queues import domain_queue

NOT_POSTED = "PostingStopped"

State = Literal["posting", "settling", "posted", "posted_with_exceptions", "nothing_to_post"]


def workflow_id(business_date: date, erp: str = "netsuite", prefix: str = "") -> str:
    """The one workflow id of a date's posting, whoever starts it (schedule, backfill, CLI).

    Args:
        business_date: The day the time was worked and the expenses incurred.
        erp: The ERP posted to.
        prefix: The task queue prefix, so staging and tests on one namespace keep apart.
    """
    return f"{prefix}te-posting:{erp}:{business_date.isoformat()}"


class PostTimeExpensesInput(BaseModel):
    """Which date to post, how, and (after continue-as-new) where the previous run stopped."""

    business_date: date
    erp: Literal["netsuite"] = "netsuite"
    page_size: int = Field(default=200, ge=1, le=200, description="Records per PSA page (Kantata's maximum)")
    pages_per_activity: int = Field(
        default=100, ge=1, description="Pages one activity call posts at most (it also hands back after 2 minutes)"
    )
    seconds_per_activity: float = Field(default=120, gt=0, description="An activity call starts no page after this")
    heartbeat_timeout: timedelta = timedelta(seconds=30)
    """How soon a posting activity on a dead worker is retried elsewhere."""
    page_attempts: int = Field(
        default=0, ge=0, description="Attempts per activity call; 0: as many as `retry_for` allows"
    )
    retry_for: timedelta = timedelta(hours=6)
    """How long one activity call may keep retrying a system that fails it: the longest outage outlasted."""
    max_activities_per_run: int = Field(default=500, ge=1, description="Activity calls before continuing as new")
    kind: Kind = "time_entry"
    """Carried over continue-as-new: the kind being posted."""
    cursor: str | None = None
    """Carried over continue-as-new: the next page of ``kind``."""
    counts: PostingCounts = Field(default_factory=PostingCounts)
    """Carried over continue-as-new: what earlier runs did."""
    pages: int = 0
    """Carried over continue-as-new: pages read by earlier runs."""
    runs: int = 1
    """Carried over continue-as-new: this run's number in the chain."""
    started_at: datetime | None = None
    """Carried over continue-as-new: when the chain's first run started (for the time-to-post metric)."""


class PostingProgress(BaseModel):
    """What the ``progress`` query returns and ``psflow posting run --wait`` shows."""

    business_date: date
    state: State
    kind: Kind
    pages: int
    counts: PostingCounts
    runs: int


class PostTimeExpensesResult(BaseModel):
    """What the date's posting did, said plainly."""

    business_date: date
    erp: str
    posted: int
    already_posted: int
    rejected: int
    failed: int
    nothing_to_post: bool
    summary: str
    pages: int = 0
    runs: int = 1
    exceptions_closed: int = 0
    """Earlier exceptions of the date closed because the PSA no longer lists their records."""


@workflow.defn(name="PostTimeExpenses")
class PostTimeExpensesWorkflow:
    """Post one business date's approved time entries and expenses to the ERP."""

    @workflow.init
    def __init__(self, input: PostTimeExpensesInput) -> None:
        self._progress = PostingProgress(
            business_date=input.business_date,
            state="posting",
            kind=input.kind,
            pages=input.pages,
            counts=input.counts,
            runs=input.runs,
        )

    @workflow.run
    async def run(self, input: PostTimeExpensesInput) -> PostTimeExpensesResult:
        info = workflow.info()
        # One id for the whole chain of runs: ledger rows and exceptions name the posting, not a run.
        run_id = f"{info.workflow_id}/{info.first_execution_run_id}"
        progress = self._progress
        if input.runs == 1:
            workflow.upsert_search_attributes(
                [sa.BUSINESS_DATE.value_set(input.business_date.isoformat()), sa.FLOW_STATE.value_set("posting")]
            )
        started_at = input.started_at or workflow.now()
        calls = 0
        for kind in KINDS[KINDS.index(input.kind) :]:
            cursor = input.cursor if kind == input.kind else None
            progress.kind = kind
            while True:
                if calls and (calls >= input.max_activities_per_run or info.is_continue_as_new_suggested()):
                    workflow.continue_as_new(
                        input.model_copy(
                            update={
                                "kind": kind,
                                "cursor": cursor,
                                "counts": progress.counts,
                                "pages": progress.pages,
                                "runs": input.runs + 1,
                                "started_at": started_at,
                            }
                        )
                    )
                request = PostPageRequest(
                    business_date=input.business_date,
                    kind=kind,
                    run_id=run_id,
                    cursor=cursor,
                    page_size=input.page_size,
                    max_pages=input.pages_per_activity,
                    max_seconds=input.seconds_per_activity,
                )
                try:
                    page = await workflow.execute_activity_method(
                        PostingActivities.post_approved_page, request, **self._options(input)
                    )
                except ActivityError as failure:
                    _metrics.posting_ended(input.erp, "failed", workflow.now() - started_at)
                    raise self._stopped(input, kind, failure) from failure
                calls += 1
                counted = page.counts
                _metrics.posting_page(
                    input.erp, kind, counted.posted, counted.already_posted, counted.rejected, counted.failed
                )
                progress.counts = progress.counts + page.counts
                progress.pages += page.pages
                cursor = page.next_cursor
                if cursor is None:
                    break

        progress.state = "settling"
        try:
            closed = await workflow.execute_activity_method(
                PostingActivities.settle_exceptions,
                SettleRequest(business_date=input.business_date, run_id=run_id),
                **self._options(input),
            )
        except ActivityError:
            # Its records are posted, but the run did not end: counted as a failed run, like a page that failed.
            _metrics.posting_ended(input.erp, "failed", workflow.now() - started_at)
            raise
        counts = progress.counts
        progress.state = (
            "nothing_to_post"
            if counts.total == 0
            else "posted_with_exceptions"
            if counts.rejected or counts.failed
            else "posted"
        )
        workflow.upsert_search_attributes([sa.FLOW_STATE.value_set(progress.state)])
        _metrics.posting_ended(input.erp, progress.state, workflow.now() - started_at)
        return PostTimeExpensesResult(
            business_date=input.business_date,
            erp=input.erp,
            posted=counts.posted,
            already_posted=counts.already_posted,
            rejected=counts.rejected,
            failed=counts.failed,
            nothing_to_post=counts.total == 0,
            summary=_summary(input.business_date, counts),
            pages=progress.pages,
            runs=input.runs,
            exceptions_closed=closed,
        )

    @workflow.query
    def progress(self) -> PostingProgress:
        """Where the posting stands: kind, pages read, counts so far."""
        return self._progress

    def _options(self, input: PostTimeExpensesInput) -> dict[str, Any]:
        return {
            "task_queue": domain_queue("erp"),
            "start_to_close_timeout": timedelta(minutes=10),
            "schedule_to_close_timeout": input.retry_for,
            "heartbeat_timeout": input.heartbeat_timeout,
            "retry_policy": RetryPolicy(
                initial_interval=timedelta(seconds=1),
                maximum_interval=timedelta(minutes=1),
                maximum_attempts=input.page_attempts,
                non_retryable_error_types=NON_RETRYABLE_TYPES,
            ),
        }

    def _stopped(self, input: PostTimeExpensesInput, kind: Kind, failure: ActivityError) -> ApplicationError:
        counts = self._progress.counts
        cause: BaseException = failure
        while isinstance(cause, ActivityError | ActivityTimeout) and cause.cause is not None:
            cause = cause.cause
        if failure.retry_state is RetryState.TIMEOUT:
            # Out of retry_for between attempts: the cause is the last attempt's failure.
            what = f"still failing after {input.retry_for} of retries, last with {cause}"
        elif isinstance(cause, ActivityTimeout) and cause.type is TimeoutType.SCHEDULE_TO_CLOSE:
            what = f"still failing after {input.retry_for} of retries ({cause})"
        elif failure.retry_state is RetryState.MAXIMUM_ATTEMPTS_REACHED:
            what = f"still failing after {input.page_attempts} attempts, last with {cause}"
        else:
            what = str(cause)
        day = input.business_date.isoformat()
        return ApplicationError(
            f"posting {day} stopped while posting {_PLURAL[kind]}: {what}. "
            f"So far {counts.posted} posted, {counts.already_posted} already posted; the ledger keeps them. "
            f"Fix the cause, then re-run the date: psflow posting run --date {day}",
            counts.model_dump(mode="json"),
            type=NOT_POSTED,
            non_retryable=True,
        )


_PLURAL: dict[Kind, str] = {"time_entry": "time entries", "expense": "expenses"}


def _summary(day: date, counts: PostingCounts) -> str:
    if counts.total == 0:
        return f"{day}: nothing to post — the PSA has no approved time entries or expenses dated {day}"
    summary = (
        f"{day}: {counts.posted} posted, {counts.already_posted} already posted, "
        f"{counts.rejected} rejected, {counts.failed} failed"
    )
    if counts.rejected or counts.failed:
        summary += f" — see `psflow exceptions list --date {day}`"
    return summary
