"""The Schedule behind the polling fallback: every few minutes, find won deals whose webhook never came."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from stack.settings import Settings
from workflows.poll_closed_won import PollClosedWonInput, PollClosedWonWorkflow

SCHEDULE_ID = "psflow-poll-closed-won"


def poll_schedule(settings: Settings) -> Schedule:
    """Every ``poll_interval_minutes``, look back twice that far (overlapping windows are harmless)."""
    interval = timedelta(minutes=settings.poll_interval_minutes)
    return Schedule(
        action=ScheduleActionStartWorkflow(
            PollClosedWonWorkflow.run,
            PollClosedWonInput(lookback=2 * interval, sla=timedelta(minutes=settings.provisioning_sla_minutes)),
            id=SCHEDULE_ID,
            task_queue=settings.task_queue("flows"),
            execution_timeout=interval,
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=interval)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=interval),
    )


async def apply_poll_schedule(client: Client, settings: Settings) -> str:
    """Create the schedule, or update it to match the settings; returns 'created' or 'updated'."""
    schedule = poll_schedule(settings)
    try:
        await client.create_schedule(SCHEDULE_ID, schedule)
        return "created"
    except ScheduleAlreadyRunningError:

        def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(SCHEDULE_ID).update(replace)
        return "updated"
