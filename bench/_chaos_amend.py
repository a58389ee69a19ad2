"""Contract amendments in a chaos run: Salesforce CPQ amendments won under faults, then counted.

Before the faults, for a few of the run's Salesforce deals the run does what a sales rep does
(`commands.demo.SalesRep`): the deal's Contract is made and activated, the ContractAmender is called
twice and each amendment's delta lines are typed in — v1 adds `EXTRA_HOURS` of the first sold role at
its rate and ends the contract 30 days later, v2 moves those hours to a 10 % higher rate from two
weeks after v1. The first amended contract also gets a v3 whose delta changes nothing. During the
faults, once a deal's provisioning run has completed, its amendments are won in a seeded random
order (v3 last), and malformed amendment deliveries go to the gateway (a change event whose
contract is no Contract id; a HubSpot change-order webhook for a deal HubSpot does not have).

Counted once faults are off, from Kantata, NetSuite and the event sink, per contract: the workspace's
budget and end date and its rate card version on v2's date; the job's ``jobPrice``, ``endDate`` and
``custentity_psflow_rates``; one ``com.psflow.project.amended`` event per version, in version order.
A version whose values or event are missing is *lost*; an event more than once, or a rate version
twice, is *duplicated*; events out of version order are *out of order*. The no-op v3 and the
malformed deliveries must leave no trace: no v3 event and nothing for the unknown ids.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.service import RPCError

from bench._chaos_flows import Deadline, status_of
from bench._chaos_webhooks import (
    HUBSPOT,
    SALESFORCE,
    Signer,
    WebhookCase,
    WebhookOutcome,
    _json,
    change_event,
    hubspot_event,
    send,
)
from bench._chaos_world import Deal, with_retries
from commands.demo import SalesRep
from stack.connectors import Connectors
from stack.settings import Settings
from workflows.amend_contract import ContractStatus, ContractWorkflow, contract_workflow_id

EXTRA_HOURS = 80
AMENDED = "com.psflow.project.amended"
UNKNOWN_HUBSPOT_DEAL = 987654321987
RATES_FIELD = "custentity_psflow_rates"
REDELIVERIES = 5
"""A malformed delivery answered 503 is delivered again this many times at most, 2 s apart, as a CRM would."""


@dataclass
class AmendedContract:
    """One contract the run amends, and what its versions should leave in the targets."""

    deal: Deal
    contract_id: str
    versions: list[str]
    """Amendment opportunity ids, v1 first."""
    role: str | None
    """The role whose rate v2 raises (None: no rate change, HubSpot's change orders here)."""
    new_price: Decimal
    rate_from: date
    expected_budget: Decimal
    expected_end: date | None
    noop: str | None = None
    """A further amendment opportunity whose delta changes nothing (must be refused)."""
    won_stage: str = ""
    """A HubSpot change order's won stage, looked up before the faults."""
    won_order: list[int] = field(default_factory=list)


@dataclass
class AmendmentCounts:
    """The amended contracts as the targets hold them."""

    contracts: int = 0
    expected: int = 0
    applied: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    out_of_order: list[str] = field(default_factory=list)
    malformed_left_a_trace: list[str] = field(default_factory=list)
    malformed_runs: dict[str, str] = field(default_factory=dict)
    """Runs that accepted malformed deliveries started: workflow id → status (and versions for a contract run)."""
    noop_refused: list[str] = field(default_factory=list)
    """The contracts' runs' refusals of the amendment that changes nothing."""
    wrong_values: dict[str, list[str]] = field(default_factory=dict)
    won_order: dict[str, list[int]] = field(default_factory=dict)
    status: dict[str, list[str]] = field(default_factory=dict)


async def arrange_amendments(
    settings: Settings, connectors: Connectors, deals: Sequence[Deal], count: int, anchor: date, hubspot: int = 0
) -> list[AmendedContract]:
    """Contracts and amendment opportunities (not won) for the first ``count`` Salesforce deals, and drafted
    change orders for the first ``hubspot`` HubSpot deals; before faults."""
    rep = SalesRep(settings, connectors)
    amended: list[AmendedContract] = []
    for deal in [d for d in deals if d.crm == "salesforce"][:count]:
        contract = await rep.contract_of(deal.id)
        (opportunity,) = [
            row
            async for row in connectors.salesforce.query(
                f"SELECT Amount, Start_Date__c FROM Opportunity WHERE Id = '{deal.id}'"
            )
        ]
        (line, *_) = [
            row
            async for row in connectors.salesforce.query(
                "SELECT Product2.Name, Role__c, UnitPrice FROM OpportunityLineItem "
                f"WHERE OpportunityId = '{deal.id}' AND Role__c != null ORDER BY CreatedDate, Id"
            )
        ]
        price = Decimal(str(line["UnitPrice"])).quantize(Decimal("0.01"))
        new_price = (price * Decimal("1.1")).quantize(Decimal("0.01"))
        signed = max(date.fromisoformat(opportunity["Start_Date__c"]), anchor.replace(day=1))
        rate_from = signed + timedelta(days=14)
        new_end = date.fromisoformat(contract["EndDate"]) + timedelta(days=30)
        sold = {"product": line["Product2"]["Name"], "role": str(line["Role__c"])}
        v1 = await rep.amend(str(contract["Id"]))
        await rep.edit(v1, signed, [{**sold, "quantity": EXTRA_HOURS, "unit_price": str(price)}], new_end)
        v2 = await rep.amend(str(contract["Id"]))
        moved = [
            {**sold, "quantity": -EXTRA_HOURS, "unit_price": str(price)},
            {**sold, "quantity": EXTRA_HOURS, "unit_price": str(new_price)},
        ]
        await rep.edit(v2, rate_from, moved, None)
        noop = None
        if not amended:
            noop = await rep.amend(str(contract["Id"]))
            await rep.edit(noop, rate_from + timedelta(days=1), [], None)
        amended.append(
            AmendedContract(
                deal=deal, contract_id=str(contract["Id"]), versions=[v1, v2], role=sold["role"],
                new_price=new_price, rate_from=rate_from,
                expected_budget=Decimal(str(opportunity["Amount"])) + EXTRA_HOURS * new_price,
                expected_end=new_end, noop=noop,
            )
        )  # fmt: skip
    for deal in [d for d in deals if d.crm == "hubspot"][:hubspot]:
        amended.append(await _change_orders(settings, connectors, deal, anchor))
    return amended


HUBSPOT_TOKEN = {"Authorization": "Bearer pat-na1-psflow-demo-0000-private-app"}
CHANGE_ORDERS = "Change orders"
CHANGE_ORDER_OF = "Change order of"
CHANGE_ORDER_AMOUNTS = (Decimal("1200"), Decimal("800"))
"""v1 and v2 of a HubSpot contract: this much more budget each; v1 also ends it 30 days later."""


async def _hubspot(settings: Settings, method: str, path: str, **options: Any) -> Any:
    async with httpx.AsyncClient(base_url=f"{settings.sandbox_url}/hubspot", headers=HUBSPOT_TOKEN, timeout=30) as h:
        response = await h.request(method, path, **options)
        response.raise_for_status()
        return response.json() if response.content else None


async def _change_order_stages(settings: Settings) -> tuple[str, str, str]:
    """The change-order pipeline's id, its first open stage and its won stage, found by label."""
    pipelines = await _hubspot(settings, "GET", "/crm/v3/pipelines/deals")
    pipeline = next(p for p in pipelines["results"] if p["label"] == CHANGE_ORDERS)
    stages = sorted(pipeline["stages"], key=lambda stage: stage["displayOrder"])
    drafted = next(stage["id"] for stage in stages if stage["metadata"].get("isClosed") in ("false", False))
    won = next(stage["id"] for stage in stages if float(stage["metadata"].get("probability", 0)) == 1.0)
    return pipeline["id"], drafted, won


async def _change_orders(settings: Settings, connectors: Connectors, deal: Deal, anchor: date) -> AmendedContract:
    """Two drafted change orders of a HubSpot deal (v1: more budget and a later end; v2: more budget)."""
    original = await connectors.hubspot.get_deal(deal.id)
    pipeline, drafted, won = await _change_order_stages(settings)
    labels = await _hubspot(settings, "GET", "/crm/v4/associations/deals/deals/labels")
    label = next(t["typeId"] for t in labels["results"] if t["label"] == CHANGE_ORDER_OF)
    kind = {"associationCategory": "USER_DEFINED", "associationTypeId": label}
    effective = max(original.start_date or anchor, anchor.replace(day=1))
    new_end = original.end_date + timedelta(days=30) if original.end_date else None
    ids = []
    for number, amount in enumerate(CHANGE_ORDER_AMOUNTS, start=1):
        properties = {
            "dealname": f"Chaos change order v{number} of {deal.id}", "pipeline": pipeline, "dealstage": drafted,
            "amount": str(amount), "deal_currency_code": original.amount.currency, "psflow_parent_deal_id": deal.id,
            "psflow_effective_date": effective.isoformat(),
        }  # fmt: skip
        if number == 1 and new_end is not None:
            properties["psflow_new_end_date"] = new_end.isoformat()
        body = {"properties": properties, "associations": [{"to": {"id": deal.id}, "types": [kind]}]}
        ids.append(str((await _hubspot(settings, "POST", "/crm/v3/objects/deals", json=body))["id"]))
    return AmendedContract(
        deal=deal, contract_id=deal.id, versions=ids, role=None, new_price=Decimal(0), rate_from=effective,
        expected_budget=original.amount.amount + sum(CHANGE_ORDER_AMOUNTS), expected_end=new_end, won_stage=won,
    )  # fmt: skip


async def win_amendments(
    client: Client,
    settings: Settings,
    connectors: Connectors,
    contracts: Sequence[AmendedContract],
    rng: random.Random,
    until: Deadline,
) -> list[str]:
    """Win each contract's amendments in a seeded random order once its deal is provisioned; problems seen."""
    orders = {c.contract_id: rng.sample(range(len(c.versions)), len(c.versions)) for c in contracts}
    pauses = {c.contract_id: [rng.uniform(0.0, 3.0) for _ in c.versions] for c in contracts}
    problems: list[str] = []

    async def one(contract: AmendedContract) -> None:
        while await status_of(client, contract.deal.workflow_id) != "COMPLETED":
            if until.passed():
                problems.append(f"{contract.deal.key} was not provisioned in time: its amendments were not won")
                return
            await asyncio.sleep(2)
        for index, pause in zip(orders[contract.contract_id], pauses[contract.contract_id], strict=True):
            await asyncio.sleep(pause)
            if contract.deal.crm == "hubspot":
                await _sign(settings, contract.versions[index], contract.won_stage, contract.rate_from)
            else:
                await _win(connectors, contract.versions[index])
            contract.won_order.append(index + 1)
        if contract.noop is not None:
            await _win(connectors, contract.noop)

    await asyncio.gather(*(one(contract) for contract in contracts))
    return problems


async def _win(connectors: Connectors, opportunity: str) -> None:
    from canonical import OpportunityStage

    await with_retries(
        f"winning amendment {opportunity}",
        lambda: connectors.salesforce.set_opportunity_stage(opportunity, OpportunityStage.CLOSED_WON),
    )


async def _sign(settings: Settings, change_order: str, won_stage: str, day: date) -> None:
    properties = {"dealstage": won_stage, "closedate": f"{day.isoformat()}T00:00:00Z"}
    await with_retries(
        f"signing change order {change_order}",
        lambda: _hubspot(settings, "PATCH", f"/crm/v3/objects/deals/{change_order}", json={"properties": properties}),
    )


async def send_malformed_amendments(
    settings: Settings, connectors: Connectors, contracts: Sequence[AmendedContract]
) -> list[WebhookOutcome]:
    """Amendment deliveries that must change nothing: refused (4xx) or accepted and then refused by psflow."""
    signer = Signer(settings)
    cases: list[WebhookCase] = []

    def relay(name: str, contract: Any, refuse: bool | None) -> None:
        opportunity = contracts[0].versions[0] if contracts else "0068d0000CHAOS1AAA"
        event = change_event([opportunity])
        event["payload"]["SBQQ__AmendedContract__c"] = contract
        body = _json(event)
        cases.append(WebhookCase(f"amendment: {name}", SALESFORCE, body, signer.relay(body), refuse))

    relay("contract id that is no id", "not-a-contract", True)
    relay("contract id with a slash", "800/../x", True)
    relay("contract id 300 characters", "8" * 300, True)
    relay("numeric contract id", 800, True)
    relay("contract id 19 characters", "8008d00000CHAOS9AAA", True)
    other = contracts[0].deal.id if contracts else "0068d0000CHAOS1AAA"
    relay("contract id of another object (an opportunity)", other, None)
    relay("well-formed contract id Salesforce does not have", "8008d0000CHAOS9AAA", None)
    stages = sorted({c.won_stage for c in contracts if c.won_stage})
    if not stages:
        try:
            stages = sorted(await connectors.hubspot.change_order_won_stages())
        except Exception:
            stages = []  # faulted: the case is left out
    for stage in stages[:1]:
        body = _json([hubspot_event(UNKNOWN_HUBSPOT_DEAL, propertyValue=stage)])
        cases.append(
            WebhookCase("amendment: HubSpot change order won for an unknown deal", HUBSPOT, body,
                        signer.hubspot(body), None)
        )  # fmt: skip
    outcomes: list[WebhookOutcome] = []
    async with httpx.AsyncClient(base_url=signer.url, timeout=30) as http:
        for case in cases:
            outcome = await send(http, case)
            for _ in range(REDELIVERIES):  # as a CRM does: 503 means "nothing recorded, deliver again"
                if outcome.status != 503:
                    break
                await asyncio.sleep(2)
                headers = signer.relay(case.body) if case.path == SALESFORCE else signer.hubspot(case.body)
                outcome = await send(http, WebhookCase(case.name, case.path, case.body, headers, case.refuse))
                outcome = WebhookOutcome(outcome.name, outcome.status, outcome.refuse, f"after 503: {outcome.detail}")
            outcomes.append(outcome)
    return outcomes


async def contract_status(client: Client, contract: AmendedContract) -> ContractStatus | None:
    """The contract run's status, or None when it has none."""
    handle = client.get_workflow_handle(contract_workflow_id(contract.deal.crm, contract.contract_id))
    try:
        status: ContractStatus = await handle.query(ContractWorkflow.status)
    except RPCError:
        return None
    return status


def _settled(status: ContractStatus | None, contract: AmendedContract) -> bool:
    if status is None:
        return False
    versions = [v for v in status.versions if v.version <= len(contract.versions)]
    return len(versions) == len(contract.versions) and all(
        t.state in ("applied", "failed") for v in versions for t in v.targets.values()
    )


async def wait_applied(client: Client, contracts: Sequence[AmendedContract], deadline: Deadline, say: Any) -> None:
    """Wait until the versions of every contract whose versions were all won are applied (or failed) everywhere."""
    while not deadline.passed():
        won = [c for c in contracts if len(c.won_order) == len(c.versions)]  # what was never won never settles
        pending = [c.contract_id for c in won if not _settled(await contract_status(client, c), c)]
        if not pending:
            return
        await asyncio.sleep(2)
    say(f"deadline: amendments of {len(pending)} contracts not applied everywhere, e.g. {pending[0]}")


async def _sink(http: httpx.AsyncClient, subject: str) -> list[dict[str, Any]]:
    body = (await http.get("/sink/events", params={"subject": subject, "limit": 100})).json()
    return list(body["events"])


async def _malformed_runs(client: Client, malformed: Sequence[WebhookOutcome], counts: AmendmentCounts) -> None:
    """What the runs that accepted malformed deliveries started did: none may hold a version."""
    for outcome in malformed:
        if outcome.status is None or not 200 <= outcome.status < 300:
            continue
        try:
            accepted = json.loads(outcome.detail.removeprefix("after 503: ")).get("accepted") or []
        except ValueError:
            accepted = []
        for workflow_id in accepted:
            state = await status_of(client, workflow_id)
            if workflow_id.startswith("contract:"):
                handle = client.get_workflow_handle(workflow_id)
                try:
                    status: ContractStatus = await handle.query(ContractWorkflow.status)
                except RPCError:
                    status = None  # type: ignore[assignment]
                if status is not None and status.versions:
                    counts.malformed_left_a_trace.append(f"{outcome.name}: {workflow_id} holds {status.lines}")
                state += f", {len(status.versions) if status else 0} versions"
                state += "".join(f"; refused: {refusal[:160]}" for refusal in (status.rejections if status else []))
            counts.malformed_runs[workflow_id] = state


async def count_amendments(
    client: Client,
    sandbox_url: str,
    connectors: Connectors,
    contracts: Sequence[AmendedContract],
    malformed: Sequence[WebhookOutcome] = (),
) -> AmendmentCounts:
    """Each amended contract's workspace, job and events against what its versions should have left."""
    counts = AmendmentCounts(contracts=len(contracts), expected=sum(len(c.versions) for c in contracts))
    async with httpx.AsyncClient(base_url=sandbox_url, timeout=60) as http:
        for contract in contracts:
            key = f"{contract.deal.key} (contract {contract.contract_id})"
            counts.won_order[key] = contract.won_order
            status = await contract_status(client, contract)
            counts.status[key] = status.lines + status.rejections if status else ["no contract run"]
            if contract.noop is not None and status is not None:
                counts.noop_refused += [r[:200] for r in status.rejections if contract.noop in r]
            wrong: list[str] = []
            workspace = await connectors.kantata.find_project_by_external_id(contract.deal.key)
            if workspace is None:
                wrong.append("no Kantata workspace")
            else:
                project = await connectors.kantata.get_project(workspace)
                if project.budget is None or project.budget.amount != contract.expected_budget:
                    wrong.append(f"Kantata budget {project.budget}, expected {contract.expected_budget}")
                if contract.expected_end is not None and project.end_date != contract.expected_end:
                    wrong.append(f"Kantata end {project.end_date}, expected {contract.expected_end}")
                schedule = await connectors.kantata.rate_schedule(workspace)
                on_day = [v for v in (schedule.versions if schedule else ()) if v.effective_date == contract.rate_from]
                rates = {r.role: r.hourly_rate.amount for v in on_day for r in v.rates}
                if contract.role is not None and rates.get(contract.role) != contract.new_price:
                    found = rates.get(contract.role)
                    wrong.append(f"Kantata rate of {contract.role} from {contract.rate_from}: {found}")
                if len(on_day) > 1:
                    counts.duplicated.append(f"{key}: {len(on_day)} Kantata rate versions on {contract.rate_from}")
            job = await connectors.netsuite.client.get_json(f"/record/v1/job/eid:{contract.deal.key}")
            if Decimal(str(job.get("jobPrice"))) != contract.expected_budget:
                wrong.append(f"NetSuite jobPrice {job.get('jobPrice')}, expected {contract.expected_budget}")
            end = contract.expected_end
            if end is not None and str(job.get("endDate"))[:10] != end.isoformat():
                wrong.append(f"NetSuite endDate {job.get('endDate')}, expected {contract.expected_end}")
            recorded = json.loads(job.get(RATES_FIELD) or '{"versions": []}')
            dated = [v for v in recorded["versions"] if v["effective_date"] == contract.rate_from.isoformat()]
            if contract.role is not None and (
                not dated or Decimal(str(dated[0]["rates"].get(contract.role))) != contract.new_price
            ):
                wrong.append(f"NetSuite {RATES_FIELD} on {contract.rate_from}: {dated}")
            events = [e for e in await _sink(http, contract.deal.key) if e["type"] == AMENDED]
            run_id = contract_workflow_id(contract.deal.crm, contract.contract_id)
            mine = [e for e in events if str(e.get("id")).startswith(f"{run_id}:")]
            versions = [int(e["data"]["version"]) for e in mine]
            seen = Counter(versions)
            for number in range(1, len(contract.versions) + 1):
                if seen[number] == 0:
                    counts.lost.append(f"{key} v{number}: no {AMENDED} event")
                elif seen[number] > 1:
                    counts.duplicated.append(f"{key} v{number}: {seen[number]} {AMENDED} events")
            if versions != sorted(versions):
                counts.out_of_order.append(f"{key}: events in order {versions}")
            if contract.noop is not None and seen[len(contract.versions) + 1]:
                counts.malformed_left_a_trace.append(f"{key}: the no-op v{len(contract.versions) + 1} was published")
            if wrong:
                counts.wrong_values[key] = wrong
                if not any(item.startswith(key) for item in counts.lost):
                    counts.lost.append(f"{key}: target values not as amended")
            counts.applied += sum(1 for n in range(1, len(contract.versions) + 1) if seen[n] == 1) if not wrong else 0
        for subject in (f"hubspot:{UNKNOWN_HUBSPOT_DEAL}",):
            if await _sink(http, subject):
                counts.malformed_left_a_trace.append(f"events for {subject}")
    await _malformed_runs(client, malformed, counts)
    if await connectors.kantata.find_project_by_external_id(f"hubspot:{UNKNOWN_HUBSPOT_DEAL}") is not None:
        counts.malformed_left_a_trace.append(f"a Kantata workspace for hubspot:{UNKNOWN_HUBSPOT_DEAL}")
    return counts


def amendment_report(counts: AmendmentCounts, malformed: Sequence[WebhookOutcome]) -> dict[str, Any]:
    """The amendment counts as the run's JSON has them."""
    return {
        **asdict(counts),
        "malformed_deliveries": {w.name: f"{w.status} {w.detail}"[:160] for w in malformed},
        "malformed_5xx_or_dropped": [w.name for w in malformed if w.server_error],
        "malformed_wrongly_accepted": [w.name for w in malformed if w.wrongly_accepted],
    }


def add_amendments(
    result: dict[str, Any], counts: AmendmentCounts, malformed: Sequence[WebhookOutcome]
) -> dict[str, Any]:
    """The run's report with the amendments' counts in it, and their losses and duplicates in its totals."""
    report = amendment_report(counts, malformed)
    result["amendments"] = report
    result["lost"] += len(counts.lost)
    result["duplicated"] += len(counts.duplicated)
    result["gateway_5xx"] += len(report["malformed_5xx_or_dropped"])
    result["amendments_wrong"] = (
        len(counts.out_of_order) + len(counts.malformed_left_a_trace) + len(report["malformed_wrongly_accepted"])
    )
    return result
