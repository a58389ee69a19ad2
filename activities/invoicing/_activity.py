"""Invoicing activities (``erp`` task queue): a project's invoice for a billing period, built from the ledger.

`InvoicingActivities.post_invoice` reserves the project's posted, unbilled billable ledger rows
up to the period's last day (see `store.invoicing`), builds one canonical `Invoice` per currency
whose lines add up to the rows' posted amounts (see `activities.invoicing.lines`) and upserts it in
NetSuite by external id, so a retry or a re-run updates the one invoice instead of adding a second.
Totals, fees and expenses are sums of posted amounts, never re-derived from hours.
"""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities._errors import INVALID_DATA, classified
from activities.invoicing.lines import LineGrouping, PostedExpense, PostedTime, invoice_lines
from canonical import DateRange, Invoice, Money
from canonical.calendar import billing_period
from connectors.netsuite import NetSuiteConnector
from store import LedgerEntry, Store
from store import invoicing as ledger

SYSTEM = "netsuite"
UNKNOWN_PROJECT = "UnknownProject"
DEFAULT_TERMS_DAYS = 30
"""Days to pay when the customer's terms are not set or not of the form 'Net N'."""
_NET_TERMS = re.compile(r"net\s*(\d+)", re.IGNORECASE)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class InvoiceRequest(_Model):
    """Invoice a project for a period, dated ``issue_date``."""

    project_id: str = Field(min_length=1)
    period: str
    issue_date: date
    period_closed_at: datetime
    """When the period ended in the firm's time zone (the start of invoice lag)."""
    sequence: int = Field(default=1, ge=1)
    """Which of the project's invoices for the period: 1, or a supplementary one (2, 3, ...)."""


class PeriodRef(_Model):
    """A ``YYYY-MM`` billing period."""

    period: str


class InvoiceToMake(_Model):
    """One invoice a billing period needs: the project and the invoice's number within the period."""

    project_id: str
    sequence: int = 1


class PostedInvoice(_Model):
    """One invoice as NetSuite has it: every amount a sum of the posted amounts it bills."""

    invoice_id: str
    erp_id: str
    currency: str
    total: Decimal
    fees: Decimal
    """Billable time: the sum of the time entries' posted amounts."""
    expenses: Decimal
    """Billable expenses passed through."""
    hours: Decimal
    """The time billed, in hours to 2 places, for display (``minutes`` is exact)."""
    entries: int
    lines: int
    issue_date: date
    due_date: date
    created: bool
    updated: bool = False
    minutes: int | None = None
    """The time billed, in whole minutes (None in runs recorded before minutes were kept)."""


class InvoiceOutcome(_Model):
    """A project's invoices for one period; none when nothing was billable."""

    project_id: str
    period: str
    customer_id: str | None = None
    invoices: list[PostedInvoice] = Field(default_factory=list)

    @property
    def nothing_to_invoice(self) -> bool:
        """True when the project had no unbilled billable time or expenses up to the period's end."""
        return not self.invoices

    @property
    def totals(self) -> dict[str, Decimal]:
        """Invoice totals per currency."""
        return {invoice.currency: invoice.total for invoice in self.invoices}


def terms_days(terms: str | None) -> int:
    """Days from issue to due date for payment terms such as ``Net 30`` or ``Due on receipt``."""
    if terms is None:
        return DEFAULT_TERMS_DAYS
    if terms.strip().lower() == "due on receipt":
        return 0
    match = _NET_TERMS.fullmatch(terms.strip())
    return int(match[1]) if match else DEFAULT_TERMS_DAYS


def _invalid(message: str) -> ApplicationError:
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
        raise _invalid(f"invoice {invoice_id} holds rows in {', '.join(sorted(currencies))}: one currency per invoice")
    currency = currencies.pop()
    time: list[PostedTime] = []
    expenses: list[PostedExpense] = []
    for row in rows:
        amount = Money(amount=row.amount, currency=currency).rounded()
        if amount.amount != row.amount:
            raise _invalid(f"ledger row {row.source_id} has {row.amount} {currency}, finer than the currency allows")
        if row.kind == "time_entry":
            if row.minutes is None or row.minutes <= 0:
                raise _invalid(f"ledger row {row.source_id} is posted time without minutes: correct it, then re-run")
            rate = Money(amount=rates[row.source_id], currency=currency)
            time.append(PostedTime(row.source_id, row.business_date, row.minutes, rate, amount))
        elif row.kind == "expense":
            expenses.append(PostedExpense(row.source_id, row.business_date, amount))
        else:
            raise _invalid(f"ledger row {row.source_id} has kind {row.kind!r}; expected time_entry or expense")
    return Invoice(
        id=invoice_id,
        customer_id=customer_id,
        project_id=project_id,
        period=period,
        currency=currency,
        issue_date=issue_date,
        due_date=due_date,
        lines=tuple(invoice_lines(time, expenses, grouping)),
    )


class InvoicingActivities:
    """Builds invoices from the posting ledger and posts them to the ERP by external id."""

    def __init__(self, netsuite: NetSuiteConnector, store: Store, *, lines: LineGrouping = "entry") -> None:
        self._netsuite = netsuite
        self._store = store
        self._lines: LineGrouping = lines

    @activity.defn(name="erp.projects_to_invoice")
    @classified
    async def projects_to_invoice(self, ref: PeriodRef) -> list[str]:
        """Projects with unbilled billable work up to the period's end, or an unfinished invoice for it.

        Kept for monthly runs recorded before supplementary invoices; new runs call `invoices_to_make`.
        """
        period = self._period(ref.period)
        return await asyncio.to_thread(ledger.projects_to_invoice, self._store, ref.period, period.end)

    @activity.defn(name="erp.invoices_to_make")
    @classified
    async def invoices_to_make(self, ref: PeriodRef) -> list[InvoiceToMake]:
        """The invoices the period needs now: per project with work to bill, which one (first or supplementary)."""
        period = self._period(ref.period)
        found = await asyncio.to_thread(ledger.invoices_to_make, self._store, ref.period, period.end)
        return [InvoiceToMake(project_id=project_id, sequence=sequence) for project_id, sequence in found]

    @activity.defn(name="erp.post_invoice")
    @classified
    async def post_invoice(self, request: InvoiceRequest) -> InvoiceOutcome:
        """Invoice the project's posted, unbilled billable work up to the period's end, in NetSuite.

        Nothing billable gives an outcome without invoices; no empty invoice is written.
        """
        period = self._period(request.period)
        project_id = request.project_id
        base_id = ledger.invoice_id(project_id, request.period, request.sequence)
        nothing = InvoiceOutcome(project_id=project_id, period=request.period)
        reserved = await asyncio.to_thread(ledger.rows_of_invoice, self._store, base_id)
        if not reserved and not await asyncio.to_thread(ledger.has_unbilled, self._store, project_id, period.end):
            await asyncio.to_thread(self._record_nothing, base_id)
            return nothing
        job_id, customer_erp_id, customer_id, terms = await self._billing_parties(project_id)
        rows = reserved or await asyncio.to_thread(
            ledger.reserve_for_invoice, self._store, project_id, period.end, base_id
        )
        if not rows:
            await asyncio.to_thread(self._record_nothing, base_id)
            return nothing
        by_invoice: dict[str, list[LedgerEntry]] = defaultdict(list)
        for row in rows:
            assert row.invoice_id is not None
            by_invoice[row.invoice_id].append(row)
        due_date = request.issue_date + timedelta(days=terms_days(terms))
        rates = await self._posted_rates(job_id, rows)
        posted = []
        for invoice_id, invoice_rows in sorted(by_invoice.items()):
            invoice = build_invoice(
                invoice_id,
                invoice_rows,
                rates,
                project_id=project_id,
                customer_id=customer_id,
                period=period,
                issue_date=request.issue_date,
                due_date=due_date,
                grouping=self._lines,
            )
            result = await self._netsuite.upsert_invoice(
                invoice, customer_internal_id=customer_erp_id, job_internal_id=job_id
            )
            posted.append(self._posted(invoice, invoice_rows, result.internal_id, result.created, result.updated))
            await asyncio.to_thread(self._record, request, posted[-1])
        return InvoiceOutcome(project_id=project_id, period=request.period, customer_id=customer_id, invoices=posted)

    @staticmethod
    def _period(label: str) -> DateRange:
        try:
            return billing_period(label)
        except ValueError as exc:
            raise _invalid(str(exc)) from exc

    async def _posted_rates(self, job_id: str, rows: list[LedgerEntry]) -> dict[str, Decimal]:
        """The hourly rate each time row was posted at, by source id, from its NetSuite time bill."""
        time_rows = [row for row in rows if row.kind == "time_entry"]
        if not time_rows:
            return {}
        days = [row.business_date for row in time_rows]
        span = DateRange(start=min(days), end=max(days))
        rates: dict[str, Decimal] = {}
        cursor: str | None = None
        while True:
            page = await self._netsuite.time_bills_page(job_internal_id=job_id, period=span, cursor=cursor)
            rates.update({bill.internal_id: bill.rate for bill in page.items if bill.rate is not None})
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        missing = [row.source_id for row in time_rows if row.target_id not in rates]
        if missing:
            raise _invalid(
                f"NetSuite has no time bill with a rate on this job for {len(missing)} posted time entries "
                f"({', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''}): post them again, then re-run"
            )
        return {row.source_id: rates[row.target_id] for row in time_rows}

    async def _billing_parties(self, project_id: str) -> tuple[str, str, str, str | None]:
        """(job internal id, customer internal id, customer canonical id, payment terms) of the project."""
        job = await self._netsuite.get_job(project_id)
        if job is None or job.customer_internal_id is None:
            raise ApplicationError(
                f"NetSuite has no job with external id {project_id!r} under a customer: "
                "provision the project before invoicing it",
                type=UNKNOWN_PROJECT,
                non_retryable=True,
            )
        await asyncio.to_thread(self._store.map_id, "project", project_id, SYSTEM, job.internal_id)
        customer_erp_id = job.customer_internal_id
        if not customer_erp_id.isdigit():
            raise _invalid(f"job {project_id} names customer {customer_erp_id!r}, not a NetSuite internal id")
        page = await self._netsuite.suiteql_page(
            f"SELECT id, externalid, terms FROM customer WHERE id = {int(customer_erp_id)}", page_size=1
        )
        if not page.items:
            raise ApplicationError(
                f"job {project_id} belongs to customer {customer_erp_id}, which NetSuite does not have",
                type=UNKNOWN_PROJECT,
                non_retryable=True,
            )
        row = page.items[0]
        terms_names = {value: name for name, value in self._netsuite.settings.terms_ids.items()}
        terms = terms_names.get(str(row["terms"])) if row.get("terms") is not None else None
        return job.internal_id, customer_erp_id, str(row.get("externalid") or f"netsuite:{customer_erp_id}"), terms

    @staticmethod
    def _posted(invoice: Invoice, rows: list[LedgerEntry], erp_id: str, created: bool, updated: bool) -> PostedInvoice:
        """The invoice as posted: its figures summed from the rows' posted amounts, which its lines equal."""
        currency = invoice.currency
        fees = sum((row.amount for row in rows if row.kind == "time_entry"), Decimal(0))
        expenses = sum((row.amount for row in rows if row.kind == "expense"), Decimal(0))
        total = Money(amount=fees + expenses, currency=currency).rounded().amount
        if total != invoice.total.amount:
            raise _invalid(f"invoice {invoice.id} lines add up to {invoice.total}, its posted entries to {total}")
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

    def _record_nothing(self, invoice_id: str) -> None:
        ledger.record_nothing_to_invoice(self._store, activity.info().workflow_id or "psflow", invoice_id)

    def _record(self, request: InvoiceRequest, invoice: PostedInvoice) -> None:
        self._store.map_id("invoice", invoice.invoice_id, SYSTEM, invoice.erp_id)
        ledger.record_invoice_posted(
            self._store,
            activity.info().workflow_id or "psflow",
            invoice.invoice_id,
            project_id=request.project_id,
            period=request.period,
            currency=invoice.currency,
            total=str(invoice.total),
            erp_id=invoice.erp_id,
            entries=invoice.entries,
            issue_date=invoice.issue_date.isoformat(),
            period_closed_at=request.period_closed_at.isoformat(),
        )
