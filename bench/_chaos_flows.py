"""What the chaos run asks of psflow, and how it waits for psflow to finish, always within a deadline.

The run acts as the firm's systems and operators would: it starts postings and the month's invoicing
with the CLI, and runs the real polling-fallback Schedule (``poll-closed-won``, 15-minute interval,
30-minute look-back), triggering it every so often to compress its interval into the run's minutes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.client import (
    Client,
    ScheduleActionExecution,
    ScheduleActionExecutionStartWorkflow,
    ScheduleAlreadyRunningError,
)
from temporalio.service import RPCError, RPCStatusCode

from bench._chaos_cli import run_cli
from bench._chaos_world import Deal
from stack.schedules import POLL_CLOSED_WON, poll_schedule, schedule_id
from stack.settings import Settings
from workflows.monthly_invoicing import month_workflow_id
from workflows.post_time_expenses import workflow_id as posting_workflow_id

Say = Callable[[str], None]
CLI_ATTEMPTS = 5
CLOSED = "closed"
MISSING = "missing"
UNKNOWN = "unknown"


@dataclass
class Deadline:
    """The run's global deadline: every wait is bounded by it."""

    at: float

    def left(self) -> float:
        """Seconds left (never negative)."""
        return max(0.0, self.at - time.monotonic())

    def passed(self) -> bool:
        """Whether it has passed."""
        return self.left() == 0.0


async def status_of(client: Client, workflow_id: str) -> str:
    """The latest run's status name (``RUNNING``, ``COMPLETED``, ``FAILED``…), `MISSING`, or `UNKNOWN`."""
    try:
        description = await client.get_workflow_handle(workflow_id).describe()
    except RPCError as exc:
        return MISSING if exc.status is RPCStatusCode.NOT_FOUND else UNKNOWN
    status = description.status
    return status.name if status is not None else UNKNOWN


async def result_of(client: Client, workflow_id: str) -> Any:
    """The latest run's result, or None when it did not complete."""
    try:
        return await asyncio.wait_for(client.get_workflow_handle(workflow_id).result(follow_runs=True), 10)
    except Exception:
        return None


async def cli(settings: Settings, argv: list[str], say: Say) -> bool:
    """Run a psflow command as an operator would, retrying while Temporal is briefly down; True if it succeeded."""
    for attempt in range(CLI_ATTEMPTS):
        outcome = await run_cli(settings, argv)
        if outcome.exit_code == 0:
            return True
        say(f"`psflow {' '.join(argv)}` exited {outcome.exit_code}: {outcome.first_line}")
        if attempt + 1 < CLI_ATTEMPTS:
            await asyncio.sleep(5)
    return False


async def create_poll_schedule(client: Client, settings: Settings) -> str:
    """The polling fallback's real Schedule (with the default interval and look-back); its id."""
    sid = schedule_id(settings, POLL_CLOSED_WON)
    with contextlib.suppress(ScheduleAlreadyRunningError):
        await client.create_schedule(sid, poll_schedule(settings))
    return sid


async def trigger_poll(client: Client, sid: str) -> bool:
    """Run the polling fallback now (skipped by the Schedule if one is still running)."""
    try:
        await client.get_schedule_handle(sid).trigger()
    except RPCError:
        return False
    return True


async def poll_once(client: Client, sid: str, deadline: Deadline, say: Say) -> None:
    """Trigger the polling fallback and wait until a poll started after the trigger has finished.

    The Schedule skips a trigger while a poll runs (its overlap policy), so the trigger is repeated
    until one is taken.
    """
    schedule = client.get_schedule_handle(sid)
    since = datetime.now(UTC) - timedelta(seconds=1)
    while not deadline.passed():
        await trigger_poll(client, sid)
        await asyncio.sleep(min(2.0, deadline.left()))
        try:
            info = (await schedule.describe()).info
        except RPCError:
            continue
        running = {_workflow_id(action) for action in info.running_actions}
        finished = [
            _workflow_id(result.action)
            for result in info.recent_actions
            if result.started_at >= since and _workflow_id(result.action) not in running
        ]
        if finished:
            say(f"polling fallback finished ({finished[-1]})")
            return
        if any(result.started_at >= since for result in info.recent_actions):
            continue  # taken and still running: wait without triggering again
    say("deadline: the polling fallback did not finish")


def _workflow_id(action: ScheduleActionExecution) -> str:
    return action.workflow_id if isinstance(action, ScheduleActionExecutionStartWorkflow) else ""


async def poll_while(client: Client, sid: str, every_s: float, stop: asyncio.Event) -> int:
    """Trigger the polling fallback every ``every_s`` until ``stop``; how many triggers were taken."""
    taken = 0
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), every_s)
        except TimeoutError:
            taken += await trigger_poll(client, sid)
    return taken


async def statuses(client: Client, ids: Sequence[str]) -> dict[str, str]:
    """Status of each workflow id, a few lookups at a time."""
    gate = asyncio.Semaphore(8)

    async def one(workflow_id: str) -> tuple[str, str]:
        async with gate:
            return workflow_id, await status_of(client, workflow_id)

    return dict(await asyncio.gather(*(one(i) for i in ids)))


async def wait_closed(client: Client, ids: Sequence[str], what: str, deadline: Deadline, say: Say) -> dict[str, str]:
    """Wait until none of ``ids`` is running (a missing one counts as settled); returns their statuses."""
    last_said = 0.0
    while True:
        found = await statuses(client, ids)
        running = [i for i, status in found.items() if status in ("RUNNING", UNKNOWN)]
        if not running or deadline.passed():
            if running:
                say(f"deadline: {len(running)} {what} still running, e.g. {running[0]}")
            return found
        if time.monotonic() - last_said > 20:
            tally = ", ".join(f"{n} {s.lower()}" for s, n in sorted(Counter(found.values()).items()))
            say(f"waiting for {what}: {tally}")
            last_said = time.monotonic()
        await asyncio.sleep(min(3.0, deadline.left()))


def provisioning_ids(deals: Sequence[Deal]) -> list[str]:
    """The deals' provisioning workflow ids."""
    return [deal.workflow_id for deal in deals]


def posting_ids(settings: Settings, days: Sequence[Any]) -> list[str]:
    """The days' posting workflow ids."""
    return [posting_workflow_id(day, prefix=settings.task_queue_prefix) for day in days]


def invoicing_id(period: str) -> str:
    """The month's invoicing workflow id (as the CLI starts it)."""
    return month_workflow_id(period)
