"""The Schedule behind the polling fallback: every few minutes, find won deals whose webhook never came."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import (
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
)

from stack.settings import Settings
from workflows.poll_closed_won import PollClosedWonInput, PollClosedWonWorkflow

POLL_CLOSED_WON = "poll-closed-won"


def poll_schedule(settings: Settings) -> Schedule:
    """Every ``poll_interval_minutes``, look back twice that far (overlapping windows are harmless)."""
    interval = timedelta(minutes=settings.poll_interval_minutes)
    return Schedule(
        action=ScheduleActionStartWorkflow(
            PollClosedWonWorkflow.run,
            PollClosedWonInput(lookback=2 * interval, sla=timedelta(minutes=settings.provisioning_sla_minutes)),
            id=POLL_CLOSED_WON,
            task_queue=settings.task_queue("flows"),
            execution_timeout=interval,
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=interval)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=interval),
    )
