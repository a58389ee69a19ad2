"""A project's invoice from posted ledger rows, and its figures as posted: pure rules.

`build_invoice` makes the canonical `Invoice` of one currency's reserved rows (its lines from
`activities.invoicing.lines`), `posted_invoice` the figures the workflow reports and publishes:
every amount a sum of posted amounts, never re-derived from hours. Rate adjustments (the differences
a retroactive rate change posted as charges) are fees, billed on their own lines.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal

from temporalio.exceptions import ApplicationError

from activities._errors import INVALID_DATA
from activities.invoicing.lines import LineGrouping, PostedExpense, PostedTime, invoice_lines
from activities.invoicing.models import PostedInvoice
from canonical import DateRange, Invoice, Money
from store import LedgerEntry

RATE_ADJUSTMENT = "rate_adjustment"
"""The ledger kind of a rate difference posted after a retroactive rate change (`activities.posting._reprice`)."""
DEFAULT_TERMS_DAYS = 30
"""Days to pay when the customer's terms are not set or not of the form 'Net N'."""
_NET_TERMS = re.compile(r"net\s*(\d+)", re.IGNORECASE)


def terms_days(terms: str | None) -> int:
    """Days from issue to due date for payment terms such as ``Net 30`` or ``Due on receipt``."""
    if terms is None:
        return DEFAULT_TERMS_DAYS
    if terms.strip().lower() == "due on receipt":
        return 0
    match = _NET_TERMS.fullmatch(terms.strip())
    return int(match[1]) if match else DEFAULT_TERMS_DAYS


def invalid(message: str) -> ApplicationError:
    """The non-retryable error of data a person must fix before the invoice can be made."""
    return ApplicationError(message, type=INVALID_DATA, non_retryable=True)


def build_invoice(
    invoice_id: str,
    rows: list[LedgerEntry],
    rates: Mapping[str, Decimal],
    *,
    project_id: str,
    customer_id: str,
    period: DateRange,
    issue_date: date,
    due_date: date,
    grouping: LineGrouping = "entry",
) -> Invoice:
    """The canonical invoice for reserved ledger rows in one currency.

    Its lines bill the rows' posted amounts (see `activities.invoicing.lines` for the grouping): time at
    the rate NetSuite's time bill was posted at (``rates``, by source id), each billable expense at
    its amount. The invoice's total is therefore the sum of the rows' amounts, to the minor unit.
    """
    currencies = {row.currency for row in rows}
    if len(currencies) != 1:
        raise invalid(f"invoice {invoice_id} holds rows in {', '.join(sorted(currencies))}: one currency per invoice")
    currency = currencies.pop()
    time: list[PostedTime] = []
    expenses: list[PostedExpense] = []
    adjustments: list[PostedExpense] = []
    for row in rows:
        amount = Money(amount=row.amount, currency=currency).rounded()
        if amount.amount != row.amount:
            raise invalid(f"ledger row {row.source_id} has {row.amount} {currency}, finer than the currency allows")
        if row.kind == "time_entry":
            if row.minutes is None or row.minutes <= 0:
                raise invalid(f"ledger row {row.source_id} is posted time without minutes: correct it, then re-run")
            rate = Money(amount=rates[row.source_id], currency=currency)
            time.append(PostedTime(row.source_id, row.business_date, row.minutes, rate, amount))
        elif row.kind == "expense":
            expenses.append(PostedExpense(row.source_id, row.business_date, amount))
        elif row.kind == RATE_ADJUSTMENT:
            adjustments.append(PostedExpense(row.source_id, row.business_date, amount))
        else:
            raise invalid(
                f"ledger row {row.source_id} has kind {row.kind!r}; expected time_entry, expense or {RATE_ADJUSTMENT}"
            )
    return Invoice(
        id=invoice_id,
        customer_id=customer_id,
        project_id=project_id,
        period=period,
        currency=currency,
        issue_date=issue_date,
        due_date=due_date,
        lines=tuple(invoice_lines(time, expenses, grouping, adjustments)),
    )


def posted_invoice(
    invoice: Invoice, rows: list[LedgerEntry], erp_id: str, created: bool, updated: bool
) -> PostedInvoice:
    """The invoice as posted: its figures summed from the rows' posted amounts, which its lines equal."""
    currency = invoice.currency
    fees = sum((row.amount for row in rows if row.kind in ("time_entry", RATE_ADJUSTMENT)), Decimal(0))
    expenses = sum((row.amount for row in rows if row.kind == "expense"), Decimal(0))
    total = Money(amount=fees + expenses, currency=currency).rounded().amount
    if total != invoice.total.amount:
        raise invalid(f"invoice {invoice.id} lines add up to {invoice.total}, its posted entries to {total}")
    minutes = sum(row.minutes or 0 for row in rows if row.kind == "time_entry")
    return PostedInvoice(
        invoice_id=invoice.id,
        erp_id=erp_id,
        currency=currency,
        total=total,
        fees=Money(amount=fees, currency=currency).rounded().amount,
        expenses=Money(amount=expenses, currency=currency).rounded().amount,
        hours=(Decimal(minutes) / 60).quantize(Decimal("0.01")),
        minutes=minutes,
        entries=len(rows),
        lines=len(invoice.lines),
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        created=created,
        updated=updated,
    )
