"""The worker: psflow's composition root. ``python worker.py`` or ``psflow worker`` runs it.

It reads the settings, connects one Temporal client with the pydantic data converter, and polls
one task queue per domain (crm, psa, hr, erp, events) plus ``flows`` for workflows, until SIGTERM
or SIGINT, when it stops taking work and lets running tasks finish.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from temporalio.client import Client, TLSConfig
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

from activities.stack import ping_activity
from stack.settings import Settings, SettingsError, load_settings
from stack.telemetry import configure_tracing, tracing_interceptor
from workflows._queues import DOMAINS, FLOWS
from workflows.stack_check import StackCheckWorkflow

log = logging.getLogger("psflow.worker")


async def connect(settings: Settings) -> Client:
    """A Temporal client for these settings, with the pydantic converter and tracing."""
    temporal = settings.temporal
    tls: bool | TLSConfig = temporal.tls
    if temporal.tls_cert_path and temporal.tls_key_path:
        tls = TLSConfig(
            client_cert=temporal.tls_cert_path.read_bytes(),
            client_private_key=temporal.tls_key_path.read_bytes(),
        )
    configure_tracing("psflow")
    return await Client.connect(
        temporal.address,
        namespace=temporal.namespace,
        tls=tls,
        api_key=temporal.api_key.get_secret_value() if temporal.api_key else None,
        data_converter=pydantic_data_converter,
        interceptors=[tracing_interceptor()],
    )


def workflows() -> list[type]:
    """Every workflow psflow runs, registered on the ``flows`` task queue."""
    return [StackCheckWorkflow]


def activities(settings: Settings) -> dict[str, list[Callable[..., Any]]]:
    """Every activity, by the domain whose task queue it runs on."""
    return {domain: [ping_activity(domain)] for domain in DOMAINS}


def build_workers(client: Client, settings: Settings) -> list[Worker]:
    """One worker for workflows and one per domain, all sharing the client."""
    graceful = timedelta(seconds=settings.graceful_shutdown_s)
    workers = [
        Worker(
            client,
            task_queue=settings.task_queue(FLOWS),
            workflows=workflows(),
            graceful_shutdown_timeout=graceful,
        )
    ]
    for domain, domain_activities in activities(settings).items():
        workers.append(
            Worker(
                client,
                task_queue=settings.task_queue(domain),
                activities=domain_activities,
                graceful_shutdown_timeout=graceful,
            )
        )
    return workers


@asynccontextmanager
async def running_workers(client: Client, settings: Settings) -> AsyncIterator[Sequence[Worker]]:
    """Run every worker in the background for the duration of the ``async with`` block."""
    workers = build_workers(client, settings)
    tasks = [asyncio.create_task(worker.run()) for worker in workers]
    try:
        yield workers
    finally:
        await asyncio.gather(*(worker.shutdown() for worker in workers))
        await asyncio.gather(*tasks, return_exceptions=True)


async def serve(settings: Settings) -> None:
    """Run the workers until SIGTERM or SIGINT, then shut down gracefully."""
    client = await connect(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    queues = [settings.task_queue(FLOWS), *(settings.task_queue(d) for d in DOMAINS)]
    async with running_workers(client, settings):
        log.info("psflow worker polling %s on %s", ", ".join(queues), settings.temporal.address)
        print(f"psflow worker polling {', '.join(queues)} on {settings.temporal.address}", flush=True)
        await stop.wait()
        log.info("shutting down: finishing running tasks (up to %ss)", settings.graceful_shutdown_s)


def main() -> int:
    """Entry point for ``python worker.py``; returns the process exit code."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(settings))
    except RuntimeError as exc:
        if "connect" not in str(exc).lower():
            raise
        print(
            f"error: cannot reach Temporal at {settings.temporal.address} ({exc}).\n"
            "Start the local stack with `psflow dev up`, or set PSFLOW_TEMPORAL__ADDRESS.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
