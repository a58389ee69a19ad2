"""Amendment routing tests: amending a contract in the sandbox's Salesforce, and workers with the real CRM
activities over the sandbox and stand-in PSA/ERP/events.

The routing tests prove that an amendment recorded in a CRM reaches its contract's run and is
applied there; what the targets then do is the contract and targets helpers' tests. The stand-ins
record every amendment each target was asked to apply.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker

from activities.amendments import ApplyAmendment, ContractBaseline, ContractRef, TargetApplied
from activities.crm import CrmActivities, HubSpotReader, SalesforceReader
from activities.models import AnalyticsRows
from canonical import ContractAmendment, Money
from canonical.events import CloudEvent
from sandbox.seed import DemoFirm
from sandbox.systems.hubspot._seed import CHANGE_ORDER_LABEL, CHANGE_ORDER_PIPELINE, CHANGE_ORDER_STAGES, deal_id
from stack.connectors import Connectors
from stack.settings import Settings
from tests.conftest import TEST_TODAY
from workflows.amend_contract import ContractWorkflow
from workflows.amendment_intake import AmendmentIntakeWorkflow
from workflows.poll_closed_won import PollClosedWonWorkflow

AMENDER = "SBQQ.ContractManipulationAPI.ContractAmender"
_used: set[str] = set()
"""Contracts a test amended already (each test amends its own)."""


class SalesforceSandbox:
    """Raw calls to the session sandbox's Salesforce: what a sales rep does to amend a contract."""

    def __init__(self, sandbox_url: str) -> None:
        self.base = f"{sandbox_url}/salesforce"
        self.admin = f"{sandbox_url}/_admin/salesforce"

    async def _headers(self, http: httpx.AsyncClient) -> dict[str, str]:
        token = await http.post(
            "/services/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "psflow-demo",
                "client_secret": "psflow-demo-secret",
            },
        )
        return {"Authorization": f"Bearer {token.json()['access_token']}"}

    async def unused_contract(self) -> dict[str, Any]:
        """A seeded won deal's contract no other test amended, with the deal's first line."""
        async with httpx.AsyncClient(base_url=self.base) as http:
            soql = (
                "SELECT Id, ContractId, (SELECT Product2.Name, Role__c, UnitPrice FROM OpportunityLineItems "
                "ORDER BY CreatedDate, Id) FROM Opportunity WHERE IsWon = TRUE AND ContractId != null ORDER BY Id DESC"
            )
            response = await http.get(
                "/services/data/v62.0/query", params={"q": soql}, headers=await self._headers(http)
            )
        deal = next(row for row in response.json()["records"] if row["ContractId"] not in _used)
        _used.add(deal["ContractId"])
        return {
            "contract_id": deal["ContractId"],
            "deal_id": deal["Id"],
            "line": deal["OpportunityLineItems"]["records"][0],
        }

    async def won_amendment(self, contract: dict[str, Any], hours: int, close_date: str) -> str:
        """Amend the contract through the ContractAmender, add ``hours`` of its first role, and win it."""
        line = contract["line"]
        async with httpx.AsyncClient(base_url=self.base) as http:
            headers = await self._headers(http)
            model = await http.patch(
                "/services/apexrest/SBQQ/ServiceRouter",
                params={"loader": AMENDER, "uid": contract["contract_id"]},
                json={},
                headers=headers,
            )
            assert model.status_code == 200, model.text
            # CPQ's ServiceRouter answers the QuoteModel as a JSON-encoded string.
            opportunity_id = str(json.loads(model.json())["record"]["SBQQ__Opportunity2__c"])
            delta = {"product": line["Product2"]["Name"], "role": line["Role__c"], "quantity": hours}
            edited = await http.put(
                f"{self.admin}/amendments/{opportunity_id}",
                json={"close_date": close_date, "lines": [{**delta, "unit_price": line["UnitPrice"]}]},
            )
            assert edited.status_code == 200, edited.text
            won = await http.patch(
                f"/services/data/v62.0/sobjects/Opportunity/{opportunity_id}",
                json={"StageName": "Closed Won"},
                headers=headers,
            )
            assert won.status_code == 204, won.text
        return opportunity_id


class HubSpotSandbox:
    """Raw calls to the session sandbox's HubSpot: a change-order deal as a firm records one."""

    HEADERS = {"Authorization": "Bearer pat-na1-psflow-demo-0000-private-app"}

    def __init__(self, sandbox_url: str) -> None:
        self.base = f"{sandbox_url}/hubspot"

    async def _call(self, http: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> Any:
        response = await http.request(method, path, headers=self.HEADERS, **kwargs)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    async def won_change_order(self, contract: str, amount: str, close_date: str) -> str:
        """A change-order deal of the original deal ``contract`` worth ``amount`` more, moved to Signed."""
        async with httpx.AsyncClient(base_url=self.base) as http:
            labels = await self._call(http, "GET", "/crm/v4/associations/deals/deals/labels")
            label = next(t["typeId"] for t in labels["results"] if t["label"] == CHANGE_ORDER_LABEL)
            properties = {
                "dealname": "Change order",
                "pipeline": CHANGE_ORDER_PIPELINE,
                "dealstage": STAGE["Drafted"],
                "amount": amount,
                "deal_currency_code": "GBP",
                "psflow_parent_deal_id": contract,
            }
            kind = {"associationCategory": "USER_DEFINED", "associationTypeId": label}
            deal = await self._call(
                http,
                "POST",
                "/crm/v3/objects/deals",
                json={"properties": properties, "associations": [{"to": {"id": contract}, "types": [kind]}]},
            )
            signed = {"dealstage": STAGE["Signed"], "closedate": close_date}
            await self._call(http, "PATCH", f"/crm/v3/objects/deals/{deal['id']}", json={"properties": signed})
        return str(deal["id"])


STAGE = {label: stage_id for stage_id, (label, _, _) in CHANGE_ORDER_STAGES.items()}
UK_CONTRACTS = [
    deal_id(o.id)
    for o in reversed(DemoFirm.generate(today=TEST_TODAY).opportunities)
    if o.currency == "GBP" and o.stage == "Closed Won"
]
"""Won HubSpot deals of the UK practice, last first: each HubSpot amendment test changes its own."""


@dataclass
class StandInTargets:
    """What reached the PSA stand-in, by contract; baselines are read from the Salesforce original deal."""

    connectors: Connectors
    applied: dict[str, list[ContractAmendment]] = field(default_factory=dict)
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def _baseline(self, ref: ContractRef) -> ContractBaseline:
        if ref.engagement_id.startswith("hubspot:"):
            opportunity = await self.connectors.hubspot.get_deal(ref.engagement_id)
        else:
            opportunity = await self.connectors.salesforce.get_opportunity(ref.engagement_id)
        return ContractBaseline(
            engagement_id=ref.engagement_id,
            psa_project_id=f"stand-in:{ref.contract_id}",
            currency=opportunity.amount.currency,
            start_date=opportunity.start_date or opportunity.close_date,
            end_date=opportunity.end_date or opportunity.close_date + timedelta(days=90),
            budget=Money(amount=opportunity.amount.amount or Decimal(0), currency=opportunity.amount.currency),
            roles=tuple(sorted({item.role for item in opportunity.line_items if item.role})),
        )

    def activities(self) -> dict[str, list[Callable[..., Any]]]:
        @activity.defn(name="psa.read_contract")
        async def read_contract(ref: ContractRef) -> ContractBaseline:
            return await self._baseline(ref)

        @activity.defn(name="psa.apply_amendment")
        async def apply_to_psa(request: ApplyAmendment) -> TargetApplied:
            async with self.arrived:
                self.applied.setdefault(request.amendment.contract_id, []).append(request.amendment)
                self.arrived.notify_all()
            return TargetApplied(system_id="stand-in", detail="psa")

        @activity.defn(name="erp.apply_amendment")
        async def apply_to_erp(request: ApplyAmendment) -> TargetApplied:
            return TargetApplied(system_id="stand-in", detail="erp")

        @activity.defn(name="events.publish")
        async def publish(event: CloudEvent) -> None:
            return None

        @activity.defn(name="events.push_rows")
        async def push_rows(rows: AnalyticsRows) -> None:
            return None

        return {"psa": [read_contract, apply_to_psa], "erp": [apply_to_erp], "events": [publish, push_rows]}

    async def applied_to(self, contract_id: str, count: int = 1) -> list[ContractAmendment]:
        """The amendments applied to the contract in the PSA stand-in, once ``count`` arrived."""
        async with asyncio.timeout(30), self.arrived:
            await self.arrived.wait_for(lambda: len(self.applied.get(contract_id, [])) >= count)
        return self.applied[contract_id]


@asynccontextmanager
async def amendment_workers(client: Client, settings: Settings) -> AsyncIterator[StandInTargets]:
    """Workers for the contract, intake and polling workflows, the real CRM activities and stand-in targets."""
    connectors = Connectors.build(settings)
    targets = StandInTargets(connectors)
    crm = CrmActivities(
        {"salesforce": SalesforceReader(connectors.salesforce), "hubspot": HubSpotReader(connectors.hubspot)}
    )
    crm_activities = [
        crm.read_engagement,
        crm.closed_won_since,
        crm.amendments_won_since,
        crm.locate_amendment,
        crm.read_amendment,
    ]
    workers = [
        Worker(
            client,
            task_queue=settings.task_queue("flows"),
            workflows=[ContractWorkflow, AmendmentIntakeWorkflow, PollClosedWonWorkflow],
        ),
        Worker(client, task_queue=settings.task_queue("crm"), activities=crm_activities),
        *(
            Worker(client, task_queue=settings.task_queue(domain), activities=registered)
            for domain, registered in targets.activities().items()
        ),
    ]
    tasks = [asyncio.create_task(worker.run()) for worker in workers]
    try:
        yield targets
    finally:
        await asyncio.gather(*(worker.shutdown() for worker in workers))
        await asyncio.gather(*tasks, return_exceptions=True)
        await connectors.aclose()
