"""Worker processes for tests: ``python worker.py --queues …`` started and stopped like a deployment would."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from stack.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class WorkerProcess:
    """A running worker process and what it has printed so far."""

    process: asyncio.subprocess.Process
    output: bytearray = field(default_factory=bytearray)
    drain: asyncio.Task[None] | None = None

    async def _drain(self) -> None:
        # Keep reading so a chatty worker never blocks on a full pipe.
        assert self.process.stdout is not None
        while chunk := await self.process.stdout.read(65536):
            self.output += chunk

    @property
    def pid(self) -> int:
        return self.process.pid

    def text(self) -> str:
        return self.output.decode(errors="replace")

    async def stop(self) -> int:
        """SIGTERM, then wait for the graceful drain; the exit code."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        if self.drain is not None:
            await asyncio.wait_for(self.drain, timeout=60)
        return await asyncio.wait_for(self.process.wait(), timeout=60)

    async def kill(self) -> None:
        """SIGKILL: no drain, no cleanup, as a crashed node or an OOM kill would end it."""
        if self.process.returncode is None:
            self.process.kill()
        await self.process.wait()


def worker_env(settings: Settings, extra: Mapping[str, str] = {}) -> dict[str, str]:
    """The environment that points a worker process at the test's server, queues, sandbox and store."""
    env = {
        **os.environ,
        "PSFLOW_TEMPORAL__ADDRESS": settings.temporal.address,
        "PSFLOW_TEMPORAL__NAMESPACE": settings.temporal.namespace,
        "PSFLOW_TASK_QUEUE_PREFIX": settings.task_queue_prefix,
        "PSFLOW_DATA_DIR": str(settings.data_dir),
        "PSFLOW_SANDBOX_URL": settings.sandbox_url,
        "PYTHONFAULTHANDLER": "1",
    }
    if settings.database_url:
        env["PSFLOW_DATABASE_URL"] = settings.database_url
    env.update(extra)
    return env


@asynccontextmanager
async def worker_process(
    settings: Settings, queues: Sequence[str] | None = None, env: Mapping[str, str] = {}
) -> AsyncIterator[WorkerProcess]:
    """A ``python worker.py [--queues …]`` process, yielded once it polls; SIGKILLed if still running after."""
    args = [] if queues is None else ["--queues", ",".join(queues)]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "worker.py"),
        *args,
        env=worker_env(settings, env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    running = WorkerProcess(process)
    try:
        assert process.stdout is not None
        while b"psflow worker polling" not in running.output:
            line = await asyncio.wait_for(process.stdout.readline(), timeout=60)
            assert line, f"worker exited before polling: {running.text()}"
            running.output += line
        running.drain = asyncio.create_task(running._drain())
        yield running
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        if running.drain is not None:
            await asyncio.gather(running.drain, return_exceptions=True)


@asynccontextmanager
async def worker_processes(
    settings: Settings, queue_sets: Sequence[Sequence[str]], env: Mapping[str, str] = {}
) -> AsyncIterator[list[WorkerProcess]]:
    """One worker process per entry of `queue_sets`, started side by side, yielded once all of them poll."""
    async with AsyncExitStack() as stack:
        started = await asyncio.gather(
            *(stack.enter_async_context(worker_process(settings, queues, env)) for queues in queue_sets),
            return_exceptions=True,
        )
        for outcome in started:
            if isinstance(outcome, BaseException):
                raise outcome
        yield [outcome for outcome in started if isinstance(outcome, WorkerProcess)]
