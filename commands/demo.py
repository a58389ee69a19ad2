"""``psflow demo``: the local stack, then the firm's flows on the sandbox, with links to every run."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from temporalio.client import Client, WorkflowFailureError
from temporalio.service import RPCError

from canonical import OpportunityStage
from commands._common import UserError, err, friendly, out, settings, table, temporal, workflow_url
from commands._demo_resources import sync_resources
from stack.connectors import Connectors
from stack.settings import Settings
from workflows.amend_contract import ContractStatus, ContractWorkflow, contract_workflow_id
from workflows.provision_engagement import workflow_id

DEALS = (("salesforce", 2), ("hubspot", 1))


def search_url(config: Settings, query: str) -> str:
    """The Web UI's workflow list filtered by a visibility query."""
    base = f"{config.temporal.ui_url}/namespaces/{config.temporal.namespace}/workflows"
    return f"{base}?query={quote(query)}"


async def open_deals(connectors: Connectors, crm: str, count: int) -> list[str]:
    """The first open deals of a CRM, to win for the demo."""
    if crm == "salesforce":
        new_deals = "IsClosed = false AND SBQQ__AmendedContract__c = null"  # not amendment opportunities
        soql = f"SELECT Id FROM Opportunity WHERE {new_deals} ORDER BY Id LIMIT {count}"
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


AMENDER = "SBQQ.ContractManipulationAPI.ContractAmender"
"""CPQ's ServiceRouter loader that amends a contract (docs/amendment-sources.md)."""
EXTRA_HOURS = 80
"""v1's delta: hours of the first sold role added at its current rate (more budget)."""


class SalesRep:
    """What a sales rep does in Salesforce to amend a contract: Amend, edit the quote lines, win.

    Salesforce calls go through the connector's authenticated client; editing the amendment's lines
    (the CPQ quote line editor) is the sandbox's admin route.
    """

    def __init__(self, config: Settings, connectors: Connectors) -> None:
        self.config = config
        self.salesforce = connectors.salesforce

    async def _call(self, method: str, path: str, **options: Any) -> Any:
        url = f"{await self.salesforce.auth.instance_url()}{path}"
        response = await self.salesforce.client.request(method, url, **options)
        return response.json() if response.content else None

    def _sobject(self, path: str) -> str:
        return f"/services/data/v{self.salesforce.settings.api_version}/sobjects/{path}"

    async def contract_of(self, deal: str) -> dict[str, Any]:
        """The deal's Contract (``Opportunity.ContractId``); made and activated as the firm does when it has none.

        Seeded won deals have one; a deal the demo just won gets one here, as CPQ's "Contracted" checkbox would.
        """
        soql = (
            "SELECT Id, Name, AccountId, CurrencyIsoCode, Start_Date__c, ContractId FROM Opportunity "
            f"WHERE Id = '{deal}'"
        )
        (row,) = [row async for row in self.salesforce.query(soql)]
        contract_id = row["ContractId"]
        if contract_id is None:
            created = await self._call(
                "POST",
                self._sobject("Contract"),
                json={
                    "AccountId": row["AccountId"],
                    "Name": row["Name"],
                    "StartDate": row["Start_Date__c"],
                    "ContractTerm": 12,
                    "CurrencyIsoCode": row["CurrencyIsoCode"],
                    "SBQQ__Opportunity__c": deal,
                },
                idempotent=False,
            )
            contract_id = created["id"]
            await self._call("PATCH", self._sobject(f"Contract/{contract_id}"), json={"Status": "Activated"})
            await self._call("PATCH", self._sobject(f"Opportunity/{deal}"), json={"ContractId": contract_id})
        (contract,) = [
            c
            async for c in self.salesforce.query(
                f"SELECT Id, ContractNumber, Status, EndDate FROM Contract WHERE Id = '{contract_id}'"
            )
        ]
        return contract

    async def amend(self, contract_id: str) -> str:
        """Click Amend (the ContractAmender): CPQ creates an amendment opportunity and its quote; its id."""
        model = await self._call(
            "PATCH",
            "/services/apexrest/SBQQ/ServiceRouter",
            params={"loader": AMENDER, "uid": contract_id},
            json={},
            idempotent=False,
        )
        # CPQ's ServiceRouter answers the QuoteModel as a JSON-encoded string (docs/connectors/salesforce.md).
        answer = json.loads(model) if isinstance(model, str) else model
        return str(answer["record"]["SBQQ__Opportunity2__c"])

    async def edit(self, opportunity: str, close_date: date, lines: list[dict[str, Any]], end: date | None) -> None:
        """Type the amendment's delta lines and dates into its quote (sandbox admin route)."""
        import httpx

        body = {"close_date": close_date.isoformat(), "end_date": end and end.isoformat(), "lines": lines}
        async with httpx.AsyncClient(timeout=30) as http:
            response = await http.put(
                f"{self.config.sandbox_url}/_admin/salesforce/amendments/{opportunity}", json=body
            )
        if response.status_code != 200:
            raise UserError(f"the sandbox refused amendment {opportunity}'s lines: {response.text}")

    async def win(self, opportunity: str) -> None:
        """Sign the amendment: its opportunity goes Closed Won, and the change event goes to the gateway."""
        await self.salesforce.set_opportunity_stage(opportunity, OpportunityStage.CLOSED_WON)


async def contract_status(
    client: Client, contract_id: str, done: Callable[[ContractStatus], bool], what: str, timeout_s: float
) -> ContractStatus:
    """The contract run's status once ``done`` holds; a UserError naming ``what`` past the timeout."""
    handle = client.get_workflow_handle(contract_workflow_id("salesforce", contract_id))
    status: ContractStatus | None = None
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        try:
            status = await handle.query(ContractWorkflow.status)
        except RPCError:
            status = None  # no run yet: the change event has not reached the gateway
        if status is not None and done(status):
            return status
        failed = [line for line in (status.lines if status else []) if "failed in" in line]
        if failed or asyncio.get_running_loop().time() > deadline:
            seen = "; ".join(status.lines) if status and status.lines else "the contract's run has no version yet"
            raise UserError(
                f"{what} did not happen within {timeout_s:.0f} s ({seen}). Is the gateway up and subscribed to "
                f"the sandbox (`psflow dev status`)? `psflow amendment status salesforce:{contract_id}` shows more."
            )
        await asyncio.sleep(0.25)


def applied_everywhere(versions: int) -> Callable[[ContractStatus], bool]:
    return lambda status: (
        len(status.versions) == versions
        and all(t.state == "applied" for v in status.versions for t in v.targets.values())
    )


async def amend_contract(
    client: Client, config: Settings, connectors: Connectors, deal: str, *, timeout_s: float = 120.0
) -> str:
    """Amend a provisioned Salesforce deal's Contract twice in Salesforce CPQ; the webhook delivers both.

    v1 adds hours of the first sold role (more budget) and ends the contract a month later; v2 raises
    that role's rate from a date. v2 is signed first: its contract run waits for v1, then applies both in
    order in Kantata, NetSuite and events. Returns the contract id.
    """
    from commands.amendment import status_table

    engagement = f"salesforce:{deal}"
    workspace = await connectors.kantata.find_project_by_external_id(engagement)
    if workspace is None:
        raise UserError(f"{engagement} has no PSA project: nothing to amend")
    project = await connectors.kantata.get_project(workspace)
    rep = SalesRep(config, connectors)
    contract = await rep.contract_of(deal)
    contract_id = str(contract["Id"])
    lines = [
        row
        async for row in connectors.salesforce.query(
            "SELECT Product2.Name, Role__c, UnitPrice FROM OpportunityLineItem "
            f"WHERE OpportunityId = '{deal}' AND Role__c != null ORDER BY CreatedDate, Id"
        )
    ]
    line = lines[0]
    role, price = str(line["Role__c"]), Decimal(str(line["UnitPrice"])).quantize(Decimal("0.01"))
    new_price = (price * Decimal("1.1")).quantize(Decimal("0.01"))
    signed = max(project.start_date, (await sandbox_anchor(config)).replace(day=1))
    rate_from = signed + timedelta(days=14)
    new_end = date.fromisoformat(contract["EndDate"]) + timedelta(days=30)
    out.print(
        f"Salesforce contract {contract_id} (#{contract['ContractNumber']}, {contract['Status']}) of deal {deal}",
        highlight=False,
    )
    sold = {"product": line["Product2"]["Name"], "role": role}
    v1 = await rep.amend(contract_id)
    await rep.edit(v1, signed, [{**sold, "quantity": EXTRA_HOURS, "unit_price": str(price)}], new_end)
    v2 = await rep.amend(contract_id)  # after v1's edit: its quote is co-termed with v1's new end
    await rep.edit(
        v2,
        rate_from,
        [
            {**sold, "quantity": -EXTRA_HOURS, "unit_price": str(price)},
            {**sold, "quantity": EXTRA_HOURS, "unit_price": str(new_price)},
        ],
        None,
    )
    out.print(f"  v1 {v1}: +{EXTRA_HOURS} h of {role}, ends {new_end}; from {signed}", highlight=False)
    out.print(f"  v2 {v2}: {role} {price} -> {new_price}/h from {rate_from}", highlight=False)
    out.print(f"Won v2 first ({v2}): its change event reaches the gateway, and the contract's run waits for v1")
    await rep.win(v2)
    status = await contract_status(
        client, contract_id, lambda s: s.waiting is not None, "v2's delivery through the gateway", timeout_s
    )
    out.print(status_table(status))
    out.print(f"[yellow]{status.waiting}[/yellow]", highlight=False)
    out.print(f"Won v1 ({v1}): both versions apply in order")
    await rep.win(v1)
    status = await contract_status(
        client, contract_id, applied_everywhere(2), "v1 and v2 applied in Kantata, NetSuite and events", timeout_s
    )
    out.print(status_table(status))
    for text in status.lines:
        out.print(text, highlight=False)
    out.print(f"  psflow amendment status salesforce:{contract_id}", highlight=False)
    out.print(f"  {search_url(config, f'ContractId={contract_id!r}')}", soft_wrap=True, highlight=False)
    return contract_id


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
    out.rule(
        "Schedules: daily posting, polling fallback, monthly invoicing, exception sweep, reconciliation, resources"
    )
    for schedule_id, what in await schedules.apply(client, config):
        out.print(f"  {schedule_id}: {what}")
    out.print(
        f"  see them in the Web UI: {config.temporal.ui_url}/namespaces/{config.temporal.namespace}/schedules",
        soft_wrap=True,
        highlight=False,
    )


async def reconcile_month(client: Client, config: Settings, connectors: Connectors) -> None:
    """Reconcile the demo month (clean), then edit a posted time bill's hours in NetSuite and find the difference.

    The edit is made the way a person's script would make it, through NetSuite's REST API with the
    connector's credentials (``connectors.netsuite.drift``): psflow learns of it only by reconciling.
    """
    from canonical import DateRange
    from commands.reconcile import print_result
    from connectors.netsuite.drift import set_time_bill_hours
    from stack.flows import start_reconcile
    from store import Store
    from store import exceptions as exc

    anchor = await sandbox_anchor(config)
    day = await latest_approved_day(connectors, before=anchor.replace(day=1))
    period = f"{day:%Y-%m}"
    out.rule(f"Reconciliation: {period} in the PSA, the ERP and the posting ledger")
    handle = await start_reconcile(client, config, period)
    result = await handle.result()
    print_result(result)
    if result.fixed:
        out.print(
            f"  (the demo posted {day} only: the month's other approved work had never been posted, so this first "
            "reconciliation posted it before comparing again)",
            highlight=False,
        )
    out.print(f"  {workflow_url(config, handle.id)}", soft_wrap=True, highlight=False)
    bills = await connectors.netsuite.time_bills_page(period=DateRange(start=day, end=day), page_size=20)
    bill = next((row for row in bills.items if row.external_id), None)
    if bill is None:
        raise UserError(f"no time bill psflow posted on {day} in NetSuite: reset the sandbox (`psflow sandbox reset`)")
    await set_time_bill_hours(connectors.netsuite, bill.internal_id, bill.minutes + 60)
    out.print(
        f"Someone edits time bill {bill.internal_id} (PSA entry {bill.external_id}, {day}) in NetSuite: "
        f"{bill.minutes / 60:.2f} h -> {(bill.minutes + 60) / 60:.2f} h. Reconciling {period} again",
        highlight=False,
    )
    handle = await start_reconcile(client, config, period)
    print_result(await handle.result())
    store = Store(config.store_url)
    try:
        found = [
            row
            for row in exc.find(store, flow="reconciliation", kind="hours_mismatch")
            if row.business_key.endswith(f":{bill.external_id}")
        ]
    finally:
        store.engine.dispose()
    shown = table("exception", "record", "PSA", "ERP", "ledger", title="the difference, with every side's values")
    for row in found:
        sides = [row.values.get(side) or {} for side in ("psa", "erp", "ledger")]
        shown.add_row(str(row.id), bill.external_id, *(f"{side.get('hours', '-')} h" for side in sides))
    out.print(shown)
    for row in found:
        out.print(f"  psflow exceptions show {row.id}", highlight=False)
    out.print(f"  psflow reconcile status --period {period}", highlight=False)


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
    """Bring the stack up, provision won deals through their webhooks, amend one, post a day, invoice, reconcile,
    then sync a hire, a leaver and a leave request from HR to the PSA."""
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
            await reconcile_month(client, config, connectors)
            await sync_resources(client, config, connectors, await sandbox_anchor(config))
        finally:
            await connectors.aclose()
        out.print(f"Web UI: {config.temporal.ui_url}/namespaces/{config.temporal.namespace}/workflows", soft_wrap=True)
        out.print(
            f"Demo finished {datetime.now(UTC):%H:%M:%S} UTC. The stack keeps running; `psflow dev down` stops it."
        )

    asyncio.run(go())
