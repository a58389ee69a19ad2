"""The worker's own wiring runs workflows end to end on the real dev server."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

from temporalio.api.enums.v1 import TaskQueueKind, TaskQueueType
from temporalio.api.taskqueue.v1 import PollerInfo, TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

import worker
from stack.flows import check_stack, start_posting
from stack.settings import Settings
from tests.budgets.workers import worker_process
from tests.flows.test_posting import netsuite_governance, seeded_day
from workflows._queues import DOMAINS

ROOT = Path(__file__).resolve().parent.parent


async def test_stack_check_answers_on_every_domain_queue(temporal_client: Client, settings: Settings) -> None:
    async with worker.running_workers(temporal_client, settings):
        result = await check_stack(temporal_client, settings, f"stack-check-{uuid.uuid4()}")
    assert sorted(result.domains) == sorted(DOMAINS)
    assert {answer.task_queue for answer in result.answers} == {settings.task_queue(d) for d in DOMAINS}


async def test_worker_process_serves_and_stops_gracefully_on_sigterm(
    temporal_client: Client, settings: Settings
) -> None:
    env = {
        **os.environ,
        "PSFLOW_TEMPORAL__ADDRESS": settings.temporal.address,
        "PSFLOW_TASK_QUEUE_PREFIX": settings.task_queue_prefix,
        "PSFLOW_DATA_DIR": str(settings.data_dir),
        "PYTHONFAULTHANDLER": "1",  # if the process ever crashes on the way out, show where
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "worker.py"), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        assert process.stdout is not None
        output = b""
        while b"psflow worker polling" not in output:
            line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
            assert line, f"worker exited before polling: {output.decode()}"
            output += line
        result = await check_stack(temporal_client, settings, f"stack-check-{uuid.uuid4()}", domains=["erp"])
        assert result.domains == ["erp"]
        assert result.answers[0].worker.endswith(f":{process.pid}")
        process.send_signal(signal.SIGTERM)
        rest = await asyncio.wait_for(process.stdout.read(), timeout=30)
        assert await process.wait() == 0, (output + rest).decode(errors="replace")[-4000:]
    finally:
        if process.returncode is None:
            process.kill()


def test_worker_reports_a_malformed_settings_file_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "psflow.toml"
    bad.write_text("[temporal\naddress = 'x'\n")
    completed = subprocess.run(
        [sys.executable, str(ROOT / "worker.py")],
        env={**os.environ, "PSFLOW_SETTINGS_FILE": str(bad)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 2
    assert "is not valid TOML" in completed.stderr and str(bad) in completed.stderr
    assert "Traceback" not in completed.stderr


async def test_worker_polls_only_its_queues_with_its_identity_and_build_id(
    temporal_client: Client, settings: Settings
) -> None:
    """`--queues erp`: the process polls erp and nothing else, named and versioned as the settings say."""
    env = {"PSFLOW_WORKER_IDENTITY": "erp-worker-1", "PSFLOW_WORKER_BUILD_ID": "build-2026-12-05"}
    async with (
        worker.running_workers(temporal_client, settings, queues=("flows",)),
        worker_process(settings, ["erp"], env=env) as erp,
    ):
        assert f"polling {settings.task_queue('erp')} on" in erp.text()
        result = await check_stack(temporal_client, settings, f"stack-check-{uuid.uuid4()}", domains=["erp"])
        assert result.answers[0].worker.endswith(f":{erp.pid}")
        pollers = await _pollers(temporal_client, settings, "erp", TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY)
        assert [p.identity for p in pollers] == ["erp-worker-1"]
        assert pollers[0].deployment_options.build_id == "build-2026-12-05"
        assert pollers[0].deployment_options.deployment_name == "psflow"
        for other in ("psa", "crm", "hr", "events"):
            assert await _pollers(temporal_client, settings, other, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY) == []
        assert await erp.stop() == 0, erp.text()[-4000:]
    assert "Traceback" not in erp.text()


def test_worker_rejects_an_unknown_queue_in_one_line() -> None:
    completed = subprocess.run(
        [sys.executable, str(ROOT / "worker.py"), "--queues", "erp,billing"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 2
    assert completed.stderr.strip().splitlines() == [
        "error: unknown queue 'billing': choose from flows, crm, psa, hr, erp, events"
    ]


def test_parse_queues_keeps_the_canonical_order_and_defaults_to_all() -> None:
    assert worker.parse_queues("psa, erp") == ("psa", "erp")
    assert worker.parse_queues(None) == worker.QUEUES == ("flows", *DOMAINS)


async def _pollers(client: Client, settings: Settings, domain: str, kind: TaskQueueType.ValueType) -> list[PollerInfo]:
    response = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=settings.task_queue(domain), kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL),
            task_queue_type=kind,
        )
    )
    return list(response.pollers)


async def test_sigterm_lets_the_running_posting_activity_finish_on_an_erp_only_worker(
    temporal_client: Client, flow_settings: Settings
) -> None:
    """The only `--queues erp` worker is told to stop mid-activity: the activity completes there, it exits 0.

    An abandoned activity would be retried (attempt 2) by the worker that replaces it; a drained one
    completes on its first attempt, on the worker that was stopped.
    """
    day = seeded_day(23)
    before = await netsuite_governance(flow_settings.sandbox_url)
    await netsuite_governance(flow_settings.sandbox_url, limit=5, service_time_ms=100)
    queues = ("flows", "crm", "psa", "hr", "events")
    try:
        async with worker.running_workers(temporal_client, flow_settings, queues=queues):
            async with worker_process(flow_settings, ["erp"]) as stopped:
                handle = await start_posting(temporal_client, flow_settings, day)
                await _until_netsuite_busy(flow_settings.sandbox_url)
                assert await stopped.stop() == 0, stopped.text()[-4000:]
            # The next erp activities (and any retry) need a poller: a rolling restart's new worker.
            async with worker_process(flow_settings, ["erp"]) as replacement:
                result = await asyncio.wait_for(handle.result(), timeout=60)
                assert await replacement.stop() == 0
    finally:
        await netsuite_governance(
            flow_settings.sandbox_url, limit=before["concurrency_limit"], service_time_ms=before["service_time_ms"]
        )
    assert result.posted > 0 and (result.failed, result.rejected) == (0, 0), result
    started = [
        event.activity_task_started_event_attributes
        async for event in handle.fetch_history_events()
        if event.HasField("activity_task_started_event_attributes")
    ]
    assert started[0].identity.startswith(f"{stopped.pid}@"), started[0]
    assert [attributes.attempt for attributes in started] == [1] * len(started)


async def _until_netsuite_busy(sandbox_url: str) -> None:
    for _ in range(6000):
        if (await netsuite_governance(sandbox_url))["in_flight"]:
            return
        await asyncio.sleep(0.005)
    raise AssertionError("no NetSuite request was ever in flight")


def test_psflow_worker_passes_queues_through_and_rejects_an_unknown_one() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", "import cli; cli.app()", "worker", "--queues", "flows,ledger"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert completed.returncode == 2
    assert completed.stderr.strip().splitlines() == [
        "error: unknown queue 'ledger': choose from flows, crm, psa, hr, erp, events"
    ]
