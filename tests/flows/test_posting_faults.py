"""Posting under failure: throttling, server errors, lost commits and a worker killed mid-run.

Whatever fails, every approved record of the day ends up in the ERP exactly once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

import worker
from stack.connectors import Connectors
from stack.flows import start_posting
from stack.settings import Settings
from tests.flows.conftest import inject
from tests.flows.test_posting import approved, in_erp, ledger_ids, netsuite_governance, post, seeded_day

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.mark.parametrize(
    ("back", "options"),
    [(10, {"pages_per_activity": 1}), (11, {"pages_per_activity": 50, "seconds_per_activity": 0.3})],
    ids=["one-page-calls", "pages-overlap-and-time-boxed-calls"],
)
async def test_429s_5xx_and_lost_commits_still_post_each_record_exactly_once(
    temporal_client: Client,
    flow_settings: Settings,
    connectors: Connectors,
    clear_faults: None,
    back: int,
    options: dict[str, float],
) -> None:
    # With several pages per call, the next page posts while the last records of the one before are
    # still in flight, and a call hands back after its time box with pages in the air: a fault on
    # any of them must neither lose nor repeat a record.
    day = seeded_day(back)
    time_ids, expense_ids = await approved(connectors, day)
    fault = {
        "rate_limit": 0.1,
        "server_error": 0.1,
        "commit_then_fail": 0.1,
        "retry_after_s": 0,
        "times": 12,
        "seed": 7,
        "path_regex": "timeBill|expenseReport|suiteql",
    }
    async with httpx.AsyncClient() as http:
        (await http.put(f"{flow_settings.sandbox_url}/_admin/faults/netsuite", json=fault)).raise_for_status()
        async with worker.running_workers(temporal_client, flow_settings):
            result = await post(temporal_client, flow_settings, day, page_size=5, **options)
        injected = (await http.get(f"{flow_settings.sandbox_url}/_admin/faults")).json()

    counters = injected["counters"]["netsuite"]
    assert counters["rate_limit"] and counters["server_error"] and counters["commit_then_fail"], counters
    total = len(time_ids) + len(expense_ids)
    assert (result.posted, result.already_posted, result.rejected, result.failed) == (total, 0, 0, 0), result
    bills, reports = await in_erp(connectors, day)
    assert all(bills[i] == 1 for i in time_ids) and all(reports[i] == 1 for i in expense_ids), (bills, reports)
    assert ledger_ids(flow_settings, day) == time_ids | expense_ids


FLAKY: dict[str, dict[str, Any]] = {
    # About a quarter of all requests fail: throttled, unavailable, 500, hung until a 504; NetSuite
    # also commits some writes and then answers 500. Retry-After is a real second.
    system: {
        "rate_limit": 0.06,
        "unavailable": 0.06,
        "server_error": 0.06,
        "timeout": 0.03,
        "timeout_s": 0.2,
        "latency_ms": 20,
        "retry_after_s": 1,
        "seed": seed,
        **extra,
    }
    for system, seed, extra in (("netsuite", 21, {"commit_then_fail": 0.05}), ("kantata", 22, {}))
}
FLAKY_DAY_S = 150
"""Bound on a flaky day's posting: it takes seconds; before reads were retried and kept, minutes."""


async def _calls(handle: WorkflowHandle[Any, Any], activity_type: str) -> list[tuple[RetryPolicy, timedelta, int]]:
    """Each call of an activity: its retry policy, its schedule-to-close timeout and the attempt it finished on.

    History keeps only a call's last attempt, so that attempt says how many the call needed.
    """
    events = [event async for event in handle.fetch_history_events()]
    scheduled = {
        event.event_id: event.activity_task_scheduled_event_attributes
        for event in events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and event.activity_task_scheduled_event_attributes.activity_type.name == activity_type
    }
    calls = []
    for event in events:
        started = event.activity_task_started_event_attributes
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED and started.scheduled_event_id in scheduled:
            options = scheduled[started.scheduled_event_id]
            policy = RetryPolicy.from_proto(options.retry_policy)
            calls.append((policy, options.schedule_to_close_timeout.ToTimedelta(), started.attempt))
    return calls


async def test_a_day_with_a_quarter_of_requests_failing_posts_each_record_once_in_few_attempts(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors, clear_faults: None
) -> None:
    # Before lookups were retried in-process and kept, ~30 SuiteQL lookups per page went all-or-nothing
    # and a page under faults took attempt after attempt, with Temporal's backoff between them.
    day = seeded_day(14)
    time_ids, expense_ids = await approved(connectors, day)
    async with httpx.AsyncClient(base_url=flow_settings.sandbox_url) as admin:
        for system, fault in FLAKY.items():
            (await admin.put(f"/_admin/faults/{system}", json=fault)).raise_for_status()
        async with worker.running_workers(temporal_client, flow_settings):
            handle = await start_posting(temporal_client, flow_settings, day)
            try:
                result = await asyncio.wait_for(handle.result(), timeout=FLAKY_DAY_S)
            except TimeoutError:
                await handle.terminate("the flaky day did not post in time")
                raise AssertionError(f"the day had not posted after {FLAKY_DAY_S} s of faults") from None
        counters = (await admin.get("/_admin/faults")).json()["counters"]
        (await admin.delete("/_admin/faults")).raise_for_status()

    assert all(counters[system]["server_error"] for system in FLAKY), counters
    total = len(time_ids) + len(expense_ids)
    assert (result.posted, result.already_posted, result.rejected, result.failed) == (total, 0, 0, 0), result
    bills, reports = await in_erp(connectors, day)
    assert all(bills[i] == 1 for i in time_ids) and all(reports[i] == 1 for i in expense_ids), (bills, reports)
    assert ledger_ids(flow_settings, day) == time_ids | expense_ids
    # A call that posted something hands back; Temporal retries only calls that could post nothing.
    calls = await _calls(handle, "erp.post_approved_page")
    assert calls and max(attempt for _, _, attempt in calls) <= 3, calls
    # An outage of 15-20 minutes is outlasted: no attempt limit, hours before a call gives up.
    assert all(policy.maximum_attempts == 0 and budget >= timedelta(hours=1) for policy, budget, _ in calls), calls


async def test_an_outage_longer_than_retry_for_stops_the_day_and_says_what_failed(
    temporal_client: Client, flow_settings: Settings, clear_faults: None
) -> None:
    day = seeded_day(13)
    await inject(flow_settings.sandbox_url, "netsuite", unavailable=1.0, retry_after_s=0)
    async with worker.running_workers(temporal_client, flow_settings):
        # Attempts end at about 0.5, 2 and 4.5 s; the 8.5 s one would start past the budget, so the
        # posting stops at 4.5 s naming the last attempt's failure.
        handle = await start_posting(temporal_client, flow_settings, day, retry_for=timedelta(seconds=7))
        with pytest.raises(WorkflowFailureError) as failed:
            await handle.result()
    stopped = failed.value.cause
    assert isinstance(stopped, ApplicationError) and stopped.type == "PostingStopped", stopped
    assert "still failing after 0:00:07 of retries, last with" in stopped.message and "503" in stopped.message, (
        stopped.message
    )
    assert f"psflow posting run --date {day}" in stopped.message
    assert not ledger_ids(flow_settings, day)


async def _until(condition: Callable[[], bool], timeout_s: float = 60) -> None:
    for _ in range(int(timeout_s * 10)):
        if condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not reached within {timeout_s} s")


def _worker_env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "PSFLOW_TEMPORAL__ADDRESS": settings.temporal.address,
        "PSFLOW_TASK_QUEUE_PREFIX": settings.task_queue_prefix,
        "PSFLOW_DATA_DIR": str(settings.data_dir),
        "PSFLOW_SANDBOX_URL": settings.sandbox_url,
    }


async def _start_worker(settings: Settings) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "worker.py"),
        env=_worker_env(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert process.stdout is not None
    output = b""
    while b"psflow worker polling" not in output:
        line = await asyncio.wait_for(process.stdout.readline(), timeout=60)
        assert line, f"the worker exited before polling: {output.decode()}"
        output += line
    return process


async def test_a_worker_killed_mid_run_leaves_the_run_to_another_and_each_record_posted_once(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors
) -> None:
    day = seeded_day(12)
    time_ids, expense_ids = await approved(connectors, day)
    before = await netsuite_governance(flow_settings.sandbox_url)
    # Each NetSuite request holds its slot for a while, so the kill lands in the middle of the day.
    await netsuite_governance(flow_settings.sandbox_url, limit=5, service_time_ms=150)
    processes: list[asyncio.subprocess.Process] = []
    try:
        processes.append(await _start_worker(flow_settings))
        handle = await start_posting(
            temporal_client, flow_settings, day, page_size=10, heartbeat_timeout=timedelta(seconds=3)
        )
        await _until(lambda: len(ledger_ids(flow_settings, day)) >= 5)
        processes[0].send_signal(signal.SIGKILL)
        await processes[0].wait()
        posted_by_the_first = len(ledger_ids(flow_settings, day))
        processes.append(await _start_worker(flow_settings))
        result = await asyncio.wait_for(handle.result(), timeout=120)
    finally:
        for process in processes:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                await process.wait()
        await netsuite_governance(
            flow_settings.sandbox_url, limit=before["concurrency_limit"], service_time_ms=before["service_time_ms"]
        )

    total = len(time_ids) + len(expense_ids)
    assert 5 <= posted_by_the_first < total
    # Rows the killed worker wrote carry this run's id, so they count as posted by this run, once.
    assert (result.posted, result.already_posted, result.rejected, result.failed) == (total, 0, 0, 0), result
    bills, reports = await in_erp(connectors, day)
    assert all(bills[i] == 1 for i in time_ids) and all(reports[i] == 1 for i in expense_ids), (bills, reports)
    assert ledger_ids(flow_settings, day) == time_ids | expense_ids
