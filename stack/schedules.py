"""The Temporal Schedules psflow runs, built from settings: one definition each, one way to apply and read them.

- ``te-posting``: the daily time & expense posting at ``posting_time`` in ``firm_time_zone``. Each
  run is a `ScheduledPostingWorkflow`, which posts the day before the run's scheduled time.
- ``poll-closed-won``: every ``poll_interval_minutes``, a `PollClosedWonWorkflow` provisions won deals
  whose webhook never came.
- ``monthly-invoicing``: the 1st of each month at 03:00 in the firm's time zone, after the posting
  has posted the month's last day. Each run is a `MonthlyInvoicingWorkflow` for the month before,
  read from its ``TemporalScheduledStartTime``, so a late, caught-up or backfilled run still
  invoices the month it was scheduled for.
- ``exception-sweep``: every ``exception_sweep_minutes``, an `ExceptionSweepWorkflow` escalates the
  exceptions past their SLA (as of the run's scheduled time) and publishes an event for each.
- ``reconciliation``: the 2nd of each month at 04:00 in the firm's time zone, once the month's
  posting and invoicing have run. Each run is a `ReconcileWorkflow` for the month before, read
  from its ``TemporalScheduledStartTime`` in the same way.
- ``resource-sync``: every ``resource_sync_minutes`` (hourly by default), a `ResourceSyncWorkflow`
  brings each legal entity's HR changes (a full sweep every ``resource_full_sweep_hours``) and time
  off into the PSA. A sync still running makes the next one skip; a missed one is not caught up, as
  the next reads everything since the mark.

They are Schedules rather than cron workflows so that operators can pause them, trigger them,
backfill missed days and see their next runs (``psflow schedule …``). Ids carry the task-queue
prefix, so stacks sharing a server keep their own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleBackfill,
    ScheduleCalendarSpec,
    ScheduleDescription,
    ScheduleHandle,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from activities.resources.models import HRSource, ResourcePolicy
from canonical.calendar import billing_period
from stack.settings import Settings
from workflows.exception_sweep import ExceptionSweepInput, ExceptionSweepWorkflow
from workflows.monthly_invoicing import MonthlyInvoicingInput, MonthlyInvoicingWorkflow
from workflows.poll_closed_won import PollClosedWonInput, PollClosedWonWorkflow
from workflows.reconcile import ReconcileInput, ReconcileWorkflow
from workflows.scheduled_posting import ScheduledPostingInput, ScheduledPostingWorkflow
from workflows.sync_resources import ResourceSyncInput, ResourceSyncWorkflow, workflow_id

POSTING = "te-posting"
POLL_CLOSED_WON = "poll-closed-won"
MONTHLY_INVOICING = "monthly-invoicing"
EXCEPTION_SWEEP = "exception-sweep"
RECONCILIATION = "reconciliation"
RESOURCE_SYNC = "resource-sync"

OVERLAP = {
    "skip": ScheduleOverlapPolicy.SKIP,
    "buffer_one": ScheduleOverlapPolicy.BUFFER_ONE,
    "buffer_all": ScheduleOverlapPolicy.BUFFER_ALL,
    "cancel_other": ScheduleOverlapPolicy.CANCEL_OTHER,
    "terminate_other": ScheduleOverlapPolicy.TERMINATE_OTHER,
    "allow_all": ScheduleOverlapPolicy.ALLOW_ALL,
}
INVOICING_DAY, INVOICING_HOUR = 1, 3
INVOICING_CATCHUP_WINDOW = timedelta(days=7)
"""A monthly invoicing missed while the server was down still runs if it comes back within a week."""
RECONCILIATION_DAY, RECONCILIATION_HOUR = 2, 4


class ScheduleError(Exception):
    """A schedule request that cannot be met; the message says what to change."""


@dataclass(frozen=True)
class ScheduleDefinition:
    """One of psflow's schedules: how to build it from settings, and when it runs, in words."""

    build: Callable[[Settings], Schedule]
    runs: Callable[[Settings], str]


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


def invoicing_schedule(settings: Settings) -> Schedule:
    """The monthly invoicing: the 1st at 03:00 in the firm's zone, invoicing the month before."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            MonthlyInvoicingWorkflow.run,
            MonthlyInvoicingInput(time_zone=settings.firm_time_zone),
            id=schedule_id(settings, MONTHLY_INVOICING),
            task_queue=settings.task_queue("flows"),
            static_summary="Monthly invoicing for the month before",
        ),
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(day_of_month=[ScheduleRange(INVOICING_DAY)], hour=[ScheduleRange(INVOICING_HOUR)])
            ],
            time_zone_name=settings.firm_time_zone,
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.BUFFER_ONE, catchup_window=INVOICING_CATCHUP_WINDOW),
    )


def exception_sweep_schedule(settings: Settings) -> Schedule:
    """Every ``exception_sweep_minutes``: escalate what is due. A sweep still running makes the next one skip;
    a missed one is not caught up, as the next sweep escalates everything due by its own time."""
    interval = timedelta(minutes=settings.exception_sweep_minutes)
    return Schedule(
        action=ScheduleActionStartWorkflow(
            ExceptionSweepWorkflow.run,
            ExceptionSweepInput(),
            id=schedule_id(settings, EXCEPTION_SWEEP),
            task_queue=settings.task_queue("flows"),
            static_summary="Escalate the exceptions past their SLA",
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=interval)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=interval),
    )


def reconciliation_schedule(settings: Settings) -> Schedule:
    """The monthly reconciliation: the 2nd at 04:00 in the firm's zone, reconciling the month before."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            ReconcileWorkflow.run,
            ReconcileInput(time_zone=settings.firm_time_zone, prefix=settings.task_queue_prefix),
            id=schedule_id(settings, RECONCILIATION),
            task_queue=settings.task_queue("flows"),
            static_summary="Monthly reconciliation of the month before: PSA, ERP and posting ledger",
        ),
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(
                    day_of_month=[ScheduleRange(RECONCILIATION_DAY)], hour=[ScheduleRange(RECONCILIATION_HOUR)]
                )
            ],
            time_zone_name=settings.firm_time_zone,
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.BUFFER_ONE, catchup_window=INVOICING_CATCHUP_WINDOW),
    )


def resource_sync_input(settings: Settings, *, full: bool = False, **options: Any) -> ResourceSyncInput:
    """The sync's input from the settings: each legal entity's HR system, the sweep, time-off window and policy.

    Args:
        options: Other ``ResourceSyncInput`` fields (``today``, ``worker_ids``, ``batch_size`` ...).
    """
    return ResourceSyncInput(
        sources=[HRSource(legal_entity=entity, hr_system=system) for entity, system in settings.hr_systems.items()],
        full=full,
        full_sweep_every=timedelta(hours=settings.resource_full_sweep_hours),
        time_off_days_back=settings.resource_time_off_days_back,
        time_off_days_ahead=settings.resource_time_off_days_ahead,
        time_zone=settings.firm_time_zone,
        policy=ResourcePolicy(
            cost_centres=None if settings.resource_cost_centres is None else tuple(settings.resource_cost_centres),
            unknown_skills=settings.resource_unknown_skills,
            skill_map=settings.resource_skill_map,
        ),
        **options,
    )


def resource_sync_schedule(settings: Settings) -> Schedule:
    """Every ``resource_sync_minutes``: HR to the PSA. A sync still running makes the next one skip, and a
    missed one is not caught up: the next reads HR's changes since the mark, the sweep what any missed."""
    firm_zone(settings)
    interval = timedelta(minutes=settings.resource_sync_minutes)
    return Schedule(
        action=ScheduleActionStartWorkflow(
            ResourceSyncWorkflow.run,
            resource_sync_input(settings),
            id=workflow_id(settings.task_queue_prefix),
            task_queue=settings.task_queue("flows"),
            static_summary="Resource sync: HR workers, leavers and time off to the PSA",
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=interval)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=interval),
    )


SCHEDULES: dict[str, ScheduleDefinition] = {
    POSTING: ScheduleDefinition(
        posting_schedule, lambda s: f"daily at {s.posting_time} {s.firm_time_zone}: post the day before"
    ),
    POLL_CLOSED_WON: ScheduleDefinition(
        poll_schedule,
        lambda s: f"every {s.poll_interval_minutes:g} min: provision won deals whose webhook never came",
    ),
    MONTHLY_INVOICING: ScheduleDefinition(
        invoicing_schedule,
        lambda s: f"the 1st at {INVOICING_HOUR:02d}:00 {s.firm_time_zone}: invoice the month before",
    ),
    EXCEPTION_SWEEP: ScheduleDefinition(
        exception_sweep_schedule,
        lambda s: f"every {s.exception_sweep_minutes:g} min: escalate exceptions past their SLA",
    ),
    RECONCILIATION: ScheduleDefinition(
        reconciliation_schedule,
        lambda s: f"the 2nd at {RECONCILIATION_HOUR:02d}:00 {s.firm_time_zone}: reconcile the month before",
    ),
    RESOURCE_SYNC: ScheduleDefinition(
        resource_sync_schedule,
        lambda s: (
            f"every {s.resource_sync_minutes:g} min: HR workers and time off to the PSA "
            f"({', '.join(f'{entity}: {system}' for entity, system in s.hr_systems.items())}; "
            f"full sweep every {s.resource_full_sweep_hours:g} h)"
        ),
    ),
}


def schedule_id(settings: Settings, name: str = POSTING) -> str:
    """The schedule's id on the server (task queue prefix + name, so staging and tests keep apart)."""
    if name not in SCHEDULES:
        raise ScheduleError(f"unknown schedule {name!r}; psflow's schedules are: {', '.join(SCHEDULES)}")
    return f"{settings.task_queue_prefix}{name}"


def handle(client: Client, settings: Settings, name: str = POSTING) -> ScheduleHandle:
    """The handle of one of psflow's schedules (trigger, pause, backfill, describe, delete)."""
    return client.get_schedule_handle(schedule_id(settings, name))


async def apply(client: Client, settings: Settings) -> list[tuple[str, str]]:
    """Create every schedule, or update the ones that exist (keeping whether they are paused).

    Returns:
        ``(schedule id, "created" | "updated")`` per schedule.
    """
    done = []
    for name, definition in SCHEDULES.items():
        schedule, sid = definition.build(settings), schedule_id(settings, name)
        try:
            await client.create_schedule(sid, schedule)
            done.append((sid, "created"))
        except ScheduleAlreadyRunningError:

            def keep_state(current: ScheduleUpdateInput, new: Schedule = schedule) -> ScheduleUpdate:
                return ScheduleUpdate(schedule=dataclasses.replace(new, state=current.description.schedule.state))

            await client.get_schedule_handle(sid).update(keep_state)
            done.append((sid, "updated"))
    return done


async def describe_all(client: Client, settings: Settings) -> list[ScheduleDescription]:
    """psflow's schedules that exist on the server (with this task-queue prefix), described."""
    ours = {schedule_id(settings, name) for name in SCHEDULES}
    return [
        await client.get_schedule_handle(entry.id).describe()
        async for entry in await client.list_schedules()
        if entry.id in ours
    ]


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


def reconciliation_backfill(settings: Settings, first: str, last: str, *, now: datetime) -> ScheduleBackfill:
    """The backfill that makes the monthly reconciliation reconcile periods ``first`` to ``last`` (YYYY-MM).

    The run for a period is scheduled on the 2nd of the month after it at 04:00, so the window covers
    those scheduled times, with a minute's margin on each side.

    Args:
        now: The present: a period whose scheduled run is still ahead cannot be backfilled.
    """
    start, end = (_reconciliation_time(settings, period) for period in (first, last))
    if end < start:
        raise ScheduleError(f"--to {last} is before --from {first}: give the earlier period first")
    if end > now:
        raise ScheduleError(
            f"--to {last}: its reconciliation is scheduled for {end:%Y-%m-%d %H:%M %Z}, not yet; reconcile it "
            f"now (provisionally, while the month is open) with `psflow reconcile --period {last}`"
        )
    margin = timedelta(minutes=1)
    return ScheduleBackfill(start_at=start - margin, end_at=end + margin, overlap=ScheduleOverlapPolicy.BUFFER_ALL)


def _reconciliation_time(settings: Settings, period: str) -> datetime:
    """When the schedule reconciles ``period``: the 2nd of the month after, 04:00 in the firm's zone."""
    try:
        days = billing_period(period)
    except ValueError as exc:
        raise ScheduleError(str(exc)) from None
    month_after = days.end + timedelta(days=1)
    return datetime.combine(month_after.replace(day=RECONCILIATION_DAY), time(RECONCILIATION_HOUR), firm_zone(settings))
