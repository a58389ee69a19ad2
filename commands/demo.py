"""``psflow demo``: the local stack, then the firm's flows on the sandbox, with links to every run."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from temporalio.client import Client, WorkflowFailureError
from temporalio.service import RPCError

from canonical import ContractAmendment, Money, OpportunityStage, RoleRate
from commands._common import UserError, err, friendly, out, settings, table, temporal, workflow_url
from stack.connectors import Connectors
from stack.settings import Settings
from workflows.amend_contract import AmendmentSubmission, ContractWorkflow, contract_workflow_id
from workflows.provision_engagement import workflow_id

DEALS = (("salesforce", 2), ("hubspot", 1))


def search_url(config: Settings, query: str) -> str:
    """The Web UI's workflow list filtered by a visibility query."""
    base = f"{config.temporal.ui_url}/namespaces/{config.temporal.namespace}/workflows"
    return f"{base}?query={quote(query)}"


async def open_deals(connectors: Connectors, crm: str, count: int) -> list[str]:
    """The first open deals of a CRM, to win for the demo."""
    if crm == "salesforce":
        soql = f"SELECT Id FROM Opportunity WHERE IsClosed = false ORDER BY Id LIMIT {count}"
        return [row["Id"] async for row in connectors.salesforce.query(soql)]
    still_open = {"propertyName": "dealstage", "operator": "NOT_IN", "values": ["closedwon", "closedlost"]}
    page = await connectors.hubspot.api.search_page(
        "deals", {"filterGroups": [{"filters": [still_open]}], "properties": ["dealstage"], "limit": count}
    )
    return [record.id for record in page.results]


async def arrival(client: Client, run_id: str, timeout_s: float = 10.0) -> bool:
    """Whether the deal's run appeared (its webhook reached the gateway) within the timeout."""
    handle = client.get_workflow_handle(run_id)
    for _ in range(int(timeout_s / 0.2)):
        try:
            await handle.describe()
            return True
        except RPCError:
            await asyncio.sleep(0.2)
    return False


async def win_and_provision(client: Client, config: Settings, connectors: Connectors) -> list[tuple[str, str]]:
    """Win a few open deals in the sandbox CRMs; their webhooks reach the gateway, which starts each run.

    Returns:
        The (crm, deal) of every deal that was provisioned.
    """
    from stack.flows import trigger_provisioning

    runs = []
    for crm, count in DEALS:
        for deal in await open_deals(connectors, crm, count):
            if crm == "salesforce":
                await connectors.salesforce.set_opportunity_stage(deal, OpportunityStage.CLOSED_WON)
            else:
                await connectors.hubspot.set_deal_stage(deal, OpportunityStage.CLOSED_WON)
            runs.append((crm, deal))
    rows = table("CRM", "opportunity", "client", "trigger", "state", "PSA project", "ERP job")
    links: list[str] = []
    provisioned = []
    for crm, deal in runs:
        run_id = workflow_id(crm, deal)
        trigger = "webhook"
        if not await arrival(client, run_id):
            trigger = "cli (no webhook arrived: is the gateway up?)"
            await trigger_provisioning(client, config, crm=crm, opportunity_id=deal, source="cli")  # type: ignore[arg-type]
        try:
            result: Any = await client.get_workflow_handle(run_id).result()
            state, client_name, psa, erp = (
                result["state"],
                result["client"],
                result["psa_project_id"],
                result["erp_job_id"],
            )
        except WorkflowFailureError as failure:
            state, client_name, psa, erp = f"failed: {failure.cause}", "", "", ""
        rows.add_row(crm, deal, client_name or "", trigger, state, psa or "", erp or "")
        if state == "provisioned":
            provisioned.append((crm, deal))
        links.append(f"  {deal}: {search_url(config, f'CrmOpportunityId={deal!r}')}")
    out.print(rows)
    out.print("Find each run in the Web UI by its opportunity id:", *links, sep="\n", soft_wrap=True, highlight=False)
    return provisioned


async def amend_contract(client: Client, config: Settings, connectors: Connectors, deal: str) -> None:
    """Two amendments of a provisioned Salesforce deal's contract, submitted as `psflow amendment submit` does.

    v1 raises the budget and moves the end date; v2 raises the first sold role's rate from a date.
    The demo names the contract by its deal (as a firm without CRM contracts would).
    """
    from commands.amendment import status_table
    from stack.flows import submit_amendment

    engagement = f"salesforce:{deal}"
    workspace = await connectors.kantata.find_project_by_external_id(engagement)
    if workspace is None:
        raise UserError(f"{engagement} has no PSA project: nothing to amend")
    project = await connectors.kantata.get_project(workspace)
    sold = await connectors.salesforce.get_opportunity(deal)
    item = next(line for line in sold.line_items if line.role)
    currency = project.budget.currency
    rate_from = max(project.start_date, (await sandbox_anchor(config)).replace(day=1)) + timedelta(days=14)
    versions = [
        {
            "effective_date": project.start_date,
            "budget": Money.of((project.budget.amount * Decimal("1.2")).quantize(Decimal(1)), currency).rounded(),
            "end_date": project.end_date + timedelta(days=30),
            "reason": "Phase 2: more budget, a month longer",
        },
        {
            "effective_date": rate_from,
            "rate_changes": (
                RoleRate(role=str(item.role), hourly_rate=item.unit_price.times(Decimal("1.1")).rounded()),
            ),
            "reason": f"{item.role} rate +10% from {rate_from}",
        },
    ]
    for version, terms in enumerate(versions, start=1):
        amendment = ContractAmendment(
            id=f"cli:{deal}:v{version}",
            contract_id=deal,
            engagement_id=engagement,
            version=version,
            signed_at=datetime.now(UTC),
            **terms,
        )
        submission = AmendmentSubmission(crm="salesforce", contract_id=deal, amendment=amendment, source="cli")
        receipt = await submit_amendment(client, config, submission, wait=True)
        if receipt.outcome is not None:
            out.print(f"{receipt.outcome.message} — {receipt.outcome.state}", highlight=False)
    status = await client.get_workflow_handle(contract_workflow_id("salesforce", deal)).query(ContractWorkflow.status)
    out.print(status_table(status))
    out.print(f"  psflow amendment status salesforce:{deal}", highlight=False)
    out.print(f"  {workflow_url(config, contract_workflow_id('salesforce', deal))}", soft_wrap=True, highlight=False)


async def sandbox_anchor(config: Settings) -> date:
    """The day the sandbox's demo firm is drawn around (``--today``, ``PSFLOW_SANDBOX_TODAY``), else today."""
    import httpx

    try:
        async with httpx.AsyncClient(timeout=10) as http:
            seeded = (await http.get(f"{config.sandbox_url}/_admin/status")).json().get("seed") or {}
    except (httpx.HTTPError, ValueError):
        seeded = {}
    return date.fromisoformat(seeded["today"]) if seeded.get("today") else datetime.now(UTC).date()


async def latest_approved_day(connectors: Connectors, before: date) -> date:
    """The latest business day before ``before`` with approved time in the PSA (the demo firm has ~25)."""
    day = before - timedelta(days=1)
    for _ in range(40):
        page = await connectors.kantata.time_entries_page(approved=True, performed_on=day, per_page=1)
        if page.items:
            return day
        day -= timedelta(days=1)
    raise UserError(
        f"no approved time in the PSA in the 40 days before {before}: reset the sandbox (`psflow sandbox reset`)"
    )


async def post_and_invoice(client: Client, config: Settings, connectors: Connectors) -> None:
    """Post a day of approved time and expenses to the ERP, invoice its month, and apply the schedules."""
    from commands import invoice, posting
    from stack import schedules
    from stack.flows import start_monthly_invoicing

    # The last month with demo work that has ended: the firm's 25 business days always reach into the
    # month before its anchor, whatever day of the month that is.
    anchor = await sandbox_anchor(config)
    day = await latest_approved_day(connectors, before=anchor.replace(day=1))
    issue_date = anchor if anchor > datetime.now(UTC).date() else None
    out.rule(f"Daily posting: approved time and expenses of {day} reach the ERP, exactly once")
    result = await posting._run(config, day, True, 100)
    if result is not None:
        counts = table("posted", "already posted", "rejected", "failed", title=f"posting of {day}")
        counts.add_row(str(result.posted), str(result.already_posted), str(result.rejected), str(result.failed))
        out.print(counts)
        out.print(result.summary, highlight=False)
    out.rule(f"Invoicing: {day:%Y-%m} billed from posted, billable time and expenses")
    month = await start_monthly_invoicing(client, config, f"{day:%Y-%m}", issue_date=issue_date)
    invoice._print_month(await month.result())
    out.rule("Schedules: daily posting, polling fallback, monthly invoicing")
    for schedule_id, what in await schedules.apply(client, config):
        out.print(f"  {schedule_id}: {what}")
    out.print(
        f"  see them in the Web UI: {config.temporal.ui_url}/namespaces/{config.temporal.namespace}/schedules",
        soft_wrap=True,
        highlight=False,
    )


async def stack_check(client: Client, config: Settings) -> None:
    """Prove the worker answers on every domain task queue."""
    from stack.flows import check_stack

    workflow_id = f"psflow-demo-stack-check-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    result = await check_stack(client, config, workflow_id)
    answered = ", ".join(f"{a.domain} ({a.task_queue})" for a in result.answers)
    out.print(f"worker {result.answers[0].worker} answers on {answered}", highlight=False)
    out.print(f"  {workflow_url(config, workflow_id)}", soft_wrap=True, highlight=False)


@friendly
def demo() -> None:
    """Bring the stack up, provision won deals through their webhooks, amend one, post a day to the ERP, invoice it."""
    from stack.local import devstack

    config = settings()
    devstack.up(config, progress=lambda msg: err.print(f"[dim]{msg}[/dim]", highlight=False))

    async def go() -> None:
        client = await temporal(config)
        connectors = Connectors.build(config)
        try:
            await stack_check(client, config)
            out.rule("Engagement provisioning: won deals become PSA projects and ERP jobs")
            provisioned = await win_and_provision(client, config, connectors)
            deals = [deal for crm, deal in provisioned if crm == "salesforce"]
            if deals:
                out.rule("Contract amendments: two versions applied in order, in the PSA and the ERP")
                await amend_contract(client, config, connectors, deals[0])
            await post_and_invoice(client, config, connectors)
        finally:
            await connectors.aclose()
        out.print(f"Web UI: {config.temporal.ui_url}/namespaces/{config.temporal.namespace}/workflows", soft_wrap=True)
        out.print(
            f"Demo finished {datetime.now(UTC):%H:%M:%S} UTC. The stack keeps running; `psflow dev down` stops it."
        )

    asyncio.run(go())
