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

import httpx
import pytest
from temporalio.client import Client

import worker
from stack.connectors import Connectors
from stack.flows import start_posting
from stack.settings import Settings
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
