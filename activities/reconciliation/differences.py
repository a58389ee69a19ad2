"""The reconciliation's rules: what one record's three sides (PSA, ERP, posting ledger) say, as one difference.

Pure functions over `store.reconciliation.Compared` rows: the activity only pages and writes. A record
gets at most one difference, the first of these that holds (so an edit in NetSuite is an
``hours_mismatch``, not also an ``amount_mismatch``):

- ``not_posted``: approved in the PSA, neither in the ledger nor in the ERP (auto-fixed: posted);
- ``missing_in_erp``: in the ledger, gone from the ERP (auto-fixed while the PSA still has it approved
  and no invoice has billed it: the ledger row goes to the audit trail and the record is posted again,
  by the same external id; which rows qualify is `store.reconciliation.vanished_page`'s query);
- ``not_in_ledger``: in the ERP, not in the ledger (posted outside psflow, or by hand);
- ``unapproved_after_posting``: in the ledger, but the PSA no longer lists it as approved (un-approved
  or deleted after posting);
- ``hours_mismatch``: the minutes differ between any two sides that have the record;
- ``amount_mismatch``: the amounts differ (the ERP's time bill amount is its rate times its minutes,
  rounded once to the currency as posting rounds).

Projects (`classify_project`): ``project_missing_in_erp`` (a PSA project with no ERP job of its id),
``project_missing_in_psa`` (an ERP job with no PSA project: made by hand, or its workspace gone),
``project_mismatch`` (client, currency or status differ; an inactive job counts as closed).
Invoices (`classify_invoice`): ``invoice_mismatch`` when an invoice's ERP total differs from the sum
of the ledger rows it billed, or only one side has it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from canonical import Money, bill_for_minutes
from store.reconciliation import Compared, Side

RECORD_DIFFERENCES = (
    "not_posted",
    "missing_in_erp",
    "not_in_ledger",
    "unapproved_after_posting",
    "hours_mismatch",
    "amount_mismatch",
)
PROJECT_KINDS = ("project_missing_in_erp", "project_missing_in_psa", "project_mismatch")
INVOICE_KINDS = ("invoice_mismatch",)
ALL_KINDS = RECORD_DIFFERENCES + PROJECT_KINDS + INVOICE_KINDS
FIXABLE = ("not_posted", "missing_in_erp")

SYSTEM_OF: dict[str, str] = {
    "not_posted": "netsuite",
    "missing_in_erp": "netsuite",
    "not_in_ledger": "netsuite",
    "unapproved_after_posting": "kantata",
    "hours_mismatch": "netsuite",
    "amount_mismatch": "netsuite",
    "project_missing_in_erp": "netsuite",
    "project_missing_in_psa": "kantata",
    "project_mismatch": "netsuite",
    "invoice_mismatch": "netsuite",
}
"""The system each difference is about (the exception's ``system``): where a person would look first."""


@dataclass(frozen=True)
class Difference:
    """One difference found: its kind, the record, each side's values, and a sentence for a person."""

    kind: str
    record_id: str
    record_kind: str
    project_id: str | None
    business_date: Any
    message: str
    values: dict[str, dict[str, Any] | None]
    fixable: bool = False


def _approved(side: Side) -> bool:
    return side.present and bool(side.approved)


def erp_amount(erp: Side, currency: str | None) -> Decimal | None:
    """The ERP record's amount as posting would round it: a time bill's rate times its minutes, else its amount."""
    rate = (erp.detail or {}).get("rate")
    if rate is not None and erp.minutes is not None and currency is not None:
        return bill_for_minutes(Money.of(str(rate), currency), erp.minutes).amount
    return erp.amount


def _money_text(amount: Decimal, currency: str | None) -> str:
    """An amount as finance reads it: to the currency's minor unit (1140.00 USD), unless it holds more digits."""
    if currency is not None:
        try:
            exact = Money.of(amount, currency).rounded().amount
        except ValueError:  # not an ISO 4217 code: shown as it is
            exact = None
        if exact == amount:
            return f"{exact:f}"
    return f"{amount.normalize():f}"


def values_of(side: Side, *, amount: Decimal | None = None, currency: str | None = None) -> dict[str, Any] | None:
    """What a side holds of the record, JSON-ready; None when it has no such record.

    Args:
        amount: The amount to show instead of the side's own (the ERP's, as posting rounds it).
        currency: The record's currency, when the side does not name one.
    """
    if not side.present:
        return None
    found: dict[str, Any] = {}
    if side.minutes is not None:
        found["minutes"] = side.minutes
        found["hours"] = f"{Decimal(side.minutes) / 60:.2f}"
    shown = amount if amount is not None else side.amount
    if shown is not None:
        found["amount"] = _money_text(shown, side.currency or currency)
    for name in ("currency", "approved", "project_id"):
        value = getattr(side, name)
        if value is not None:
            found[name] = value
    if side.business_date is not None:
        found["date"] = side.business_date.isoformat()
    found.update({k: v for k, v in (side.detail or {}).items() if k in ("status", "rate", "internal_id")})
    return found


def classify(row: Compared) -> Difference | None:
    """The one difference a record shows, or None when its sides agree."""
    psa, erp, ledger = row.psa, row.erp, row.ledger
    currency = ledger.currency or psa.currency
    erp_total = erp_amount(erp, currency) if erp.present else None
    project = ledger.project_id or psa.project_id or erp.project_id
    day = ledger.business_date or psa.business_date or erp.business_date
    what = "time entry" if row.kind == "time_entry" else "expense"

    def found(kind: str, message: str, *, fixable: bool = False) -> Difference:
        return Difference(
            kind=kind,
            record_id=row.record_id,
            record_kind=row.kind,
            project_id=project,
            business_date=day,
            message=message,
            values={
                "psa": values_of(psa),
                "erp": values_of(erp, amount=erp_total, currency=currency),
                "ledger": values_of(ledger),
            },
            fixable=fixable,
        )

    if not ledger.present and not erp.present:
        if _approved(psa):
            return found("not_posted", f"approved {what} {row.record_id} ({day}) was never posted", fixable=True)
        return None
    if ledger.present and not erp.present:
        return found(
            "missing_in_erp",
            f"{what} {row.record_id} is in the posting ledger but its ERP record is gone",
            fixable=_approved(psa),
        )
    if erp.present and not ledger.present:
        return found("not_in_ledger", f"ERP {what} {row.record_id} is not in the posting ledger (made outside psflow?)")
    if not _approved(psa):
        state = "deleted from the PSA" if not psa.present else "no longer approved in the PSA"
        return found("unapproved_after_posting", f"posted {what} {row.record_id} is {state}")
    minutes = {side.minutes for side in (psa, erp, ledger) if side.present and side.minutes is not None}
    if len(minutes) > 1:
        return found(
            "hours_mismatch",
            f"{what} {row.record_id}: PSA {_hours(psa)} h, ERP {_hours(erp)} h, ledger {_hours(ledger)} h",
        )
    amounts = {a for a in (erp_total, ledger.amount, psa.amount if row.kind == "expense" else None) if a is not None}
    if len(amounts) > 1:
        return found(
            "amount_mismatch",
            f"{what} {row.record_id}: ERP {erp_total}, ledger {ledger.amount} {ledger.currency or ''}".rstrip(),
        )
    return None


def classify_project(row: Compared) -> Difference | None:
    """The difference between a project's PSA workspace and its ERP job, or None when they agree."""
    psa, erp = row.psa, row.erp

    def found(kind: str, message: str) -> Difference:
        return Difference(
            kind=kind,
            record_id=row.record_id,
            record_kind="project",
            project_id=psa.project_id or erp.project_id,
            business_date=None,
            message=message,
            values={"psa": _project(psa), "erp": _project(erp), "ledger": None},
        )

    if not erp.present:
        return found("project_missing_in_erp", f"PSA project {row.record_id} has no ERP job")
    if not psa.present:
        name = (erp.detail or {}).get("name")
        return found("project_missing_in_psa", f"ERP job {row.record_id} ({name}) has no PSA project")
    left, right = _project(psa) or {}, _project(erp) or {}
    fields = [name for name in ("client", "currency", "status") if left.get(name) != right.get(name)]
    if fields:
        differ = ", ".join(f"{name} {left.get(name)} in the PSA, {right.get(name)} in the ERP" for name in fields)
        return found("project_mismatch", f"project {row.record_id}: {differ}")
    return None


def _project(side: Side) -> dict[str, Any] | None:
    if not side.present:
        return None
    detail = side.detail or {}
    found = {"client": detail.get("client"), "currency": side.currency, "status": detail.get("status")}
    found.update({k: detail[k] for k in ("name", "internal_id", "workspace_id") if detail.get(k) is not None})
    return found


def classify_invoice(row: Compared) -> Difference | None:
    """The difference between an invoice's ERP total and the ledger rows it billed, or None when they agree."""
    erp, ledger = row.erp, row.ledger
    if erp.present and ledger.present and erp.amount == ledger.amount:
        return None
    if not erp.present:
        message = f"invoice {row.record_id} billed {ledger.amount} {ledger.currency} in the ledger; the ERP has none"
    elif not ledger.present:
        message = f"ERP invoice {row.record_id} ({erp.amount} {erp.currency}) bills no posted work in the ledger"
    else:
        message = f"invoice {row.record_id}: ERP total {erp.amount}, posted billable {ledger.amount} {ledger.currency}"
    return Difference(
        kind="invoice_mismatch",
        record_id=row.record_id,
        record_kind="invoice",
        project_id=ledger.project_id or erp.project_id,
        business_date=None,
        message=message,
        values={"psa": None, "erp": values_of(erp), "ledger": values_of(ledger)},
    )


CLASSIFIERS = {"time_entry": classify, "expense": classify, "project": classify_project, "invoice": classify_invoice}
"""The rules for each kind of staged record."""


def _hours(side: Side) -> str:
    return "-" if side.minutes is None else f"{Decimal(side.minutes) / 60:.2f}"
