"""The worker's own wiring runs workflows end to end on the real dev server."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

from temporalio.client import Client

import worker
from stack.flows import check_stack
from stack.settings import Settings
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
