"""The monthly billing cycle: one `InvoiceProjectWorkflow` child per project with work to invoice.

Started by the monthly schedule (the 1st at 03:00 in the firm's time zone, for the month before:
the period comes from the ``TemporalScheduledStartTime`` search attribute) or by
``psflow invoice run-month --period YYYY-MM``. Children have the per-project ids
(``invoice:{project_id}:{YYYY-MM}``), so re-running a month never invoices a project twice: a
project already invoiced for the period, or being invoiced by a run started elsewhere, is
reported as such, and one whose earlier run failed is invoiced again.

The month's invoices bill what was posted when they were made. The run then asks the PSA what
they leave out (approved time whose day is not posted yet, records the posting rejected, work
posted meanwhile) and reports it per project. Running the month again once that work is posted
bills it on a supplementary invoice (``invoice:{project_id}:{YYYY-MM}.2``, ``.3``...): nothing
is left for next month silently.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.common import SearchAttributeKey, WorkflowIDReusePolicy
from temporalio.exceptions import ActivityError, ChildWorkflowError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from activities.invoicing import (
        InvoiceToMake,
        InvoicingActivities,
        PeriodRef,
        WorkNotInvoiced,
        WorkNotInvoicedActivities,
        WorkNotInvoicedRequest,
    )
    from canonical.calendar import billing_period, firm_day, previous_period
    from workflows import search_attributes as sa
    from workflows.invoice_project import (
        InvoiceProjectInput,
        InvoiceProjectWorkflow,
        checked,
        step_options,
        workflow_id,
    )

SCHEDULED_START = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")
SUPPLEMENTARY = "supplementary-invoices"
"""Patch: runs recorded before it listed projects only (first invoices) and reported nothing left out."""

Outcome = Literal["invoiced", "nothing_to_invoice", "already_started", "failed"]


def month_workflow_id(period: str) -> str:
    """The id of a month's invoicing run started from the CLI."""
    return f"monthly-invoicing:{period}"


class MonthlyInvoicingInput(BaseModel):
    """Which month to invoice (default: the month before the scheduled start) and how."""

    period: str | None = Field(default=None, description="YYYY-MM; None: the month before the run's scheduled start")
    time_zone: str = "UTC"
    parallel: int = Field(default=10, ge=1, le=200)
    """Projects invoiced at the same time (NetSuite's concurrency limit is per account)."""
    step_attempts: int = Field(default=8, ge=1)
    issue_date: date | None = None
    """The invoices' date; None: the day each project's run starts in the firm's time zone."""


class ProjectInvoicing(BaseModel):
    """What became of one project in the cycle."""

    project_id: str
    workflow_id: str
    outcome: Outcome
    invoice_ids: list[str] = Field(default_factory=list)
    totals: dict[str, Decimal] = Field(default_factory=dict)
    error: str | None = None
    sequence: int = 1
    """Which of the project's invoices for the period: 1, or a supplementary one (2, 3, ...)."""


class MonthlyInvoicingResult(BaseModel):
    """The cycle's summary: per project, totals per currency of the invoices it posted, and what they leave out."""

    period: str
    projects: list[ProjectInvoicing] = Field(default_factory=list)
    totals: dict[str, Decimal] = Field(default_factory=dict)
    not_invoiced: list[WorkNotInvoiced] = Field(default_factory=list)
    """Per project, the month's work no invoice includes yet: for a supplementary invoice once posted."""
    not_invoiced_unknown: str | None = None
    """Why the run could not tell what no invoice includes yet (the PSA unreadable or unavailable)."""

    def count(self, outcome: Outcome) -> int:
        """How many projects ended with ``outcome``."""
        return sum(1 for project in self.projects if project.outcome == outcome)


@workflow.defn(name="MonthlyInvoicing")
class MonthlyInvoicingWorkflow:
    """Invoice every project with billable work for one month, each exactly once."""

    def __init__(self) -> None:
        self._supplementary = False

    @workflow.run
    async def run(self, input: MonthlyInvoicingInput) -> MonthlyInvoicingResult:
        period = input.period or previous_period(checked(lambda: firm_day(self._scheduled_start(), input.time_zone)))
        checked(lambda: billing_period(period))
        workflow.upsert_search_attributes([sa.FLOW_STATE.value_set("invoicing")])
        supplementary = self._supplementary = workflow.patched(SUPPLEMENTARY)
        todo = await self._invoices_to_make(period, input, supplementary=supplementary)
        workflow.logger.info("invoicing %d projects for %s", len(todo), period)
        result = MonthlyInvoicingResult(period=period)
        for start in range(0, len(todo), input.parallel):
            batch = todo[start : start + input.parallel]
            result.projects += await asyncio.gather(*(self._invoice(item, period, input) for item in batch))
        for project in result.projects:
            for currency, total in project.totals.items():
                result.totals[currency] = result.totals.get(currency, Decimal(0)) + total
        if supplementary:
            await self._report_not_invoiced(period, input, result)
        workflow.upsert_search_attributes(
            [sa.FLOW_STATE.value_set("completed_with_failures" if result.count("failed") else "completed")]
        )
        return result

    @staticmethod
    def _scheduled_start() -> datetime:
        """When the schedule meant this run to start; the actual start for runs started by hand."""
        info = workflow.info()
        return info.typed_search_attributes.get(SCHEDULED_START) or info.start_time

    @staticmethod
    async def _invoices_to_make(
        period: str, input: MonthlyInvoicingInput, *, supplementary: bool
    ) -> list[InvoiceToMake]:
        if supplementary:
            return await workflow.execute_activity_method(
                InvoicingActivities.invoices_to_make,
                PeriodRef(period=period),
                **step_options("erp", input.step_attempts),
            )
        projects = await workflow.execute_activity_method(
            InvoicingActivities.projects_to_invoice,
            PeriodRef(period=period),
            **step_options("erp", input.step_attempts),
        )
        return [InvoiceToMake(project_id=project_id) for project_id in projects]

    @staticmethod
    async def _report_not_invoiced(period: str, input: MonthlyInvoicingInput, result: MonthlyInvoicingResult) -> None:
        """Say, per project, what the month's invoices leave out; they stand whatever the PSA answers."""
        try:
            report = await workflow.execute_activity_method(
                WorkNotInvoicedActivities.work_not_invoiced,
                WorkNotInvoicedRequest(period=period),
                **step_options("psa", input.step_attempts, timedelta(minutes=10)),
            )
        except ActivityError as failure:
            result.not_invoiced_unknown = f"the PSA could not be asked: {_describe(failure)}"
            return
        result.not_invoiced = report.projects
        result.not_invoiced_unknown = report.unreadable

    async def _invoice(self, item: InvoiceToMake, period: str, input: MonthlyInvoicingInput) -> ProjectInvoicing:
        project_id, sequence = item.project_id, item.sequence
        child_id = workflow_id(project_id, period, sequence)
        summary = ProjectInvoicing(
            project_id=project_id, workflow_id=child_id, outcome="already_started", sequence=sequence
        )
        child_input = InvoiceProjectInput(
            project_id=project_id,
            period=period,
            time_zone=input.time_zone,
            step_attempts=input.step_attempts,
            sequence=sequence,
            report_not_invoiced=not self._supplementary,  # this run asks the PSA once, for every project
            issue_date=input.issue_date,
        )
        label = "Invoice" if sequence == 1 else f"Supplementary invoice {sequence} of"
        try:
            handle = await workflow.start_child_workflow(
                InvoiceProjectWorkflow.run,
                child_input,
                id=child_id,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                static_summary=f"{label} {project_id} for {period}",
            )
        except WorkflowAlreadyStartedError:
            return summary
        try:
            invoiced = await handle
        except ChildWorkflowError as failure:
            summary.outcome, summary.error = "failed", _describe(failure)
            return summary
        summary.outcome = invoiced.status
        summary.invoice_ids = [invoice.invoice_id for invoice in invoiced.invoices]
        summary.totals = dict(invoiced.totals)
        return summary


def _describe(failure: BaseException) -> str:
    """The innermost message of a child's failure: what a person needs to read."""
    cause: BaseException = failure
    while isinstance(cause, ChildWorkflowError | ActivityError) and cause.cause is not None:
        cause = cause.cause
    return str(cause) or type(cause).__name__
