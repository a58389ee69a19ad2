"""Reconciliation, the activity side: PSA ↔ ERP ↔ ledger per period, compared in the store.

- `SnapshotActivities` (``_snapshot``): ``psa.reconciliation_snapshot`` and ``erp.reconciliation_snapshot``
  copy each side's records of the period into the staging table, page by heartbeated page;
- `CompareActivities` (``_compare``): ``erp.reconciliation_start`` / ``_compare`` / ``_unpost_vanished`` /
  ``_finish``: the run's record, the compare in SQL with differences as exceptions, auto-fix's un-posting;
- `differences`: the rules (pure); `models`: what the workflow hands over and gets back.
"""

from activities.reconciliation._compare import CompareActivities
from activities.reconciliation._snapshot import SnapshotActivities
from activities.reconciliation.differences import ALL_KINDS, FIXABLE, Difference, classify
from activities.reconciliation.models import (
    CompareRequest,
    CompareResult,
    ReconScope,
    RunOutcome,
    SnapshotRequest,
    SnapshotResult,
    Unposted,
    UnpostRequest,
)

__all__ = [
    "ALL_KINDS",
    "FIXABLE",
    "CompareActivities",
    "CompareRequest",
    "CompareResult",
    "Difference",
    "ReconScope",
    "RunOutcome",
    "SnapshotActivities",
    "SnapshotRequest",
    "SnapshotResult",
    "UnpostRequest",
    "Unposted",
    "classify",
]
