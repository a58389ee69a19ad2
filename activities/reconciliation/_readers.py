"""Each side's records as staging rows: the PSA's and the ERP's pages mapped to `Staged`, one pure function each.

Record ids are the PSA's (``kantata:123``), which psflow writes as the ERP's external id; an ERP
record psflow did not write (no external id) is staged as ``netsuite:<internal id>`` and a PSA
workspace made by hand as ``kantata-workspace:<id>``, so each still meets nothing on the other side.
"""

from __future__ import annotations

from datetime import date

from canonical import ApprovalState, Expense, TimeEntry, bill_for_minutes
from connectors.kantata import ProjectRow
from connectors.netsuite import ExpenseReportRow, InvoiceRow, JobRow, TimeBillRow
from store.reconciliation import Staged

ERP = "netsuite"


def erp_key(external_id: str | None, internal_id: str) -> str:
    """The record id an ERP record is compared under: psflow's key, or its internal id when it has none."""
    return external_id or f"{ERP}:{internal_id}"


def time_entry(entry: TimeEntry) -> Staged:
    """A PSA time entry of any approval status; its amount is its own rate's, for display only."""
    amount = bill_for_minutes(entry.bill_rate, entry.minutes) if entry.bill_rate is not None else None
    return Staged(
        side="psa",
        kind="time_entry",
        record_id=entry.id,
        project_id=entry.project_id,
        business_date=entry.date_performed,
        minutes=entry.minutes,
        amount=None if amount is None else amount.amount,
        currency=None if amount is None else amount.currency,
        approved=entry.approval is ApprovalState.APPROVED,
        detail={"status": entry.approval.value},
    )


def expense(record: Expense) -> Staged:
    """A PSA expense of any approval status."""
    return Staged(
        side="psa",
        kind="expense",
        record_id=record.id,
        project_id=record.project_id,
        business_date=record.date_incurred,
        amount=record.amount.amount,
        currency=record.amount.currency,
        approved=record.approval is ApprovalState.APPROVED,
        detail={"status": record.approval.value},
    )


def project(row: ProjectRow) -> Staged:
    """A PSA workspace: whose, in what currency, how far along."""
    return Staged(
        side="psa",
        kind="project",
        record_id=row.project_id or f"kantata-workspace:{row.workspace_id}",
        project_id=row.project_id,
        currency=row.currency,
        detail={
            "client": row.customer_id,
            "status": row.status.value,
            "name": row.name,
            "workspace_id": row.workspace_id,
        },
    )


def time_bill(row: TimeBillRow, project_id: str | None) -> Staged:
    """An ERP time bill; its amount is worked out from its rate when compared (rounded as posting rounds)."""
    return Staged(
        side="erp",
        kind="time_entry",
        record_id=erp_key(row.external_id, row.internal_id),
        project_id=project_id,
        business_date=row.tran_date,
        minutes=row.minutes,
        detail={"internal_id": row.internal_id, **({"rate": str(row.rate)} if row.rate is not None else {})},
    )


def expense_report(row: ExpenseReportRow, project_id: str | None) -> Staged:
    """An ERP expense report (psflow writes one line per expense)."""
    return Staged(
        side="erp",
        kind="expense",
        record_id=erp_key(row.external_id, row.internal_id),
        project_id=project_id,
        business_date=row.tran_date,
        amount=row.amount,
        currency=row.currency,
        detail={"internal_id": row.internal_id},
    )


def job(row: JobRow) -> Staged:
    """An ERP job; an inactive one counts as closed, whatever its status says."""
    status = "closed" if row.inactive else (row.status.value if row.status is not None else row.status_id)
    return Staged(
        side="erp",
        kind="project",
        record_id=erp_key(row.external_id, row.internal_id),
        project_id=row.external_id,
        currency=row.currency,
        detail={"client": row.customer_external_id, "status": status, "name": row.name, "internal_id": row.internal_id},
    )


def invoice(row: InvoiceRow, project_id: str | None) -> Staged:
    """An ERP invoice: its total, compared with the ledger rows that carry its id."""
    return Staged(
        side="erp",
        kind="invoice",
        record_id=erp_key(row.external_id, row.internal_id),
        project_id=project_id,
        business_date=row.tran_date,
        amount=row.total,
        currency=row.currency,
        detail={"internal_id": row.internal_id},
    )


def invoices_period(row: InvoiceRow, period: str, start: date, end: date, project_id: str | None) -> bool:
    """Whether an ERP invoice bills the period (and the project): psflow's by its id, others by their dates."""
    if row.external_id is not None:
        prefix = f"inv:{project_id}:{period}" if project_id else None
        if prefix is not None:
            after = row.external_id.removeprefix(prefix)
            return after != row.external_id and (after == "" or after[:1] in (".", ":"))
        base, _, rest = row.external_id.rpartition(f":{period}")
        return base.startswith("inv:") and (rest == "" or rest[:1] in (".", ":"))
    return row.start_date is not None and start <= row.start_date <= end
