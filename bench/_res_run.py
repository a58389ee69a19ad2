"""What the resource sync benchmark arranges and drives: N BambooHR employees, the raw read, the sync runs.

Seeding goes through the BambooHR emulator's bulk hire (``POST /_admin/bamboohr/bulk-hire``, one
transaction: what N ``POST /employees`` would leave, without their HTTP cost), on the emulator's
real clock: HR's change stamps and psflow's own write times must be on one clock, or the sync
cannot tell that it already applied what changed at its mark. The incremental phase's changes are
made the way a person makes them: ``POST /employees/{id}`` through the emulated API, in a later
second than the hires.

The raw baseline reads what a full sync reads from HR, through the same connector and page size:
the change feed from the start (to learn the mark), every page of ``GET /employees``, and the time
off in the window; it keeps nothing and writes nothing.

The sync runs are ``ResourceSyncWorkflow`` started with a client as the ``resource-sync`` schedule
starts it, for the one BambooHR legal entity, as of the sandbox's anchor; their history is summed
over every run of a continue-as-new chain.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from temporalio.client import Client, WorkflowFailureError, WorkflowQueryFailedError
from temporalio.service import RPCError

from activities.resources.models import HRSource
from canonical import DateRange
from stack.connectors import Connectors
from stack.settings import Settings
from workflows.sync_resources import ResourceSyncInput, ResourceSyncProgress, ResourceSyncWorkflow, workflow_id

__all__ = [
    "SOURCE_ENTITY",
    "ResourceSyncError",
    "change_workers",
    "read_raw",
    "sandbox_counts",
    "seed_workers",
    "sync",
    "window",
]

Advance = Callable[[str, int, int], None]
SOURCE_ENTITY = "default"
"""The one legal entity the benchmark's workers belong to."""
DAYS_BACK, DAYS_AHEAD = 7, 90
"""The time off window the sync uses by default (``ResourceSyncInput``), which the raw read reads too."""
_ADMIN = "/_admin/bamboohr"
_PROGRESS_EVERY_S = 2.0
_PER_WORKER = frozenset({"invited", "linked", "updated", "unchanged", "conflicts", "invalid", "skipped"})
"""The outcomes of ``ApplyResult.counts`` that are one per worker (disabling and allocations come on top)."""


class ResourceSyncError(Exception):
    """Seeding, a change or a sync run failed; the message says how, and which workflow to look at."""


def window(today: date) -> DateRange:
    """The time off window of a sync as of ``today``."""
    return DateRange(start=today - timedelta(days=DAYS_BACK), end=today + timedelta(days=DAYS_AHEAD))


async def _admin(sandbox_url: str, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    try:
        async with httpx.AsyncClient(base_url=sandbox_url, timeout=600) as http:
            response = await http.request(method, f"{_ADMIN}{path}", json=body)
    except httpx.HTTPError as exc:
        raise ResourceSyncError(f"the sandbox did not answer {method} {_ADMIN}{path}: {exc}") from exc
    if response.status_code != 200:
        raise ResourceSyncError(f"{method} {_ADMIN}{path} answered {response.status_code}: {response.text[:300]}")
    answer: dict[str, Any] = response.json()
    return answer


async def seed_workers(sandbox_url: str, workers: int, time_off: int, today: date) -> dict[str, Any]:
    """Hire ``workers`` employees with ``time_off`` requests among them now (``at``: their change stamp); timed."""
    await _admin(sandbox_url, "PUT", "/clock", {"now": None})  # the real clock, whatever a test pinned
    started = time.perf_counter()
    body = {"employees": workers, "time_off_requests": time_off, "today": today.isoformat()}
    hired = await _admin(sandbox_url, "POST", "/bulk-hire", {**body, "days_back": DAYS_BACK, "days_ahead": DAYS_AHEAD})
    return {**hired, "seconds": round(time.perf_counter() - started, 2)}


async def sandbox_counts(sandbox_url: str) -> dict[str, dict[str, int]]:
    """Records per kind of every system, as the sandbox reports them (``GET /_admin/status``)."""
    async with httpx.AsyncClient(base_url=sandbox_url, timeout=60) as http:
        status = (await http.get("/_admin/status")).json()
    return {name: dict(system.get("counts", {})) for name, system in status["systems"].items()}


async def read_raw(connectors: Connectors, today: date) -> dict[str, Any]:
    """The raw HR read of a full sync: the change feed, every page of employees, the time off; timed."""
    hr = connectors.bamboohr
    started = time.perf_counter()
    changes = await hr.changed_since(None)
    changed_s = time.perf_counter() - started
    pages = workers = unreadable = 0
    cursor: str | None = None
    while True:
        page = await hr.workers_page(cursor)
        pages += 1
        workers += len(page.items)
        unreadable += len(page.unreadable)
        if (cursor := page.next_cursor) is None:
            break
    pages_s = time.perf_counter() - started - changed_s
    time_off = await hr.time_off(window(today))
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 2),
        "seconds_by_read": {
            "changed": round(changed_s, 2),
            "employees": round(pages_s, 2),
            "time_off": round(seconds - changed_s - pages_s, 2),
        },
        "changes": len(changes.items),
        "pages": pages,
        "workers": workers,
        "unreadable": unreadable,
        "time_off_requests": len(time_off),
        "workers_per_s": round(workers / seconds, 1) if seconds else None,
    }


async def change_workers(connectors: Connectors, count: int, after: datetime) -> list[str]:
    """Give ``count`` benchmark employees a new job title through the API, a second after ``after``; their ids."""
    wait = (after + timedelta(seconds=1) - datetime.now(UTC)).total_seconds()
    await asyncio.sleep(max(wait, 0))  # stamps are whole seconds: the changes must land in a later one
    page = await connectors.bamboohr.workers_page(None)
    ids: list[str] = []
    cursor: str | None = None
    while len(ids) < count:
        ids += [w.id for w in page.items if w.email.endswith("@bulk.psflow.example")][: count - len(ids)]
        if len(ids) >= count or (cursor := page.next_cursor) is None:
            break
        page = await connectors.bamboohr.workers_page(cursor)
    settings = connectors.bamboohr.settings
    async with httpx.AsyncClient(
        base_url=settings.api_root,
        auth=(settings.api_key.get_secret_value(), "x"),
        headers={"Accept": "application/json"},
        timeout=60,
    ) as http:
        for worker_id in ids:
            number = worker_id.rpartition(":")[2]
            response = await http.post(f"/employees/{number}", json={"jobTitle": f"Benchmark title {number}"})
            if response.status_code != 200:
                raise ResourceSyncError(f"changing employee {number} answered {response.status_code}: {response.text}")
    return ids


async def _history(client: Client, workflow_id: str, run_id: str | None) -> tuple[int, int]:
    """Events summed over the run and every run it continued from, and how many runs that is."""
    events = runs = 0
    while run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        events += len(history.events)
        runs += 1
        first = history.events[0].workflow_execution_started_event_attributes
        run_id = first.continued_execution_run_id or None
    return events, runs


async def sync(
    client: Client,
    settings: Settings,
    today: date,
    *,
    full: bool,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Run ``ResourceSyncWorkflow`` for the BambooHR entity as of ``today`` and wait: figures, timed start to result.

    ``progress`` is told every 2 s how many workers the run has applied so far (its ``progress`` query).

    Raises:
        ResourceSyncError: The workflow failed.
    """
    sync_input = ResourceSyncInput(
        sources=[HRSource(legal_entity=SOURCE_ENTITY, hr_system="bamboohr")],
        full=full,
        today=today,
        time_zone=settings.firm_time_zone,
        time_off_days_back=DAYS_BACK,
        time_off_days_ahead=DAYS_AHEAD,
    )
    started = time.perf_counter()
    handle = await client.start_workflow(
        ResourceSyncWorkflow.run,
        sync_input,
        id=workflow_id(prefix=settings.task_queue_prefix),
        task_queue=settings.task_queue("flows"),
    )
    waiting = asyncio.ensure_future(handle.result())
    try:
        while not waiting.done():
            await asyncio.wait({waiting}, timeout=_PROGRESS_EVERY_S)
            if progress is not None and not waiting.done():
                with contextlib.suppress(RPCError, WorkflowQueryFailedError):  # between runs of a chain
                    now = await client.get_workflow_handle(handle.id).query(
                        "progress", result_type=ResourceSyncProgress
                    )
                    progress(sum(n for key, n in now.counts.items() if key in _PER_WORKER))
        result = waiting.result()
    except WorkflowFailureError as failure:
        raise ResourceSyncError(f"{handle.id} failed: {failure.cause}") from None
    finally:
        waiting.cancel()
    seconds = time.perf_counter() - started
    latest = await client.get_workflow_handle(handle.id).describe()  # the last run of a continue-as-new chain
    events, runs = await _history(client, handle.id, latest.run_id)
    dumped = result.model_dump(mode="json") if hasattr(result, "model_dump") else result
    return {
        "seconds": round(seconds, 2),
        "workflow_id": handle.id,
        "history_events": events,
        "runs": runs,
        "result": dumped,
    }
