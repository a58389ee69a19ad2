"""The exception sweep: escalate every open exception past its SLA, page by page, at one instant.

The ``exception-sweep`` Schedule starts it every few minutes. Its instant is ``as_of`` when given,
else the run's scheduled time (``TemporalScheduledStartTime``, so a caught-up run escalates what
was due when it should have run), else now. Each ``exceptions.escalate`` call escalates one page
of the exceptions due at that instant and publishes their events; a page shorter than the page
size is the last. The history holds counts only, and a long sweep continues as new with the
same instant, so 100k escalations at once are a few hundred small activity calls.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import AwareDatetime, BaseModel, Field
from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey

with workflow.unsafe.imports_passed_through():
    from activities.exception_sweep import EscalatedPage, EscalateRequest, ExceptionSweepActivities
    from workflows._queues import domain_queue

SCHEDULED_START_TIME = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")


class ExceptionSweepInput(BaseModel):
    """When to escalate at, and how many exceptions per activity call."""

    as_of: AwareDatetime | None = None
    """The instant exceptions are escalated at; None: the scheduled start time, else now."""
    page_size: int = Field(default=500, ge=1, le=5000)
    pages_per_run: int = Field(default=200, ge=1, description="Activity calls before continuing as new")
    retry_initial_interval: timedelta = timedelta(seconds=1)
    retry_maximum_interval: timedelta = timedelta(minutes=1)
    by_level: dict[int, int] = Field(default_factory=dict)
    """Carried over continue-as-new: escalations by level so far."""
    pages: int = 0
    """Carried over continue-as-new: pages so far."""
    resent: int = 0
    """Carried over continue-as-new: events sent again by retries so far."""
    runs: int = 1
    """Carried over continue-as-new: this run's number in the chain."""


class ExceptionSweepResult(BaseModel):
    """What the sweep escalated, by level (1: past the first SLA threshold, 2: past the second)."""

    as_of: datetime
    by_level: dict[int, int] = Field(default_factory=dict)
    pages: int = 0
    resent: int = 0
    """Events sent again after an attempt failed between escalating and publishing (duplicates dropped)."""
    runs: int = 1

    @property
    def escalated(self) -> int:
        """Escalations over all levels."""
        return sum(self.by_level.values())


@workflow.defn(name="ExceptionSweep")
class ExceptionSweepWorkflow:
    """Escalate the exceptions due at one instant and publish an event per escalation."""

    @workflow.run
    async def run(self, input: ExceptionSweepInput) -> ExceptionSweepResult:
        info = workflow.info()
        as_of = input.as_of or info.typed_search_attributes.get(SCHEDULED_START_TIME) or workflow.now()
        result = ExceptionSweepResult(
            as_of=as_of, by_level=dict(input.by_level), pages=input.pages, resent=input.resent, runs=input.runs
        )
        calls = 0
        while True:
            if calls and (calls >= input.pages_per_run or info.is_continue_as_new_suggested()):
                workflow.continue_as_new(
                    input.model_copy(
                        update={
                            "as_of": as_of,
                            "by_level": result.by_level,
                            "pages": result.pages,
                            "resent": result.resent,
                            "runs": input.runs + 1,
                        }
                    )
                )
            page: EscalatedPage = await workflow.execute_activity_method(
                ExceptionSweepActivities.escalate,
                EscalateRequest(as_of=as_of, limit=input.page_size, counted=result.by_level),
                task_queue=domain_queue("events"),
                start_to_close_timeout=timedelta(minutes=10),
                heartbeat_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(
                    initial_interval=input.retry_initial_interval, maximum_interval=input.retry_maximum_interval
                ),
            )
            calls += 1
            result.pages += 1
            result.resent += page.resent
            for level, count in page.by_level.items():
                result.by_level[level] = result.by_level.get(level, 0) + count
            if page.escalated < input.page_size:
                return result
