"""What the daily posting Schedule starts: it works out which day to post and posts it.

The business date is the day before the schedule's *scheduled* time in the firm's time zone: the
run scheduled for 02:00 on 26 November posts 25 November, also when it is a backfill started
weeks later or a catch-up after an outage (the ``TemporalScheduledStartTime`` search attribute
holds the scheduled time; a run started by hand falls back to now). The posting itself is the
child `PostTimeExpensesWorkflow` under the date's own id, the same id `psflow posting run` uses.

Time is often approved days after it was worked. After posting its own day, each run re-posts the
``lookback_days`` days before it, one after another, under their own ids: the ledger skips what
those days already posted, so only entries approved since reach the ERP. A late approval older
than the look-back needs ``psflow posting run --date D`` (or a backfill).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from canonical.calendar import firm_day
    from workflows import search_attributes as sa
    from workflows._queues import FLOWS
    from workflows.post_time_expenses import (
        PostTimeExpensesInput,
        PostTimeExpensesResult,
        PostTimeExpensesWorkflow,
        workflow_id,
    )

SCHEDULED_START_TIME = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")
"""Set by Temporal on every workflow a Schedule starts: the action's nominal time."""


def business_date_for(scheduled: datetime, time_zone: str) -> date:
    """The day a run scheduled at ``scheduled`` posts: the day before, in the firm's time zone."""
    return firm_day(scheduled, time_zone) - timedelta(days=1)


LOOKBACK_PATCH = "posting-lookback-late-approvals"


class ScheduledPostingInput(BaseModel):
    """How the schedule's runs post (from settings when the schedule is applied)."""

    firm_time_zone: str = "Europe/London"
    erp: Literal["netsuite"] = "netsuite"
    page_size: int = Field(default=200, ge=1, le=200)
    lookback_days: int = Field(default=7, ge=0, le=62, description="Earlier days re-posted for late approvals")


class LatePosting(BaseModel):
    """What re-posting one earlier day found: entries approved after that day's own posting."""

    business_date: date
    posted: int = 0
    rejected: int = 0
    failed: int = 0
    skipped: str | None = None
    """Why the day was not re-posted (its posting was running already)."""


class ScheduledPostingResult(PostTimeExpensesResult):
    """The day's posting, plus what the look-back over the days before it posted late."""

    late: list[LatePosting] = Field(default_factory=list)

    @property
    def late_posted(self) -> int:
        """Entries approved late that this run posted, over all the looked-back days."""
        return sum(day.posted for day in self.late)


@workflow.defn(name="ScheduledPosting")
class ScheduledPostingWorkflow:
    """Post the day before the scheduled time, then re-post the days before it for late approvals."""

    @workflow.run
    async def run(self, input: ScheduledPostingInput) -> ScheduledPostingResult:
        info = workflow.info()
        scheduled = info.typed_search_attributes.get(SCHEDULED_START_TIME) or workflow.now()
        day = business_date_for(scheduled, input.firm_time_zone)
        prefix = info.task_queue.removesuffix(FLOWS)
        try:
            result = await self._post(day, input, prefix)
        except WorkflowAlreadyStartedError:
            raise ApplicationError(
                f"the posting of {day} is already running as {workflow_id(day, input.erp, prefix)}; "
                "this scheduled run leaves it to finish",
                type="PostingAlreadyRunning",
                non_retryable=True,
            ) from None
        late: list[LatePosting] = []
        if workflow.patched(LOOKBACK_PATCH):
            for back in range(1, input.lookback_days + 1):
                earlier = day - timedelta(days=back)
                try:
                    again = await self._post(earlier, input, prefix, late=True)
                except WorkflowAlreadyStartedError:
                    late.append(LatePosting(business_date=earlier, skipped="its posting was already running"))
                    continue
                late.append(
                    LatePosting(
                        business_date=earlier, posted=again.posted, rejected=again.rejected, failed=again.failed
                    )
                )
        return ScheduledPostingResult(**result.model_dump(), late=late)

    async def _post(
        self, day: date, input: ScheduledPostingInput, prefix: str, *, late: bool = False
    ) -> PostTimeExpensesResult:
        what = "late approvals of time and expenses" if late else "approved time and expenses"
        return await workflow.execute_child_workflow(
            PostTimeExpensesWorkflow.run,
            PostTimeExpensesInput(business_date=day, erp=input.erp, page_size=input.page_size),
            id=workflow_id(day, input.erp, prefix),
            search_attributes=TypedSearchAttributes([SearchAttributePair(sa.BUSINESS_DATE, day.isoformat())]),
            static_summary=f"Post {what} dated {day} to {input.erp}",
        )
