"""A worker process killed mid-saga: a new worker finishes the run, and nothing is created twice."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from temporalio.client import Client

from stack.connectors import Connectors
from stack.flows import trigger_provisioning
from stack.settings import Settings
from tests.flows.conftest import WinDeal, inject, sink_events

ROOT = Path(__file__).resolve().parents[2]


async def start_worker(settings: Settings) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "PSFLOW_TEMPORAL__ADDRESS": settings.temporal.address,
        "PSFLOW_TASK_QUEUE_PREFIX": settings.task_queue_prefix,
        "PSFLOW_DATA_DIR": str(settings.data_dir),
        "PSFLOW_SANDBOX_URL": settings.sandbox_url,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "worker.py"), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert process.stdout is not None
    output = b""
    while b"psflow worker polling" not in output:
        line = await asyncio.wait_for(process.stdout.readline(), timeout=60)
        assert line, f"worker exited before polling: {output.decode()}"
        output += line
    return process


async def test_a_killed_worker_mid_saga_is_replaced_and_the_run_completes_once(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors, win_deal: WinDeal, clear_faults: None
) -> None:
    deal = await win_deal("salesforce")
    engagement_id = f"salesforce:{deal}"
    # Slow the ERP job down so the first worker is certainly inside the saga when it dies.
    await inject(flow_settings.sandbox_url, "netsuite", latency_ms=5000, path_regex="/record/v1/job/", times=1)
    first = await start_worker(flow_settings)
    second = None
    try:
        handle, _ = await trigger_provisioning(
            temporal_client, flow_settings, crm="salesforce", opportunity_id=deal, source="cli"
        )
        # Kill only once the slowed ERP request is in flight, so the ERP step is interrupted mid-call.
        async with httpx.AsyncClient() as http:
            for _ in range(600):
                faults = (await http.get(f"{flow_settings.sandbox_url}/_admin/faults")).json()
                if faults["counters"].get("netsuite", {}).get("latency", 0) >= 1:
                    break
                await asyncio.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        await first.wait()
        second = await start_worker(flow_settings)
        result = await asyncio.wait_for(handle.result(), timeout=90)
    finally:
        for process in (first, second):
            if process is not None and process.returncode is None:
                process.kill()
                await process.wait()
    assert result.state == "provisioned"
    query = f"SELECT id FROM job WHERE externalid = '{engagement_id}'"
    jobs = [row async for row in connectors.netsuite.suiteql(query)]
    assert len(jobs) == 1
    assert await connectors.kantata.find_project_by_external_id(engagement_id) == result.psa_project_id
    assert len(await sink_events(flow_settings.sandbox_url, engagement_id)) == 1
    history = await handle.fetch_history()
    started = [e for e in history.events if e.HasField("activity_task_started_event_attributes")]
    assert any(e.activity_task_started_event_attributes.attempt > 1 for e in started), "the ERP step was retried"
