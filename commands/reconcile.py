"""``psflow reconcile``: compare the PSA, the ERP and the posting ledger for a month; differences become exceptions."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

import typer

from canonical.calendar import billing_period, firm_day
from commands._common import (
    UserError,
    check_project,
    err,
    friendly,
    open_store,
    out,
    settings,
    table,
    temporal,
    workflow_url,
)
from stack.settings import Settings

app = typer.Typer(
    help="Reconcile a month: PSA time and expenses vs ERP time bills vs the posting ledger.",
    invoke_without_command=True,
)

PeriodOption = Annotated[str | None, typer.Option("--period", help="The month to reconcile, YYYY-MM (e.g. 2026-10).")]
ProjectOption = Annotated[
    str | None, typer.Option("--project", help="Reconcile one project's records only (its canonical id).")
]
AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="Reconcile as of this day, YYYY-MM-DD (default: today in the firm's zone): a month not over by then "
        "is provisional.",
    ),
]
NoFixOption = Annotated[
    bool, typer.Option("--no-fix", help="Only report: do not post missed entries or re-post vanished ERP records.")
]
KIND_WORDS = {
    "not_posted": "approved, never posted",
    "missing_in_erp": "in the ledger, gone from the ERP",
    "not_in_ledger": "in the ERP, not in the ledger",
    "unapproved_after_posting": "posted, no longer approved in the PSA",
    "hours_mismatch": "hours differ",
    "amount_mismatch": "amounts differ",
    "project_missing_in_erp": "project not in the ERP",
    "project_missing_in_psa": "ERP job with no PSA project",
    "project_mismatch": "project client/currency/status differ",
    "invoice_mismatch": "invoiced total differs from posted billable",
}


def _as_of_day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UserError(f"--as-of {value!r} is not a day: write it as YYYY-MM-DD") from None


def checked_period(period: str, config: Settings, today: date | None = None) -> tuple[date, bool]:
    """The firm's today and whether ``period`` is still open (provisional); a UserError if it is malformed or ahead."""
    try:
        days = billing_period(period)
    except ValueError as exc:
        raise UserError(f"--period: {exc}") from None
    try:
        today = today or firm_day(datetime.now(UTC), config.firm_time_zone)
    except ValueError as exc:
        raise UserError(f"PSFLOW_FIRM_TIME_ZONE: {exc}") from None
    if days.start > today:
        raise UserError(f"--period {period} has not started yet (today is {today}): there is nothing to reconcile")
    return today, days.end >= today


_NOUNS = {"time_entry": ("time entry", "time entries"), "expense": ("expense", "expenses")}
_NOUNS |= {"project": ("project", "projects"), "invoice": ("invoice", "invoices")}


def counts_compared(compared: dict[str, dict[str, int]]) -> str:
    """``PSA: 6 time entries, 1 project; ERP: …; ledger: …``: what each side held, by kind."""
    parts = []
    for side, label in (("psa", "PSA"), ("erp", "ERP"), ("ledger", "ledger")):
        kinds = compared.get(side, {})
        held = [
            f"{n} {_NOUNS.get(k, (k, k))[n != 1]}" for k, n in sorted(kinds.items(), key=lambda i: _ORDER.get(i[0], 9))
        ]
        parts.append(f"{label}: {', '.join(held) or 'nothing'}")
    return "; ".join(parts)


_ORDER = {"time_entry": 0, "expense": 1, "project": 2, "invoice": 3}


def print_result(result: object) -> None:
    """The run's summary: clean (saying so, with the counts compared) or its differences by kind."""
    from workflows.reconcile import ReconcileResult

    assert isinstance(result, ReconcileResult)
    scope = result.period + (f" ({result.project_id})" if result.project_id else "")
    provisional = " (provisional: the period is not over yet)" if result.provisional else ""
    kinds = sorted({kind for counts in result.compared.values() for kind in counts})
    compared = table("side", *kinds, title="compared")
    for side in ("psa", "erp", "ledger"):
        compared.add_row(side, *(str(result.compared.get(side, {}).get(kind, 0)) for kind in kinds))
    out.print(compared)
    if result.fixed:
        out.print(f"auto-fix: {result.fixed} record(s) posted through the daily posting, exactly once", highlight=False)
    if result.status == "clean":
        out.print(f"{scope}: clean{provisional} — compared {counts_compared(result.compared)}", highlight=False)
        return
    found = table("difference", "count", "meaning", title="differences")
    for kind, count in sorted(result.differences.items()):
        found.add_row(kind, str(count), KIND_WORDS.get(kind, ""))
    out.print(found)
    out.print(
        f"{scope}: {result.total} difference(s){provisional} — compared {counts_compared(result.compared)}; "
        "see `psflow exceptions list --flow reconciliation`",
        highlight=False,
    )


@app.callback()
@friendly
def reconcile(
    ctx: typer.Context,
    period: PeriodOption = None,
    project: ProjectOption = None,
    no_fix: NoFixOption = False,
    as_of: AsOfOption = None,
) -> None:
    """Reconcile one month (or one project in it), wait for it, and print clean or its differences."""
    if ctx.invoked_subcommand is not None:
        return
    if period is None:
        raise UserError("--period is required, e.g. `psflow reconcile --period 2026-10`")
    config = settings()
    today, provisional = checked_period(period, config, _as_of_day(as_of))
    if project is not None:
        check_project(config, project)

    async def go() -> None:
        from temporalio.client import WorkflowFailureError, WorkflowQueryFailedError
        from temporalio.exceptions import FailureError
        from temporalio.service import RPCError

        from stack.flows import start_reconcile
        from workflows.reconcile import ReconcileWorkflow

        client = await temporal(config)
        handle = await start_reconcile(client, config, period, project, auto_fix=not no_fix, today=today)
        out.print(f"reconciling {period}: {workflow_url(config, handle.id)}", highlight=False, soft_wrap=True)
        if provisional:
            err.print(f"{period} is not over yet: the result is provisional")
        result = asyncio.ensure_future(handle.result())
        with err.status(f"reconciling {period}… (nothing moving? start a worker: `psflow worker`)") as status:
            while not result.done():
                await asyncio.wait([result], timeout=1)
                try:
                    progress = await handle.query(ReconcileWorkflow.progress, rpc_timeout=timedelta(seconds=2))
                except (WorkflowQueryFailedError, RPCError):
                    continue
                staged = ", ".join(f"{k} {v}" for k, v in sorted(progress.staged.items()))
                status.update(f"reconciling {period}: {progress.step} — {staged or 'reading'}")
        try:
            print_result(await result)
        except WorkflowFailureError as failure:
            cause = failure.cause.message if isinstance(failure.cause, FailureError) else str(failure)
            raise UserError(f"the reconciliation of {period} failed: {cause}") from None

    asyncio.run(go())


@app.command("status")
@friendly
def status(
    period: Annotated[str, typer.Option("--period", help="The month, YYYY-MM.")], project: ProjectOption = None
) -> None:
    """The period's reconciliation runs, newest first, from the store."""
    from store.reconciliation import runs_of

    try:
        billing_period(period)
    except ValueError as exc:
        raise UserError(f"--period: {exc}") from None
    config = settings()
    with open_store(config) as store:  # a store without the schema yet is one error line, as in kpis
        runs = runs_of(store, period, project)
    if not runs:
        out.print(f"{period}: not reconciled yet; run `psflow reconcile --period {period}`", highlight=False)
        return
    shown = table("started", "project", "status", "compared (PSA/ERP/ledger)", "differences", "fixed", "workflow")
    for run in runs:
        state = f"provisional {run.status}" if run.provisional else run.status
        differences = ", ".join(f"{kind} {n}" for kind, n in sorted(run.differences.items())) or "-"
        shown.add_row(
            f"{run.started_at:%Y-%m-%d %H:%M}",
            run.project_id or "all",
            state,
            counts_compared(run.compared),
            differences,
            str(run.fixed),
            run.workflow_id,
        )
    out.print(shown)


@app.command("backfill")
@friendly
def backfill(
    first: Annotated[str, typer.Option("--from", help="First month to reconcile, YYYY-MM.")],
    last: Annotated[str, typer.Option("--to", help="Last month to reconcile, YYYY-MM.")],
) -> None:
    """Reconcile past months through the schedule, one run per month, oldest first."""
    from temporalio.service import RPCError, RPCStatusCode

    from stack.schedules import RECONCILIATION, ScheduleError, handle, reconciliation_backfill

    config = settings()
    try:
        window = reconciliation_backfill(config, first, last, now=datetime.now(UTC))
    except ScheduleError as exc:
        raise UserError(str(exc)) from None

    async def go() -> None:
        client = await temporal(config)
        try:
            await handle(client, config, RECONCILIATION).backfill(window)
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise UserError(f"{exc.message}: create the schedules with `psflow schedule apply`") from None
            raise

    asyncio.run(go())
    out.print(
        f"backfilling reconciliation: {first} to {last}, one run per month; "
        f"follow them with `psflow reconcile status --period {last}`",
        highlight=False,
    )
