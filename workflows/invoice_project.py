"""Invoicing one project for one billing period: the ERP invoice, then invoice and revenue events.

One run per project, period and invoice number (``invoice:{project_id}:{YYYY-MM}``, and
``invoice:{project_id}:{YYYY-MM}.{n}`` for a supplementary invoice of work posted after the
first), started by the monthly invoicing run or ``psflow invoice run``; a second start of the same
id joins the running run or finds the completed one, so no work is invoiced twice. The invoice
bills the project's posted, unbilled billable time and expenses dated up to the period's last day,
issued on the day the run starts in the firm's time zone (or on the issue date the input names); a
period that has not ended by the issue date is refused.
A run started for one project then reports the period's work that no invoice includes yet.

A run whose activity fails for good opens an exception of the project's period (kind ``invoice``, key
``{project_id}:{YYYY-MM}``); the next run for them that succeeds resolves it, naming itself.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities._errors import INVALID_DATA, NON_RETRYABLE_TYPES
    from activities.events import EventActivities
    from activities.exceptions import ExceptionOccurrence
    from activities.invoicing import (
        InvoiceRequest,
        InvoicingActivities,
        PostedInvoice,
        WorkNotInvoiced,
        WorkNotInvoicedActivities,
        WorkNotInvoicedRequest,
    )
    from activities.models import AnalyticsRows
    from canonical import DateRange
    from canonical.calendar import billing_period, firm_day, firm_midnight
    from canonical.events import CloudEvent
    from workflows import _exceptions as exceptions
    from workflows import _metrics
    from workflows import search_attributes as sa
    from workflows._queues import domain_queue

EVENT_SOURCE = "psflow/invoicing"
ERP = "netsuite"
"""The system an invoicing exception is about: the invoice is the ERP's."""
PERIOD_NOT_ENDED = "PeriodNotEnded"
REPORT_NOT_INVOICED = "report-work-not-invoiced"
"""Patch: runs recorded before it did not ask the PSA what the invoice could not include."""

Status = Literal["invoiced", "nothing_to_invoice"]
T = TypeVar("T")


def workflow_id(project_id: str, period: str, sequence: int = 1) -> str:
    """The one workflow id per project, billing period and invoice number (1, or 2, 3... for supplements)."""
    base = f"invoice:{project_id}:{period}"
    return base if sequence == 1 else f"{base}.{sequence}"


def describe(failure: BaseException) -> str:
    """The innermost message of a failure: what a person needs to read."""
    cause: BaseException = failure
    while isinstance(cause, ActivityError) and cause.cause is not None:
        cause = cause.cause
    return str(cause) or type(cause).__name__


def checked(compute: Callable[[], T]) -> T:
    """``compute()``, with a bad input (ValueError) failing the run rather than retrying its task forever."""
    try:
        return compute()
    except ValueError as exc:
        raise ApplicationError(str(exc), type=INVALID_DATA, non_retryable=True) from None


def step_options(domain: str, attempts: int, timeout: timedelta = timedelta(seconds=30)) -> dict[str, Any]:
    """Timeouts and retries of one activity call: transient faults retry, business errors do not."""
    return {
        "task_queue": domain_queue(domain),
        "start_to_close_timeout": timeout,
        "retry_policy": RetryPolicy(
            initial_interval=timedelta(milliseconds=500),
            maximum_interval=timedelta(seconds=30),
            maximum_attempts=attempts,
            non_retryable_error_types=NON_RETRYABLE_TYPES,
        ),
    }


class InvoiceProjectInput(BaseModel):
    """Which project and period to invoice, and where the firm's days begin."""

    project_id: str = Field(min_length=1)
    period: str = Field(description="YYYY-MM")
    time_zone: str = "UTC"
    step_attempts: int = Field(default=8, ge=1)
    """Attempts per step before it counts as failed for good (transient faults retry)."""
    sequence: int = Field(default=1, ge=1)
    """Which of the project's invoices for the period: 1, or a supplementary one (2, 3, ...)."""
    report_not_invoiced: bool = True
    """Ask the PSA what no invoice includes yet (the monthly run asks once for every project)."""
    issue_date: date | None = None
    """The invoice's date; None: the day the run starts in the firm's time zone."""


class InvoiceProjectResult(BaseModel):
    """The project's invoices for the period (one per currency), or that nothing was billable."""

    project_id: str
    period: str
    status: Status
    customer_id: str | None = None
    invoices: list[PostedInvoice] = Field(default_factory=list)
    totals: dict[str, Decimal] = Field(default_factory=dict)
    sequence: int = 1
    not_invoiced: WorkNotInvoiced | None = None
    """The period's work no invoice includes yet: not posted, rejected, or posted since; None when all is."""
    not_invoiced_unknown: str | None = None
    """Why the run could not tell what no invoice includes yet (the PSA unreadable or unavailable)."""


@workflow.defn(name="InvoiceProject")
class InvoiceProjectWorkflow:
    """Post one project's invoice for one period in the ERP, then tell analytics."""

    @workflow.run
    async def run(self, input: InvoiceProjectInput) -> InvoiceProjectResult:
        period = checked(lambda: billing_period(input.period))
        issue_date = input.issue_date or checked(lambda: firm_day(workflow.now(), input.time_zone))
        if issue_date <= period.end:
            raise ApplicationError(
                f"period {input.period} runs until {period.end}: "
                f"invoice it on or after {period.end + timedelta(days=1)}",
                type=PERIOD_NOT_ENDED,
                non_retryable=True,
            )
        workflow.upsert_search_attributes([sa.FLOW_STATE.value_set("invoicing")])
        try:
            outcome = await workflow.execute_activity_method(
                InvoicingActivities.post_invoice,
                InvoiceRequest(
                    project_id=input.project_id,
                    period=input.period,
                    issue_date=issue_date,
                    period_closed_at=firm_midnight(period.end + timedelta(days=1), input.time_zone),
                    sequence=input.sequence,
                ),
                **step_options("erp", input.step_attempts, timedelta(minutes=2)),
            )
            result = InvoiceProjectResult(
                project_id=input.project_id,
                period=input.period,
                status="nothing_to_invoice" if outcome.nothing_to_invoice else "invoiced",
                customer_id=outcome.customer_id,
                invoices=outcome.invoices,
                totals=outcome.totals,
                sequence=input.sequence,
            )
            for invoice in outcome.invoices:
                for event in invoice_events(result, invoice, period, workflow.now()):
                    await workflow.execute_activity_method(
                        EventActivities.publish, event, **step_options("events", input.step_attempts)
                    )
            if outcome.invoices:
                for table, rows in analytics_rows(result, period, issue_date, workflow.now()).items():
                    await workflow.execute_activity_method(
                        EventActivities.push_rows,
                        AnalyticsRows(table=table, rows=rows),
                        **step_options("events", input.step_attempts),
                    )
            if input.report_not_invoiced and workflow.patched(REPORT_NOT_INVOICED):
                await self._report_not_invoiced(input, result)
        except ActivityError as failure:
            _metrics.invoicing_ended("failed")
            if exceptions.enabled():
                await exceptions.record(invoice_exception(input, failure))
            raise
        closed_at = firm_midnight(period.end + timedelta(days=1), input.time_zone)
        _metrics.invoicing_ended(result.status, workflow.now() - closed_at if result.invoices else None)
        workflow.upsert_search_attributes([sa.FLOW_STATE.value_set(result.status)])
        if exceptions.enabled():
            await exceptions.resolve(
                flow="invoicing",
                system=ERP,
                kind="invoice",
                business_key=exception_key(input.project_id, input.period),
                local=True,
            )
        return result

    @staticmethod
    async def _report_not_invoiced(input: InvoiceProjectInput, result: InvoiceProjectResult) -> None:
        """Say what the period's invoices leave out; the invoice stands whatever the PSA answers."""
        try:
            report = await workflow.execute_activity_method(
                WorkNotInvoicedActivities.work_not_invoiced,
                WorkNotInvoicedRequest(period=input.period, project_id=input.project_id),
                **step_options("psa", input.step_attempts, timedelta(minutes=5)),
            )
        except ActivityError as failure:
            result.not_invoiced_unknown = f"the PSA could not be asked: {describe(failure)}"
            return
        result.not_invoiced = next(iter(report.projects), None)
        result.not_invoiced_unknown = report.unreadable


def exception_key(project_id: str, period: str) -> str:
    """The business key of a project's invoicing exception for a period (supplementary invoices share it)."""
    return f"{project_id}:{period}"


def invoice_exception(input: InvoiceProjectInput, failure: ActivityError) -> ExceptionOccurrence:
    """A run that failed for good as an exception of the project's period: the failing step and the ids."""
    return ExceptionOccurrence(
        flow="invoicing",
        system=ERP,
        kind="invoice",
        business_key=exception_key(input.project_id, input.period),
        reason=exceptions.reason(failure),
        message=f"{input.project_id} was not invoiced for {input.period}: {describe(failure)}"[:2000],
        values={
            "project_id": input.project_id,
            "period": input.period,
            "sequence": input.sequence,
            "step": failure.activity_type,
        },
        records=[{"system": "psflow", "type": "project", "id": input.project_id}],
    )


def invoice_events(
    result: InvoiceProjectResult, invoice: PostedInvoice, period: DateRange, now: datetime
) -> list[CloudEvent]:
    """The ``invoice.posted`` and ``revenue.recognized`` events of one posted invoice: its figures, as posted."""
    common: dict[str, Any] = {
        "invoice_id": invoice.invoice_id,
        "project_id": result.project_id,
        "customer_id": result.customer_id,
        "period": result.period,
        "currency": invoice.currency,
    }
    data: dict[str, dict[str, Any]] = {
        "invoice.posted": {
            "erp_id": invoice.erp_id,
            "total": str(invoice.total),
            "issue_date": invoice.issue_date.isoformat(),
            "due_date": invoice.due_date.isoformat(),
            "entries": invoice.entries,
            "lines": invoice.lines,
        },
        "revenue.recognized": {
            "period_start": period.start.isoformat(),
            "period_end": period.end.isoformat(),
            "fees": str(invoice.fees),
            "expenses": str(invoice.expenses),
            "hours": str(invoice.hours),
            "minutes": invoice.minutes,
            "amount": str(invoice.total),
        },
    }
    return [
        CloudEvent(
            id=f"{invoice.invoice_id}:{kind}",
            source=EVENT_SOURCE,
            type=f"com.psflow.{kind}",
            subject=invoice.invoice_id,
            time=now,
            data={**common, **fields},
        )
        for kind, fields in data.items()
    ]


def analytics_rows(
    result: InvoiceProjectResult, period: DateRange, issue_date: date, now: datetime
) -> dict[str, list[dict[str, Any]]]:
    """The ``invoices`` and ``revenue`` analytics rows of the run's invoices."""
    lag_days = (issue_date - period.end).days
    return {
        "invoices": [
            {
                "invoice_id": invoice.invoice_id,
                "erp_id": invoice.erp_id,
                "project_id": result.project_id,
                "customer_id": result.customer_id,
                "period": result.period,
                "currency": invoice.currency,
                "total": str(invoice.total),
                "issue_date": invoice.issue_date.isoformat(),
                "due_date": invoice.due_date.isoformat(),
                "invoice_lag_days": lag_days,
                "posted_at": now.isoformat(),
            }
            for invoice in result.invoices
        ],
        "revenue": [
            {
                "project_id": result.project_id,
                "customer_id": result.customer_id,
                "period": result.period,
                "currency": invoice.currency,
                "fees": str(invoice.fees),
                "expenses": str(invoice.expenses),
                "hours": str(invoice.hours),
                "minutes": invoice.minutes,
                "revenue": str(invoice.total),
            }
            for invoice in result.invoices
        ],
    }
