"""`InvoicingActivities` (``erp`` task queue): a project's invoice for a billing period, built from the ledger.

`InvoicingActivities.post_invoice` reserves the project's posted, unbilled billable ledger rows
up to the period's last day (see `store.invoicing`), builds one canonical `Invoice` per currency
whose lines add up to the rows' posted amounts (see `activities.invoicing.invoice`) and upserts it
in NetSuite by external id, so a retry or a re-run updates the one invoice instead of adding a
second. Totals, fees and expenses are sums of posted amounts, never re-derived from hours.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities._errors import classified
from activities._heartbeat import each_page
from activities.invoicing.invoice import build_invoice, invalid, posted_invoice, terms_days
from activities.invoicing.lines import LineGrouping
from activities.invoicing.models import InvoiceOutcome, InvoiceRequest, InvoiceToMake, PeriodRef, PostedInvoice
from canonical import DateRange
from canonical.calendar import billing_period
from connectors.netsuite import NetSuiteConnector
from store import LedgerEntry, Store
from store import invoicing as ledger

SYSTEM = "netsuite"
UNKNOWN_PROJECT = "UnknownProject"


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
            posted.append(posted_invoice(invoice, invoice_rows, result.internal_id, result.created, result.updated))
            await asyncio.to_thread(self._record, request, posted[-1])
        return InvoiceOutcome(project_id=project_id, period=request.period, customer_id=customer_id, invoices=posted)

    @staticmethod
    def _period(label: str) -> DateRange:
        try:
            return billing_period(label)
        except ValueError as exc:
            raise invalid(str(exc)) from exc

    async def _posted_rates(self, job_id: str, rows: list[LedgerEntry]) -> dict[str, Decimal]:
        """The hourly rate each time row was posted at, by source id, from its NetSuite time bill."""
        time_rows = [row for row in rows if row.kind == "time_entry"]
        if not time_rows:
            return {}
        days = [row.business_date for row in time_rows]
        span = DateRange(start=min(days), end=max(days))
        rates: dict[str, Decimal] = {}
        bills = each_page(
            lambda cursor: self._netsuite.time_bills_page(job_internal_id=job_id, period=span, cursor=cursor)
        )
        async for page in bills:
            rates.update({bill.internal_id: bill.rate for bill in page.items if bill.rate is not None})
        missing = [row.source_id for row in time_rows if row.target_id not in rates]
        if missing:
            raise invalid(
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
            raise invalid(f"job {project_id} names customer {customer_erp_id!r}, not a NetSuite internal id")
        customer = await self._netsuite.billing_customer(customer_erp_id)
        if customer is None:
            raise ApplicationError(
                f"job {project_id} belongs to customer {customer_erp_id}, which NetSuite does not have",
                type=UNKNOWN_PROJECT,
                non_retryable=True,
            )
        return job.internal_id, customer_erp_id, customer.external_id or f"netsuite:{customer_erp_id}", customer.terms

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
