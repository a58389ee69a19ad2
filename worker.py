"""The worker: psflow's composition root. ``python worker.py`` or ``psflow worker`` runs it.

It reads the settings, connects one Temporal client (`stack.client.connect`), and polls
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

from temporalio.client import Client
from temporalio.worker import Worker

from activities.amendments import AmendmentActivities
from activities.crm import CrmActivities, HubSpotReader, SalesforceReader
from activities.erp import ErpActivities
from activities.events import EventActivities
from activities.exception_retry import ExceptionRetryActivities
from activities.exception_sweep import ExceptionSweepActivities
from activities.exceptions import ExceptionActivities
from activities.invoicing import InvoicingActivities, LineGrouping, WorkNotInvoicedActivities
from activities.posting import PostingActivities, PostingRetryActivities, RetroRateChanges
from activities.psa import PsaActivities
from activities.reconciliation import CompareActivities, SnapshotActivities
from activities.resources.hr import ResourceHrActivities
from activities.resources.psa import ResourcePsaActivities
from activities.resources.state import ResourceStateActivities
from activities.stack import ping_activity
from connectors.workday import WorkdayHR
from stack.client import connect
from stack.connectors import Connectors
from stack.metrics import MetricsEndpointError, metrics_runtime
from stack.settings import Settings, SettingsError, load_settings
from stack.telemetry import exit_process
from store import Store
from workflows._queues import DOMAINS, FLOWS
from workflows.amend_contract import ContractWorkflow
from workflows.amendment_intake import AmendmentIntakeWorkflow
from workflows.exception_sweep import ExceptionSweepWorkflow
from workflows.invoice_project import InvoiceProjectWorkflow
from workflows.monthly_invoicing import MonthlyInvoicingWorkflow
from workflows.poll_closed_won import PollClosedWonWorkflow
from workflows.post_time_expenses import PostTimeExpensesWorkflow
from workflows.provision_engagement import ProvisionEngagementWorkflow
from workflows.reconcile import ReconcileWorkflow
from workflows.retry_exception import RetryExceptionWorkflow
from workflows.scheduled_posting import ScheduledPostingWorkflow
from workflows.stack_check import StackCheckWorkflow
from workflows.sync_resources import ResourceSyncWorkflow

log = logging.getLogger("psflow.worker")


def workflows() -> list[type]:
    """Every workflow psflow runs, registered on the ``flows`` task queue."""
    return [
        StackCheckWorkflow,
        ProvisionEngagementWorkflow,
        InvoiceProjectWorkflow,
        MonthlyInvoicingWorkflow,
        PostTimeExpensesWorkflow,
        ScheduledPostingWorkflow,
        PollClosedWonWorkflow,
        ContractWorkflow,
        AmendmentIntakeWorkflow,
        RetryExceptionWorkflow,
        ExceptionSweepWorkflow,
        ReconcileWorkflow,
        ResourceSyncWorkflow,
    ]


def activities(
    connectors: Connectors,
    store: Store,
    *,
    invoice_lines: LineGrouping = "entry",
    retro_rate_changes: RetroRateChanges = "adjust",
) -> dict[str, list[Callable[..., Any]]]:
    """Every activity, by the domain whose task queue it runs on (``flows``: local activities of workflows)."""
    crm = CrmActivities(
        {"salesforce": SalesforceReader(connectors.salesforce), "hubspot": HubSpotReader(connectors.hubspot)}
    )
    psa = PsaActivities(connectors.kantata, store)
    erp = ErpActivities(connectors.netsuite, store)
    invoicing = InvoicingActivities(connectors.netsuite, store, lines=invoice_lines)
    not_invoiced = WorkNotInvoicedActivities(connectors.kantata, store)
    posting = PostingActivities(connectors.kantata, connectors.netsuite, store, retro_rate_changes=retro_rate_changes)
    events = EventActivities(connectors.events)
    amendments = AmendmentActivities(connectors.kantata, connectors.netsuite, store)
    posting_retry = PostingRetryActivities(connectors.kantata, connectors.netsuite, store)
    retries = ExceptionRetryActivities(store)
    snapshots = SnapshotActivities(connectors.kantata, connectors.netsuite, store)
    reconciling = CompareActivities(store)
    sweep = ExceptionSweepActivities(store, connectors.events)
    exceptions = ExceptionActivities(store)
    people = ResourcePsaActivities(connectors.kantata, store)
    resource_state = ResourceStateActivities(store, connectors.events)
    hr = ResourceHrActivities({"workday": WorkdayHR(connectors.workday), "bamboohr": connectors.bamboohr}, store)
    by_domain: dict[str, list[Callable[..., Any]]] = {
        "crm": [
            crm.read_engagement,
            crm.closed_won_since,
            crm.amendments_won_since,
            crm.locate_amendment,
            crm.read_amendment,
        ],
        "psa": [
            psa.create_project,
            psa.close_project,
            not_invoiced.work_not_invoiced,
            amendments.read_contract,
            amendments.apply_to_psa,
            snapshots.snapshot_psa,
            people.apply_workers,
            people.disable_due,
            people.apply_time_off,
        ],
        "hr": [hr.hr_changes, hr.hr_workers, hr.hr_sweep_page, hr.stage_time_off],
        "erp": [
            erp.upsert_customer,
            erp.create_job,
            erp.inactivate_job,
            invoicing.projects_to_invoice,
            invoicing.invoices_to_make,
            invoicing.post_invoice,
            posting.post_approved_page,
            posting.settle_exceptions,
            amendments.apply_to_erp,
            posting.reprice_posted,
            posting_retry.retry_posting,
            snapshots.snapshot_erp,
            reconciling.start,
            reconciling.compare,
            reconciling.unpost_vanished,
            reconciling.finish,
        ],
        "events": [
            events.publish,
            events.push_rows,
            sweep.escalate,
            exceptions.record,
            exceptions.resolve,
            retries.note_retry,
            retries.resolve_retried,
            retries.verdict,
            resource_state.sync_state,
            resource_state.save_mark,
            resource_state.publish_availability,
            resource_state.clear_staging,
        ],
        FLOWS: [exceptions.resolve],
    }
    for domain in DOMAINS:
        by_domain[domain].append(ping_activity(domain))
    return by_domain


def build_workers(
    client: Client, settings: Settings, domain_activities: dict[str, list[Callable[..., Any]]]
) -> list[Worker]:
    """One worker for workflows and one per domain, all sharing the client."""
    graceful = timedelta(seconds=settings.graceful_shutdown_s)
    workers = [
        Worker(
            client,
            task_queue=settings.task_queue(FLOWS),
            workflows=workflows(),
            activities=domain_activities.get(FLOWS, []),
            graceful_shutdown_timeout=graceful,
        )
    ]
    for domain, registered in domain_activities.items():
        if domain == FLOWS:
            continue
        workers.append(
            Worker(
                client,
                task_queue=settings.task_queue(domain),
                activities=registered,
                graceful_shutdown_timeout=graceful,
            )
        )
    return workers


@asynccontextmanager
async def running_workers(client: Client, settings: Settings) -> AsyncIterator[Sequence[Worker]]:
    """Run every worker in the background for the duration of the ``async with`` block."""
    store = Store(settings.store_url, exception_policy=settings.exception_policy())
    await asyncio.to_thread(store.upgrade)
    connectors = Connectors.build(settings)
    domain_activities = activities(
        connectors, store, invoice_lines=settings.invoice_lines, retro_rate_changes=settings.retro_rate_changes
    )
    workers = build_workers(client, settings, domain_activities)
    tasks = [asyncio.create_task(worker.run()) for worker in workers]
    try:
        yield workers
    finally:
        await asyncio.gather(*(worker.shutdown() for worker in workers))
        await asyncio.gather(*tasks, return_exceptions=True)
        await connectors.aclose()
        store.engine.dispose()


async def serve(settings: Settings) -> None:
    """Run the workers until SIGTERM or SIGINT, then shut down gracefully.

    With ``settings.metrics_address`` set, the SDK runtime serves the worker's Prometheus metrics there.
    """
    runtime = metrics_runtime(settings.metrics_address) if settings.metrics_address else None
    client = await connect(settings, runtime=runtime, service="psflow-worker")
    if settings.metrics_address:
        print(f"psflow worker metrics on http://{settings.metrics_address}/metrics", flush=True)
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
    logging.getLogger("httpx").setLevel(settings.http_log_level)
    # Store writes run in threads; with CPython's default 5 ms GIL switch interval a thread mid-flush can
    # hold the event loop (and the HTTP responses it owes the ERP's concurrency slots) for that long.
    # 1 ms measured +3% posting throughput (docs/BENCHMARKS.md, "Posting").
    sys.setswitchinterval(0.001)
    try:
        asyncio.run(serve(settings))
    except MetricsEndpointError as exc:
        print(f"error: {exc}.\nSet PSFLOW_METRICS_ADDRESS to a free host:port, or unset it.", file=sys.stderr)
        return 2
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
    exit_process(main())
