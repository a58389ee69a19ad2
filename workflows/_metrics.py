"""psflow's business metrics, recorded from workflows through ``workflow.metric_meter()``.

The meter is replay-safe (temporal-round2 §4.1): a history that replays — after a worker restart or
a cache eviction — records nothing again, so each counter counts business events once. The worker's
runtime (``stack/metrics.py``) exports them on its Prometheus endpoint beside the SDK's series; the
meter adds ``namespace``, ``task_queue`` and ``workflow_type`` labels. Labels here are bounded: a CRM,
an ERP, a record kind, an outcome. Counters are exported with the ``_total`` suffix.

| series | type | labels | what |
|---|---|---|---|
| ``psflow_provisioning_outcomes_total`` | counter | crm, outcome | provisioned, failed, abandoned, canceled |
| ``psflow_provisioning_duration_seconds`` | histogram | crm | start → the engagement in both PSA and ERP |
| ``psflow_provisioning_sla_breaches_total`` | counter | crm | runs that missed the provisioning SLA |
| ``psflow_posting_entries_total`` | counter | erp, kind, outcome | records posted, already posted, rejected, failed |
| ``psflow_posting_runs_total`` | counter | erp, outcome | posted, posted_with_exceptions, nothing_to_post, failed |
| ``psflow_posting_duration_seconds`` | histogram | erp | time to post: a date's first run's start → all posted |
| ``psflow_invoicing_outcomes_total`` | counter | outcome | invoicing runs: invoiced, nothing_to_invoice, failed |
| ``psflow_invoice_lag_seconds`` | histogram | — | billing period's end (firm midnight) → its invoice posted |
| ``psflow_resource_sync_outcomes_total`` | counter | outcome | sync chains that ended: synced, exceptions, failed |
| ``psflow_resource_sync_duration_seconds`` | histogram | — | a sync chain's first start → its end |
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

__all__ = [
    "BUCKETS",
    "invoicing_ended",
    "posting_ended",
    "posting_page",
    "provisioning_ended",
    "resource_sync_ended",
    "sla_breached",
]

PROVISIONING_OUTCOMES = "psflow_provisioning_outcomes"
PROVISIONING_DURATION = "psflow_provisioning_duration_seconds"
SLA_BREACHES = "psflow_provisioning_sla_breaches"
POSTING_ENTRIES = "psflow_posting_entries"
POSTING_RUNS = "psflow_posting_runs"
POSTING_DURATION = "psflow_posting_duration_seconds"
INVOICING_OUTCOMES = "psflow_invoicing_outcomes"
INVOICE_LAG = "psflow_invoice_lag_seconds"
SYNC_OUTCOMES = "psflow_resource_sync_outcomes"
SYNC_DURATION = "psflow_resource_sync_duration_seconds"

BUCKETS: dict[str, tuple[float, ...]] = {
    # Provisioning's SLA defaults to 4 h; a run is usually seconds, a run waiting for a person hours.
    PROVISIONING_DURATION: (1, 5, 15, 30, 60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400),
    # A day's posting: seconds; a big backlog or an ERP outage it outlasts: hours.
    POSTING_DURATION: (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600),
    # Invoices go out days after the period closes: hours to a month.
    INVOICE_LAG: (3600, 6 * 3600, 86400, 2 * 86400, 3 * 86400, 5 * 86400, 7 * 86400, 14 * 86400, 31 * 86400),
    # A delta sync takes seconds; a full sweep of 10k workers about 20 minutes (docs/resources.md).
    SYNC_DURATION: (1, 5, 15, 30, 60, 300, 900, 1800, 3600, 7200),
}


def provisioning_ended(crm: str, outcome: str, took: timedelta | None = None) -> None:
    """A provisioning run ended with ``outcome``; ``took``: from its start until PSA and ERP had it."""
    meter = workflow.metric_meter()
    attributes = {"crm": crm}
    meter.create_counter(PROVISIONING_OUTCOMES, "Provisioning runs by how they ended").add(
        1, attributes | {"outcome": outcome}
    )
    if took is not None:
        meter.create_histogram_float(
            PROVISIONING_DURATION, "Provisioning runs' time from start to the engagement in PSA and ERP", "s"
        ).record(took.total_seconds(), attributes)


def sla_breached(crm: str) -> None:
    """A provisioning run missed its SLA."""
    workflow.metric_meter().create_counter(SLA_BREACHES, "Provisioning runs that missed their SLA").add(1, {"crm": crm})


def posting_page(erp: str, kind: str, posted: int, already_posted: int, rejected: int, failed: int) -> None:
    """One posting activity's records, by what became of them."""
    counter = workflow.metric_meter().create_counter(POSTING_ENTRIES, "Approved PSA records the posting read, by fate")
    for outcome, count in (
        ("posted", posted),
        ("already_posted", already_posted),
        ("rejected", rejected),
        ("failed", failed),
    ):
        counter.add(count, {"erp": erp, "kind": kind, "outcome": outcome})


def invoicing_ended(outcome: str, lag: timedelta | None = None) -> None:
    """A project's invoicing run ended; ``lag``: from its period's end until the invoice was posted."""
    meter = workflow.metric_meter()
    meter.create_counter(INVOICING_OUTCOMES, "Project invoicing runs by how they ended").add(1, {"outcome": outcome})
    if lag is not None:
        meter.create_histogram_float(INVOICE_LAG, "Time from a billing period's end to its invoice", "s").record(
            max(lag.total_seconds(), 0.0)
        )


def resource_sync_ended(outcome: str, took: timedelta | None = None) -> None:
    """A resource sync chain ended with ``outcome``; ``took``: from its first run's start."""
    meter = workflow.metric_meter()
    meter.create_counter(SYNC_OUTCOMES, "Resource sync chains by how they ended").add(1, {"outcome": outcome})
    if took is not None:
        meter.create_histogram_float(SYNC_DURATION, "Resource sync chains' time from start to end", "s").record(
            max(took.total_seconds(), 0.0)
        )


def posting_ended(erp: str, outcome: str, took: timedelta) -> None:
    """A date's posting chain ended with ``outcome`` ``took`` after its first run started."""
    meter = workflow.metric_meter()
    meter.create_counter(POSTING_RUNS, "Dates' postings by how they ended").add(1, {"erp": erp, "outcome": outcome})
    meter.create_histogram_float(POSTING_DURATION, "Time to post a date: first run's start to the end", "s").record(
        max(took.total_seconds(), 0.0), {"erp": erp}
    )
