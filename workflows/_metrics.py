"""psflow's business metrics, recorded from workflows through ``workflow.metric_meter()``.

The meter is replay-safe (temporal-round2 §4.1): a history that replays — after a worker restart or
a cache eviction — records nothing again, so each counter counts business events once. The worker's
runtime (``stack/metrics.py``) exports them on its Prometheus endpoint beside the SDK's series; the
meter adds ``namespace``, ``task_queue`` and ``workflow_type`` labels. Labels here are bounded: a CRM,
an ERP, a record kind, an outcome. Counters are exported with the ``_total`` suffix.

| series | type | labels | what |
|---|---|---|---|
| ``psflow_provisioning_outcomes_total`` | counter | crm, outcome | runs that ended: provisioned, failed, abandoned |
| ``psflow_provisioning_duration_seconds`` | histogram | crm | start → the engagement in both PSA and ERP |
| ``psflow_provisioning_sla_breaches_total`` | counter | crm | runs that missed the provisioning SLA |
| ``psflow_posting_entries_total`` | counter | erp, kind, outcome | records posted, already posted, rejected, failed |
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

__all__ = ["BUCKETS", "posting_page", "provisioning_ended", "sla_breached"]

PROVISIONING_OUTCOMES = "psflow_provisioning_outcomes"
PROVISIONING_DURATION = "psflow_provisioning_duration_seconds"
SLA_BREACHES = "psflow_provisioning_sla_breaches"
POSTING_ENTRIES = "psflow_posting_entries"

BUCKETS: dict[str, tuple[float, ...]] = {
    # Provisioning's SLA defaults to 4 h; a run is usually seconds, a run waiting for a person hours.
    PROVISIONING_DURATION: (1, 5, 15, 30, 60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400),
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
