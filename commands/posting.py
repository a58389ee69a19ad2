"""``psflow posting``: post one business date's approved time and expenses to the ERP now."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from commands._common import UserError, err, friendly, out, settings, table, temporal, workflow_url

if TYPE_CHECKING:
    from datetime import date

    from stack.settings import Settings
    from workflows.post_time_expenses import PostTimeExpensesResult

app = typer.Typer(help="Time & expense posting, PSA → ERP (the daily schedule runs it too).", no_args_is_help=True)


@app.command("run")
@friendly
def run(
    day: Annotated[
        datetime | None,
        typer.Option("--date", formats=["%Y-%m-%d"], help="Business date to post (default: yesterday, firm time)."),
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Follow the posting and print its counts.")] = False,
    page_size: Annotated[int, typer.Option(min=1, max=200, help="Records per PSA page.")] = 200,
) -> None:
    """Start (or join) the posting of one business date; re-running a date never posts twice."""
    from stack.schedules import firm_zone

    config = settings()
    business_date = day.date() if day else datetime.now(firm_zone(config)).date() - timedelta(days=1)
    result = asyncio.run(_run(config, business_date, wait, page_size))
    if result is None:
        return
    counts = table("posted", "already posted", "rejected", "failed", title=f"posting of {business_date}")
    counts.add_row(str(result.posted), str(result.already_posted), str(result.rejected), str(result.failed))
    out.print(counts)
    out.print(result.summary, highlight=False)


async def _run(config: Settings, business_date: date, wait: bool, page_size: int) -> PostTimeExpensesResult | None:
    from temporalio.client import WorkflowFailureError, WorkflowQueryFailedError
    from temporalio.exceptions import FailureError
    from temporalio.service import RPCError

    from stack.flows import start_posting
    from workflows.post_time_expenses import PostTimeExpensesWorkflow

    client = await temporal(config)
    handle = await start_posting(client, config, business_date, page_size=page_size)
    out.print(f"posting {business_date}: {workflow_url(config, handle.id)}", highlight=False, soft_wrap=True)
    if not wait:
        out.print(f"follow it with `psflow posting run --date {business_date} --wait` (joins, never posts twice)")
        return None
    result = asyncio.ensure_future(handle.result())
    with err.status(f"posting {business_date}… (nothing moving? start a worker: `psflow worker`)") as status:
        while not result.done():
            await asyncio.wait([result], timeout=1)
            try:
                progress = await handle.query(PostTimeExpensesWorkflow.progress, rpc_timeout=timedelta(seconds=2))
            except (WorkflowQueryFailedError, RPCError):
                continue  # not picked up by a worker yet, or just finished: keep the last line
            c = progress.counts
            status.update(
                f"posting {business_date}: {progress.kind.replace('_', ' ')}s, {progress.pages} page(s) read — "
                f"{c.posted} posted, {c.already_posted} already posted, {c.rejected} rejected, {c.failed} failed"
            )
    try:
        return await result
    except WorkflowFailureError as failure:
        cause = failure.cause.message if isinstance(failure.cause, FailureError) else str(failure)
        raise UserError(f"the posting of {business_date} failed: {cause}") from None
