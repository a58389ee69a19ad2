"""``psflow engagement``: provision a won deal, watch it, list runs, answer its questions."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

import typer
from rich.live import Live
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.service import RPCError

from canonical.record_ids import InvalidRecordId, opportunity_id
from commands._common import UserError, err, friendly, out, settings, table, temporal, workflow_url
from commands._errors import one_line
from workflows.provision_engagement import (
    ProvisionEngagementWorkflow,
    ProvisioningProgress,
    Resolution,
    State,
    workflow_id,
)

app = typer.Typer(
    help="Engagement provisioning: won deal → PSA project, ERP job, staffing event.", no_args_is_help=True
)
Crm = Literal["salesforce", "hubspot"]
REF_HELP = "Workflow id, crm:opportunity, or a Salesforce opportunity id."
STATE_STYLE = {"done": "green", "running": "yellow", "failed": "red", "compensated": "magenta", "pending": "dim"}


def deal_id(crm: Crm, opportunity: str) -> str:
    """The opportunity's canonical id, or a UserError saying what an id of that CRM looks like."""
    try:
        return opportunity_id(crm, opportunity)
    except InvalidRecordId as exc:
        raise UserError(str(exc)) from None


def run_id(ref: str) -> str:
    """Accept a workflow id, ``crm:opportunity`` or a bare Salesforce opportunity id; UserError for anything else."""
    crm, _, opportunity = ref.removeprefix("engagement-provisioning:").partition(":")
    if not opportunity:
        crm, opportunity = "salesforce", ref
    if crm not in ("salesforce", "hubspot"):
        raise UserError(f"{ref!r} names no provisioning run: write crm:opportunity, e.g. hubspot:8123 ({REF_HELP})")
    return workflow_id(crm, deal_id(crm, opportunity))  # type: ignore[arg-type]


def progress_table(progress: ProvisioningProgress) -> Any:
    """The steps of one run, coloured by state."""
    title = f"{progress.engagement_id} — {progress.client or '…'} — {progress.state}"
    if progress.sla_breached:
        title += " — SLA BREACHED"
    rows = table("step", "state", "id in system", "detail", title=title)
    for step in progress.steps:
        style = STATE_STYLE.get(step.state, "")
        rows.add_row(step.name, f"[{style}]{step.state}[/{style}]", step.system_id or "", step.detail or "")
    return rows


async def _progress(client: Client, ref: str) -> ProvisioningProgress:
    try:
        return await client.get_workflow_handle(run_id(ref)).query(ProvisionEngagementWorkflow.progress)
    except RPCError as exc:
        raise UserError(
            f"no provisioning run {run_id(ref)!r} ({exc.message}); `psflow engagement list` shows them"
        ) from None


@app.command("provision")
@friendly
def provision(
    opportunity: Annotated[str, typer.Option("--opportunity", "-o", help="The deal's id in its CRM.")],
    crm: Annotated[Crm, typer.Option(help="The CRM the deal lives in.")] = "salesforce",
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Follow the run until it ends.")] = True,
) -> None:
    """Provision a won deal now (the same run a webhook or the polling schedule would start)."""
    from stack.flows import trigger_provisioning

    opportunity = deal_id(crm, opportunity)
    config = settings()

    async def go() -> None:
        client = await temporal(config)
        handle, already = await trigger_provisioning(client, config, crm=crm, opportunity_id=opportunity, source="cli")
        if already:
            out.print(f"{handle.id} already provisioned this deal; nothing to do.")
        out.print(f"Web UI: {workflow_url(config, handle.id)}", soft_wrap=True, highlight=False)
        if not wait or already:
            return
        with Live(progress_table(await _progress(client, handle.id)), console=out, refresh_per_second=4) as live:
            while True:
                progress = await _progress(client, handle.id)
                live.update(progress_table(progress))
                if progress.question:
                    break
                if (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
                    break
                await asyncio.sleep(0.3)
        if progress.question:
            err.print(f"[yellow]waiting for a person:[/yellow] {progress.question}", highlight=False)
            return
        try:
            result = await handle.result()
            out.print(f"[green]provisioned[/green]: PSA {result.psa_project_id}, ERP job {result.erp_job_id}")
        except WorkflowFailureError as failure:
            raise UserError(f"not provisioned: {failure.cause}") from None

    asyncio.run(go())


@app.command("status")
@friendly
def status(
    ref: Annotated[str, typer.Argument(help=REF_HELP)],
) -> None:
    """Show where one deal's provisioning stands, step by step."""
    run_id(ref)
    config = settings()

    async def go() -> None:
        client = await temporal(config)
        progress = await _progress(client, ref)
        out.print(progress_table(progress))
        if progress.question:
            out.print(f"[yellow]question:[/yellow] {progress.question}", highlight=False)
        out.print(f"Web UI: {workflow_url(config, run_id(ref))}", soft_wrap=True, highlight=False)

    asyncio.run(go())


@app.command("list")
@friendly
def list_runs(
    state: Annotated[State | None, typer.Option(help="The run's state.")] = None,
    client_name: Annotated[
        str | None,
        typer.Option("--client", help="The client's name, exactly (runs started with visibility_client_names)."),
    ] = None,
    breached: Annotated[bool, typer.Option("--breached", help="Only runs that breached their SLA.")] = False,
    limit: Annotated[int, typer.Option(min=1, help="At most this many runs, newest first.")] = 50,
) -> None:
    """List provisioning runs, filtered by state, client or SLA breach."""
    config = settings()
    filters = ["WorkflowType = 'ProvisionEngagement'"]
    if state:
        filters.append(f"PsflowState = '{state}'")
    if client_name:
        quoted = client_name.replace("\\", "\\\\").replace("'", "\\'")
        filters.append(f"PsflowClient = '{quoted}'")
    if breached:
        filters.append("SlaBreached = true")

    async def go() -> None:
        client = await temporal(config)
        rows = table("opportunity", "client", "state", "SLA", "PSA project", "ERP job", "started")
        count = 0
        runs = client.list_workflows(" AND ".join(filters), limit=limit)
        async for run in _listed(runs):
            attributes = run.typed_search_attributes
            values = {key.name: value for key, value in ((p.key, p.value) for p in attributes)}
            rows.add_row(
                run.id.removeprefix("engagement-provisioning:"),
                str(values.get("PsflowClient", "")),
                str(values.get("PsflowState", run.status.name.lower() if run.status else "")),
                "breached" if values.get("SlaBreached") else "",
                str(values.get("PsaProjectId", "")),
                str(values.get("ErpJobId", "")),
                f"{run.start_time:%Y-%m-%d %H:%M:%S}",
            )
            count += 1
        out.print(rows if count else "no provisioning runs match")

    asyncio.run(go())


@app.command("resolve")
@friendly
def resolve(
    ref: Annotated[str, typer.Argument(help=REF_HELP)],
    by: Annotated[str, typer.Option("--by", help="Who answers (kept in the run's history).")],
    payment_terms: Annotated[str | None, typer.Option(help="e.g. 'Net 30'.")] = None,
    billing_address: Annotated[
        str | None, typer.Option(help="'line1, city, country' with a 2-letter country, e.g. '9 Quay St, Leeds, GB'.")
    ] = None,
    abandon: Annotated[bool, typer.Option("--abandon", help="Do not provision this deal.")] = False,
) -> None:
    """Answer a run that waits for a person (missing billing data), or abandon the deal."""
    address: dict[str, str] | None = None
    if billing_address is not None:
        parts = [part.strip() for part in billing_address.split(",")]
        if len(parts) != 3 or not all(parts):
            raise typer.BadParameter(
                f"expected 'line1, city, country', got {billing_address!r}", param_hint="--billing-address"
            )
        address = {"line1": parts[0], "city": parts[1], "country": parts[2]}
    try:
        answer = Resolution.model_validate(
            {"resolved_by": by, "payment_terms": payment_terms, "billing_address": address, "abandon": abandon}
        )
    except ValueError as exc:
        raise UserError(f"invalid answer: {one_line(exc)}") from None
    handle_id = run_id(ref)
    config = settings()

    async def go() -> None:
        client = await temporal(config)
        handle = client.get_workflow_handle(handle_id)
        try:
            out.print(await handle.execute_update(ProvisionEngagementWorkflow.resolve, answer))
        except WorkflowUpdateFailedError as exc:
            raise UserError(str(exc.cause)) from None
        except RPCError as exc:
            raise UserError(f"cannot answer {handle.id}: {exc.message}") from None

    asyncio.run(go())


async def _listed(runs: Any) -> Any:
    """The runs of a visibility listing; a query the server refuses is a UserError."""
    try:
        async for run in runs:
            yield run
    except RPCError as exc:
        raise UserError(f"Temporal refused the listing: {exc.message}") from None
