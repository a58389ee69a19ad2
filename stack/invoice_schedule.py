"""The monthly invoicing schedule: the 1st of each month at 03:00 in the firm's time zone.

Each run is a `MonthlyInvoicingWorkflow` for the month before; it reads the month from its
``TemporalScheduledStartTime`` search attribute, so a late, caught-up or backfilled run still
invoices the month it was scheduled for. ``apply_invoice_schedule`` creates the schedule or
brings an existing one up to date (safe to repeat); ``psflow schedule apply`` can call it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from stack.settings import Settings
from workflows.monthly_invoicing import MonthlyInvoicingInput, MonthlyInvoicingWorkflow

RUN_DAY = 1
RUN_HOUR = 3
"""After the daily time & expense posting (02:00) has posted the month's last day."""
CATCHUP_WINDOW = timedelta(days=7)
"""A schedule missed while the server was down still runs if it comes back within a week."""


def invoice_schedule_id(settings: Settings) -> str:
    """The schedule's id (with the task-queue prefix, so stacks sharing a server keep their own)."""
    return f"{settings.task_queue_prefix}monthly-invoicing"


def invoice_schedule_spec(settings: Settings) -> Schedule:
    """The monthly invoicing schedule for these settings."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            MonthlyInvoicingWorkflow.run,
            MonthlyInvoicingInput(time_zone=settings.firm_time_zone),
            id=invoice_schedule_id(settings),
            task_queue=settings.task_queue("flows"),
            static_summary="Monthly invoicing for the month before",
        ),
        spec=ScheduleSpec(
            calendars=[ScheduleCalendarSpec(day_of_month=[ScheduleRange(RUN_DAY)], hour=[ScheduleRange(RUN_HOUR)])],
            time_zone_name=settings.firm_time_zone,
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.BUFFER_ONE, catchup_window=CATCHUP_WINDOW),
    )


async def apply_invoice_schedule(client: Client, settings: Settings) -> Literal["created", "updated"]:
    """Create the schedule, or replace an existing one's definition (its paused state is kept)."""
    schedule = invoice_schedule_spec(settings)
    try:
        await client.create_schedule(invoice_schedule_id(settings), schedule)
    except ScheduleAlreadyRunningError:

        def replace(current: ScheduleUpdateInput) -> ScheduleUpdate:
            schedule.state = current.description.schedule.state
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(invoice_schedule_id(settings)).update(replace)
        return "updated"
    return "created"
