"""``psflow amendment``: submit a contract amendment by hand, see where each version stands, retry a target."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from pydantic import ValidationError
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import FailureError
from temporalio.service import RPCError

from canonical import ContractAmendment
from commands._common import UserError, friendly, out, settings, table, temporal, workflow_url
from commands._errors import one_line
from workflows.amend_contract import (
    TARGET_NAMES,
    TARGETS,
    AmendmentSubmission,
    ContractStatus,
    ContractWorkflow,
    RetryTarget,
    contract_workflow_id,
)

app = typer.Typer(help="Contract amendments: applied in version order to the PSA, the ERP and events.",
                  no_args_is_help=True)  # fmt: skip
Crm = Literal["salesforce", "hubspot"]
REF_HELP = "The contract: crm:contract_id (e.g. hubspot:9100000001), or a Salesforce contract id."
STYLE = {"applied": "green", "pending": "yellow", "failed": "red"}
TargetOption = Literal["psa", "erp", "events"]


def contract_ref(ref: str) -> tuple[Crm, str]:
    """``crm:contract`` (or the workflow id, or a bare Salesforce contract id) as (crm, contract id)."""
    crm, _, contract = ref.removeprefix("contract:").partition(":")
    if not contract:
        crm, contract = "salesforce", ref
    if crm not in ("salesforce", "hubspot") or not contract:
        raise UserError(f"{ref!r} names no contract: {REF_HELP}")
    return crm, contract  # type: ignore[return-value]


def read_amendment_file(path: Path, *, contract: str, version: int) -> ContractAmendment:
    """The amendment in ``path`` (canonical JSON), with the contract and version of the command line."""
    try:
        terms: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(f"{path} is not JSON: {exc}") from None
    if not isinstance(terms, dict):
        raise UserError(f"{path} must hold one JSON object (the amendment's terms)")
    for key, given in (("contract_id", contract), ("version", version)):
        if terms.get(key, given) != given:
            raise UserError(f"{path} says {key} {terms[key]!r} but the command line says {given!r}")
    terms |= {"contract_id": contract, "version": version}
    terms.setdefault("id", f"cli:{contract}:v{version}")
    terms.setdefault("signed_at", datetime.now(UTC).isoformat())
    try:
        return ContractAmendment.model_validate(terms)
    except ValidationError as exc:
        raise UserError(f"{path}: {one_line(exc)}") from None


def status_table(status: ContractStatus) -> Any:
    """One row per version, one column per target: ``applied``, ``pending`` or ``failed (reason)``."""
    title = f"{status.workflow_id} — engagement {status.engagement_id or 'not read yet'}"
    rows = table("version", "terms", *(TARGET_NAMES[t] for t in TARGETS), title=title)
    for record in status.versions:
        cells = []
        for target in TARGETS:
            state = record.targets[target]
            style = STYLE[state.state]
            text = f"[{style}]{state.state}[/{style}]"
            if state.reason:
                text += f" ({state.reason})"
            cells.append(text)
        rows.add_row(f"v{record.version}", record.summary, *cells)
    return rows


async def _status(client: Client, crm: str, contract: str) -> ContractStatus:
    handle = client.get_workflow_handle(contract_workflow_id(crm, contract))
    try:
        status: ContractStatus = await handle.query(ContractWorkflow.status)
    except RPCError as exc:
        raise UserError(
            f"no amendments for {crm} contract {contract} ({exc.message}); `psflow amendment list` shows contracts"
        ) from None
    return status


def _print_status(status: ContractStatus) -> None:
    out.print(status_table(status))
    for line in status.lines:
        out.print(line, highlight=False)
    for notice in (status.waiting, *status.exceptions):
        if notice:
            out.print(f"[yellow]{notice}[/yellow]", highlight=False)
    for refused in status.rejections:
        out.print(f"[red]refused delivery:[/red] {refused}", highlight=False)


def _refusal(exc: WorkflowUpdateFailedError) -> str:
    cause = exc.cause
    while isinstance(cause, FailureError) and cause.cause is not None:
        cause = cause.cause
    return cause.message if isinstance(cause, FailureError) else str(cause)


@app.command("submit")
@friendly
def submit(
    contract: Annotated[str, typer.Option("--contract", "-c", help=REF_HELP)],
    version: Annotated[int, typer.Option("--version", "-v", min=1, help="The amendment's version (1 = first).")],
    file: Annotated[Path, typer.Option("--file", "-f", help="The amendment's terms as JSON (docs/amendments.md).")],
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait for the answer of each target.")] = True,
) -> None:
    """Submit an amendment by hand (firms without CRM amendments); versions apply strictly in order."""
    crm, contract_id = contract_ref(contract)
    amendment = read_amendment_file(file, contract=contract_id, version=version)
    delivery = AmendmentSubmission(crm=crm, contract_id=contract_id, amendment=amendment, source="cli")
    config = settings()

    async def go() -> None:
        from stack.flows import submit_amendment

        client = await temporal(config)
        try:
            receipt = await submit_amendment(client, config, delivery, wait=wait)
        except WorkflowUpdateFailedError as exc:
            raise UserError(f"v{version} refused, nothing applied: {_refusal(exc)}") from None
        if receipt.outcome is not None:
            out.print(f"{receipt.outcome.message} — {receipt.outcome.state}", highlight=False)
            _print_status(await _status(client, crm, contract_id))
        else:
            out.print(f"v{version} accepted by {receipt.workflow_id}; `psflow amendment status {crm}:{contract_id}`")
        out.print(f"Web UI: {workflow_url(config, receipt.workflow_id)}", soft_wrap=True, highlight=False)

    asyncio.run(go())


@app.command("status")
@friendly
def status(contract: Annotated[str, typer.Argument(help=REF_HELP)]) -> None:
    """Show each version of a contract and where it stands in Kantata, NetSuite and events."""
    crm, contract_id = contract_ref(contract)
    config = settings()

    async def go() -> None:
        client = await temporal(config)
        _print_status(await _status(client, crm, contract_id))
        out.print(f"Web UI: {workflow_url(config, contract_workflow_id(crm, contract_id))}", soft_wrap=True,
                  highlight=False)  # fmt: skip

    asyncio.run(go())


@app.command("list")
@friendly
def list_contracts(
    state: Annotated[str | None, typer.Option(help="up_to_date, applying, waiting, failed or exception.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many contracts, newest first.")] = 50,
) -> None:
    """List contracts with amendments, by their ContractId and AmendmentVersion search attributes."""
    config = settings()
    filters = ["WorkflowType = 'Contract'", "ExecutionStatus = 'Running'"]
    if state:
        filters.append(f"PsflowState = '{state.replace(chr(39), '')}'")

    async def go() -> None:
        client = await temporal(config)
        rows = table("contract", "latest version", "state", "PSA project", "ERP job", "since")
        count = 0
        try:
            async for run in client.list_workflows(" AND ".join(filters), limit=limit):
                values = {pair.key.name: pair.value for pair in run.typed_search_attributes}
                rows.add_row(
                    run.id.removeprefix("contract:"),
                    f"v{values['AmendmentVersion']}" if "AmendmentVersion" in values else "",
                    str(values.get("PsflowState", "")),
                    str(values.get("PsaProjectId", "")),
                    str(values.get("ErpJobId", "")),
                    f"{run.start_time:%Y-%m-%d %H:%M:%S}",
                )
                count += 1
        except RPCError as exc:
            raise UserError(f"Temporal refused the listing: {exc.message}") from None
        out.print(rows if count else "no contracts with amendments match")

    asyncio.run(go())


@app.command("retry")
@friendly
def retry(
    contract: Annotated[str, typer.Argument(help=REF_HELP)],
    target: Annotated[TargetOption, typer.Option("--target", "-t", help="psa (Kantata), erp (NetSuite) or events.")],
) -> None:
    """Apply a target's failed version again, once its cause is fixed; later versions follow it there."""
    crm, contract_id = contract_ref(contract)
    config = settings()

    async def go() -> None:
        client = await temporal(config)
        handle = client.get_workflow_handle(contract_workflow_id(crm, contract_id))
        try:
            out.print(await handle.execute_update(ContractWorkflow.retry, RetryTarget(target=target)))
        except WorkflowUpdateFailedError as exc:
            raise UserError(_refusal(exc)) from None
        except RPCError as exc:
            raise UserError(f"cannot retry {handle.id}: {exc.message}") from None

    asyncio.run(go())
