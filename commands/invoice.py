"""``psflow invoice``: invoice one project for a month, or run a month's whole billing cycle."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

import typer
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import FailureError

from activities.invoicing import WorkNotInvoiced
from canonical import Money
from canonical.calendar import billing_period, firm_day
from commands._common import UserError, check_project, err, friendly, out, settings, table, temporal, workflow_url
from stack.flows import start_invoice, start_monthly_invoicing
from stack.settings import Settings
from workflows.invoice_project import InvoiceProjectResult
from workflows.monthly_invoicing import MonthlyInvoicingResult

app = typer.Typer(help="Invoices from posted time and expenses: one project's month, or the monthly cycle.")

PeriodOption = Annotated[str, typer.Option("--period", help="The billing month, YYYY-MM (e.g. 2026-10).")]
WaitOption = Annotated[bool, typer.Option("--wait", help="Wait for the run and print its result.")]
IssueDateOption = Annotated[
    str | None,
    typer.Option("--issue-date", help="The invoices' date, YYYY-MM-DD, after the period (default: today)."),
]


def ended_period(period: str, config: Settings, issue_date: str | None = None) -> date | None:
    """The issue date asked for (None: today), checked with the period: YYYY-MM, over by the issue date."""
    try:
        days = billing_period(period)
    except ValueError as exc:
        raise UserError(f"--period: {exc}") from None
    try:
        issued = date.fromisoformat(issue_date) if issue_date is not None else None
    except ValueError:
        raise UserError(f"--issue-date: {issue_date!r} is not a date written as YYYY-MM-DD") from None
    try:
        today = issued or firm_day(datetime.now(UTC), config.firm_time_zone)
    except ValueError as exc:
        raise UserError(f"PSFLOW_FIRM_TIME_ZONE: {exc}") from None
    if today <= days.end:
        raise UserError(f"period {period} runs until {days.end}: invoice it on or after {days.end + timedelta(days=1)}")
    return issued


async def _result(handle: WorkflowHandle[Any, Any]) -> Any:
    try:
        return await handle.result()
    except WorkflowFailureError as failure:
        cause: BaseException = failure.cause
        while isinstance(cause, FailureError) and cause.cause is not None:
            cause = cause.cause
        raise UserError(f"{handle.id} failed: {cause.message if isinstance(cause, FailureError) else cause}") from None


@app.command("run")
@friendly
def run(
    project: Annotated[str, typer.Option("--project", help="The project's canonical id, e.g. PRJ-0001.")],
    period: PeriodOption,
    wait: WaitOption = False,
    issue_date: IssueDateOption = None,
) -> None:
    """Invoice one project for one month, exactly once: a repeat shows the invoice already made."""
    config = settings()
    issued = ended_period(period, config, issue_date)
    check_project(config, project)

    async def go() -> None:
        client = await temporal(config)
        handle, done = await start_invoice(client, config, project, period, issue_date=issued)
        url = workflow_url(config, handle.id)
        if not (wait or done):
            out.print(f"invoicing {project} for {period}: {handle.id}", highlight=False)
        else:
            if not done:
                err.print(f"[dim]waiting for {handle.id} (needs a running worker: `psflow worker`)[/dim]")
            _print_invoice(await _result(handle), already=done)
        out.print(f"Web UI: {url}", highlight=False, soft_wrap=True)

    asyncio.run(go())


@app.command("run-month")
@friendly
def run_month(period: PeriodOption, wait: WaitOption = False, issue_date: IssueDateOption = None) -> None:
    """Invoice every project with posted, unbilled billable work for one month (each exactly once)."""
    config = settings()
    issued = ended_period(period, config, issue_date)

    async def go() -> None:
        client = await temporal(config)
        handle = await start_monthly_invoicing(client, config, period, issue_date=issued)
        url = workflow_url(config, handle.id)
        if not wait:
            out.print(f"invoicing {period}: {handle.id}", highlight=False)
            out.print(f"Web UI: {url}", highlight=False, soft_wrap=True)
            return
        err.print(f"[dim]waiting for {handle.id} (needs a running worker: `psflow worker`)[/dim]")
        result: MonthlyInvoicingResult = await _result(handle)
        _print_month(result)
        out.print(f"Web UI: {url}", highlight=False, soft_wrap=True)
        if result.count("failed"):
            raise typer.Exit(1)

    asyncio.run(go())


def money(amount: Decimal, currency: str) -> str:
    """An amount with thousands separators and its currency's minor unit (1,468.75; 12,345 JPY; 0.514 KWD)."""
    places = Money(amount=amount, currency=currency).minor_units
    return f"{amount:,.{places}f}"


def not_invoiced_lines(period: str, found: list[WorkNotInvoiced], unknown: str | None) -> list[str]:
    """What the period's invoices leave out, one line per project, and what to do about it."""
    lines = []
    for work in found:
        parts = []
        if work.not_posted:
            parts.append(f"{work.not_posted} approved but not posted yet")
        if work.rejected:
            parts.append(f"{work.rejected} rejected by the posting (`psflow exceptions list`)")
        if work.posted_since:
            parts.append(f"{work.posted_since} posted after its invoice was made")
        days = f"{work.first}..{work.last}" if work.first != work.last else f"{work.first}"
        lines.append(f"not invoiced yet: {work.project_id}: {', '.join(parts)} (dated {days}; e.g. {work.examples[0]})")
    if found:
        lines.append(
            f"post them, then run `psflow invoice run-month --period {period}` again: "
            "they go on a supplementary invoice for the same month"
        )
    if unknown:
        lines.append(f"could not tell what is not invoiced yet: {unknown}")
    return lines


def _print_invoice(result: InvoiceProjectResult, *, already: bool) -> None:
    if result.status == "nothing_to_invoice":
        out.print(
            f"nothing to invoice: {result.project_id} has no posted, unbilled billable work up to {result.period}"
        )
        _print_not_invoiced(
            result.period, [result.not_invoiced] if result.not_invoiced else [], result.not_invoiced_unknown
        )
        return
    title = f"{result.project_id} {result.period}" + (" (already invoiced)" if already else "")
    grid = table(
        "invoice", "NetSuite id", "currency", "total", "fees", "expenses", "hours", "entries", "due", title=title
    )
    for invoice in result.invoices:
        grid.add_row(
            invoice.invoice_id,
            invoice.erp_id,
            invoice.currency,
            money(invoice.total, invoice.currency),
            money(invoice.fees, invoice.currency),
            money(invoice.expenses, invoice.currency),
            f"{invoice.hours.normalize():f}",
            str(invoice.entries),
            invoice.due_date.isoformat(),
        )
    out.print(grid)
    _print_not_invoiced(
        result.period, [result.not_invoiced] if result.not_invoiced else [], result.not_invoiced_unknown
    )


def _print_not_invoiced(period: str, found: list[WorkNotInvoiced], unknown: str | None) -> None:
    for line in not_invoiced_lines(period, found, unknown):
        out.print(line, highlight=False, soft_wrap=True)


def _print_month(result: MonthlyInvoicingResult) -> None:
    grid = table("project", "outcome", "totals", "detail", title=f"invoicing {result.period}")
    for project in result.projects:
        totals = ", ".join(f"{money(total, currency)} {currency}" for currency, total in sorted(project.totals.items()))
        grid.add_row(project.project_id, project.outcome, totals or "-", project.error or project.workflow_id)
    out.print(grid)
    summary = ", ".join(f"{money(total, currency)} {currency}" for currency, total in sorted(result.totals.items()))
    out.print(
        f"{result.count('invoiced')} invoiced, {result.count('nothing_to_invoice')} with nothing to invoice, "
        f"{result.count('already_started')} already invoiced or in progress, {result.count('failed')} failed"
        + (f"; totals {summary}" if summary else ""),
        highlight=False,
    )
    _print_not_invoiced(result.period, result.not_invoiced, result.not_invoiced_unknown)
