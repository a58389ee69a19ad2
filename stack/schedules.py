"""The Temporal Schedules psflow runs, built from settings; ``psflow schedule apply`` creates or updates them.

Today there is one, ``te-posting``: the daily time & expense posting at ``posting_time`` in
``firm_time_zone``. It is a Schedule rather than a cron workflow so that operators can pause it,
trigger it, backfill missed days and see its next runs. Each run starts `ScheduledPostingWorkflow`,
which posts the day before the run's scheduled time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleBackfill,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from stack.invoice_schedule import invoice_schedule_spec
from stack.poll_schedule import POLL_CLOSED_WON, poll_schedule
from stack.settings import Settings
from workflows.scheduled_posting import ScheduledPostingInput, ScheduledPostingWorkflow

POSTING = "te-posting"
MONTHLY_INVOICING = "monthly-invoicing"

OVERLAP = {
    "skip": ScheduleOverlapPolicy.SKIP,
    "buffer_one": ScheduleOverlapPolicy.BUFFER_ONE,
    "buffer_all": ScheduleOverlapPolicy.BUFFER_ALL,
    "cancel_other": ScheduleOverlapPolicy.CANCEL_OTHER,
    "terminate_other": ScheduleOverlapPolicy.TERMINATE_OTHER,
    "allow_all": ScheduleOverlapPolicy.ALLOW_ALL,
}


class ScheduleError(Exception):
    """A schedule request that cannot be met; the message says what to change."""


def schedule_id(settings: Settings, name: str = POSTING) -> str:
    """The schedule's id on the server (task queue prefix + name, so staging and tests keep apart)."""
    if name not in SCHEDULES:
        raise ScheduleError(f"unknown schedule {name!r}; psflow's schedules are: {', '.join(SCHEDULES)}")
    return f"{settings.task_queue_prefix}{name}"


def firm_zone(settings: Settings) -> ZoneInfo:
    """The firm's time zone, or a ScheduleError naming the bad value."""
    try:
        return ZoneInfo(settings.firm_time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(
            f"firm_time_zone {settings.firm_time_zone!r} is not an IANA time zone (e.g. Europe/London, "
            "America/New_York): fix PSFLOW_FIRM_TIME_ZONE"
        ) from None


def posting_time(settings: Settings) -> time:
    """The local time of the daily posting."""
    hour, minute = (int(part) for part in settings.posting_time.split(":"))
    return time(hour, minute)


def posting_schedule(settings: Settings) -> Schedule:
    """The daily posting: every day at ``posting_time`` in the firm's zone, posting the day before."""
    firm_zone(settings)
    at = posting_time(settings)
    return Schedule(
        action=ScheduleActionStartWorkflow(
            ScheduledPostingWorkflow.run,
            ScheduledPostingInput(firm_time_zone=settings.firm_time_zone, lookback_days=settings.posting_lookback_days),
            id=f"{settings.task_queue_prefix}te-posting-scheduled",
            task_queue=settings.task_queue("flows"),
            static_summary="Daily time & expense posting: the previous business day, PSA to ERP",
        ),
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(
                    hour=[ScheduleRange(at.hour)],
                    minute=[ScheduleRange(at.minute)],
                    comment=f"daily at {settings.posting_time} {settings.firm_time_zone}",
                )
            ],
            time_zone_name=settings.firm_time_zone,
        ),
        policy=SchedulePolicy(
            overlap=OVERLAP[settings.posting_overlap],
            catchup_window=timedelta(hours=settings.posting_catchup_window_hours),
        ),
    )


SCHEDULES: dict[str, Callable[[Settings], Schedule]] = {
    POSTING: posting_schedule,
    POLL_CLOSED_WON: poll_schedule,
    MONTHLY_INVOICING: invoice_schedule_spec,
}


async def apply(client: Client, settings: Settings) -> list[tuple[str, str]]:
    """Create every schedule, or update the ones that exist (keeping whether they are paused).

    Returns:
        ``(schedule id, "created" | "updated")`` per schedule.
    """
    done = []
    for name, build in SCHEDULES.items():
        schedule, sid = build(settings), schedule_id(settings, name)
        try:
            await client.create_schedule(sid, schedule)
            done.append((sid, "created"))
        except ScheduleAlreadyRunningError:

            def keep_state(current: ScheduleUpdateInput, new: Schedule = schedule) -> ScheduleUpdate:
                return ScheduleUpdate(schedule=dataclasses.replace(new, state=current.description.schedule.state))

            await client.get_schedule_handle(sid).update(keep_state)
            done.append((sid, "updated"))
    return done


def posting_backfill(settings: Settings, first: date, last: date, *, today: date) -> ScheduleBackfill:
    """The backfill that makes the daily posting post business dates ``first`` to ``last``, inclusive.

    The run for a date is scheduled at ``posting_time`` the next day, so the window covers those
    scheduled times (with a minute's margin on each side; the schedule fires once a day).

    Args:
        today: Today in the firm's zone: only days before it can be backfilled.
    """
    if last < first:
        raise ScheduleError(f"--to {last} is before --from {first}: give the earlier date first")
    if last >= today:
        raise ScheduleError(
            f"--to {last} is not in the past; a backfill posts past days only (post today's approved "
            f"records with `psflow posting run --date {last}`)"
        )
    zone, at = firm_zone(settings), posting_time(settings)
    start = datetime.combine(first + timedelta(days=1), at, zone)
    end = datetime.combine(last + timedelta(days=1), at, zone)
    margin = timedelta(minutes=1)
    return ScheduleBackfill(start_at=start - margin, end_at=end + margin, overlap=ScheduleOverlapPolicy.BUFFER_ALL)
