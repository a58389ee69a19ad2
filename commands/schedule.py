"""``psflow schedule``: the Temporal Schedules of `stack.schedules` (daily posting, polling, monthly invoicing,
exception sweep, reconciliation, resource sync)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from commands._common import UserError, friendly, out, settings, table, temporal, workflow_url

if TYPE_CHECKING:
    from temporalio.client import Client, ScheduleHandle

    from stack.settings import Settings

app = typer.Typer(
    help="Temporal Schedules: daily posting, polling fallback, monthly invoicing, exception sweep, reconciliation, "
    "resource sync.",
    no_args_is_help=True,
)

NameArgument = Annotated[
    str,
    typer.Argument(
        help="The schedule: te-posting, poll-closed-won, monthly-invoicing, exception-sweep, reconciliation or "
        "resource-sync."
    ),
]
NoteOption = Annotated[str | None, typer.Option(help="Why; shown by `psflow schedule describe`.")]
T = TypeVar("T")


def _run(call: Callable[[Settings, Client], Awaitable[T]]) -> T:
    """Run ``call`` with the settings and a Temporal client, turning schedule errors into one-line errors."""
    from temporalio.service import RPCError, RPCStatusCode

    from stack.schedules import ScheduleError

    config = settings()

    async def main() -> T:
        return await call(config, await temporal(config))

    try:
        return asyncio.run(main())
    except ScheduleError as exc:
        raise UserError(str(exc)) from None
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise UserError(f"{exc.message}: create the schedules with `psflow schedule apply`") from None
        raise UserError(f"Temporal refused: {exc.message}") from None


def _handle(config: Settings, client: Client, name: str) -> ScheduleHandle:
    from stack.schedules import handle

    return handle(client, config, name)


def _when(moment: datetime | None, config: Settings) -> str:
    from stack.schedules import firm_zone

    return "-" if moment is None else f"{moment.astimezone(firm_zone(config)):%Y-%m-%d %H:%M %Z}"


def _posts(moment: datetime, config: Settings) -> str:
    from workflows.scheduled_posting import business_date_for

    return business_date_for(moment, config.firm_time_zone).isoformat()


@app.command("apply")
@friendly
def apply() -> None:
    """Create psflow's schedules from the settings, or update them (a paused schedule stays paused)."""
    from stack import schedules

    async def call(config: Settings, client: Client) -> list[tuple[str, str]]:
        return await schedules.apply(client, config)

    done = _run(call)
    config = settings()
    result = table("schedule", "what", "runs")
    for schedule_id, what in done:
        result.add_row(
            schedule_id, what, schedules.SCHEDULES[schedule_id.removeprefix(config.task_queue_prefix)].runs(config)
        )
    out.print(result)


@app.command("list")
@friendly
def list_schedules() -> None:
    """List psflow's schedules with their state and next run."""
    from stack.schedules import describe_all

    async def call(config: Settings, client: Client) -> list[Any]:
        return await describe_all(client, config)

    found = _run(call)
    config = settings()
    if not found:
        out.print("no psflow schedules on this server: create them with `psflow schedule apply`")
        return
    result = table("schedule", "state", "next run", "posts (te-posting)", "last run", "runs")
    for description in found:
        state = description.schedule.state
        upcoming = description.info.next_action_times[:1]
        recent = description.info.recent_actions[-1:]
        result.add_row(
            description.id,
            f"paused ({state.note})" if state.paused and state.note else "paused" if state.paused else "active",
            _when(upcoming[0], config) if upcoming else "-",
            _posts(upcoming[0], config) if upcoming and description.id.endswith("te-posting") else "-",
            _when(recent[0].scheduled_at, config) if recent else "-",
            str(description.info.num_actions),
        )
    out.print(result)


@app.command("describe")
@friendly
def describe(name: NameArgument = "te-posting") -> None:
    """Show a schedule: when it runs, its policies, its next runs and what its recent runs posted."""

    async def call(config: Settings, client: Client) -> Any:
        return await _handle(config, client, name).describe()

    description = _run(call)
    config = settings()
    schedule, info = description.schedule, description.info
    spec = schedule.spec
    comments = ", ".join(c.comment for c in spec.calendars if c.comment) or str(spec)
    state = schedule.state
    out.print(
        f"[bold]{description.id}[/bold]  {'paused' if state.paused else 'active'}"
        + (f" — {state.note}" if state.note else "")
    )
    out.print(f"runs: {comments} (time zone {spec.time_zone_name or 'UTC'})", highlight=False)
    out.print(
        f"overlap: {schedule.policy.overlap.name.lower()}, catch-up window: {schedule.policy.catchup_window}, "
        f"actions so far: {info.num_actions} (missed {info.num_actions_missed_catchup_window}, "
        f"skipped for overlap {info.num_actions_skipped_overlap})",
        highlight=False,
    )
    upcoming = table("next run", "posts business date", title="next runs")
    for moment in info.next_action_times[:5]:
        upcoming.add_row(_when(moment, config), _posts(moment, config))
    out.print(upcoming)
    recent = table("scheduled", "started", "posts", "workflow", title="recent runs")
    for action in info.recent_actions[-10:]:
        workflow_id = getattr(action.action, "workflow_id", "-")
        run_id = getattr(action.action, "first_execution_run_id", None)
        recent.add_row(
            _when(action.scheduled_at, config),
            _when(action.started_at, config),
            _posts(action.scheduled_at, config),
            workflow_url(config, workflow_id, run_id),
        )
    out.print(recent)


@app.command("trigger")
@friendly
def trigger(name: NameArgument = "te-posting") -> None:
    """Run the schedule's action now (te-posting: yesterday, in the firm's time zone).

    The daily posting runs even beside a running one (it posts each record once whatever runs it);
    the other schedules keep their own overlap policy, so a trigger beside a running sync is skipped.
    """
    from temporalio.client import ScheduleOverlapPolicy

    from stack.schedules import POSTING

    async def call(config: Settings, client: Client) -> None:
        overlap = ScheduleOverlapPolicy.ALLOW_ALL if name == POSTING else None
        await _handle(config, client, name).trigger(overlap=overlap)

    _run(call)
    follow = f"follow it with `psflow schedule describe {name}`"
    if name != POSTING:
        out.print(f"triggered {name}; {follow}")
        return
    day = _posts(datetime.now().astimezone(), settings())
    out.print(f"triggered {name}: it posts business date {day}; {follow}")


@app.command("pause")
@friendly
def pause(name: NameArgument = "te-posting", note: NoteOption = None) -> None:
    """Stop the schedule starting runs until `unpause` (running postings carry on)."""

    async def call(config: Settings, client: Client) -> None:
        await _handle(config, client, name).pause(note=note or "paused with `psflow schedule pause`")

    _run(call)
    out.print(f"paused {name}")


@app.command("unpause")
@friendly
def unpause(name: NameArgument = "te-posting", note: NoteOption = None) -> None:
    """Let the schedule start runs again (missed runs within the catch-up window still run)."""

    async def call(config: Settings, client: Client) -> None:
        await _handle(config, client, name).unpause(note=note or "unpaused with `psflow schedule unpause`")

    _run(call)
    out.print(f"unpaused {name}")


@app.command("backfill")
@friendly
def backfill(
    start: Annotated[datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="First business date to post.")],
    end: Annotated[datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="Last business date to post.")],
    name: NameArgument = "te-posting",
) -> None:
    """Post past business dates through the schedule, one run per day, oldest first (re-posting is safe)."""
    from stack.schedules import firm_zone, posting_backfill

    first, last = start.date(), end.date()
    if last < first:
        raise UserError(f"--to {last} is before --from {first}: give the earlier date first")

    async def call(config: Settings, client: Client) -> int:
        today = datetime.now(firm_zone(config)).date()
        await _handle(config, client, name).backfill(posting_backfill(config, first, last, today=today))
        return (last - first).days + 1

    days = _run(call)
    out.print(
        f"backfilling {name}: {days} run(s) posting {first} to {last}, one after another; "
        f"follow them with `psflow schedule describe {name}`"
    )
