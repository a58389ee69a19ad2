"""What the daily posting Schedule starts: it works out which day to post and posts it.

The business date is the day before the schedule's *scheduled* time in the firm's time zone: the
run scheduled for 02:00 on 26 November posts 25 November, also when it is a backfill started
weeks later or a catch-up after an outage (the ``TemporalScheduledStartTime`` search attribute
holds the scheduled time; a run started by hand falls back to now). The posting itself is the
child `PostTimeExpensesWorkflow` under the date's own id, the same id `psflow posting run` uses.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from zoneinfo import ZoneInfo

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
    """The day a run scheduled at ``scheduled`` posts: the previous day in the firm's time zone.

    Works inside the workflow sandbox, which hands out zones as proxies that ``astimezone`` refuses:
    the local time comes from the zone's offsets instead (the offset at the UTC wall time, then the
    one in force at the local time that gives), exact but within the hour of a clock change.
    """
    zone = ZoneInfo(time_zone)
    utc = scheduled.astimezone(UTC).replace(tzinfo=None)
    local = utc + (zone.utcoffset(utc) or timedelta(0))
    local = utc + (zone.utcoffset(local) or timedelta(0))
    return local.date() - timedelta(days=1)


class ScheduledPostingInput(BaseModel):
    """How the schedule's runs post (from settings when the schedule is applied)."""

    firm_time_zone: str = "Europe/London"
    erp: Literal["netsuite"] = "netsuite"
    page_size: int = Field(default=100, ge=1, le=200)


@workflow.defn(name="ScheduledPosting")
class ScheduledPostingWorkflow:
    """Post the day before the scheduled time, as the child workflow of that date."""

    @workflow.run
    async def run(self, input: ScheduledPostingInput) -> PostTimeExpensesResult:
        info = workflow.info()
        scheduled = info.typed_search_attributes.get(SCHEDULED_START_TIME) or workflow.now()
        day = business_date_for(scheduled, input.firm_time_zone)
        child_id = workflow_id(day, input.erp, info.task_queue.removesuffix(FLOWS))
        try:
            return await workflow.execute_child_workflow(
                PostTimeExpensesWorkflow.run,
                PostTimeExpensesInput(business_date=day, erp=input.erp, page_size=input.page_size),
                id=child_id,
                search_attributes=TypedSearchAttributes([SearchAttributePair(sa.BUSINESS_DATE, day.isoformat())]),
                static_summary=f"Post approved time and expenses dated {day} to {input.erp}",
            )
        except WorkflowAlreadyStartedError:
            raise ApplicationError(
                f"the posting of {day} is already running as {child_id}; this scheduled run leaves it to finish",
                type="PostingAlreadyRunning",
                non_retryable=True,
            ) from None
