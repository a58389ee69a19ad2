"""Fixtures for end-to-end flow tests: connectors onto the session sandbox, deals to win or to break."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
import pytest_asyncio

from canonical import OpportunityStage
from stack.connectors import Connectors
from stack.settings import Settings
from tests.flows._kantata import Kantata

_taken: set[str] = set()

WinDeal = Callable[[str], Awaitable[str]]


@pytest_asyncio.fixture
async def connectors(flow_settings: Settings) -> AsyncIterator[Connectors]:
    """Every connector, pointed at the session sandbox (what the worker uses, for arranging and asserting)."""
    built = Connectors.build(flow_settings)
    try:
        yield built
    finally:
        await built.aclose()


async def _open_deals(connectors: Connectors, crm: str) -> list[str]:
    if crm == "salesforce":
        soql = "SELECT Id FROM Opportunity WHERE IsClosed = false AND SBQQ__AmendedContract__c = null ORDER BY Id"
        return [row["Id"] async for row in connectors.salesforce.query(soql)]
    still_open = {"propertyName": "dealstage", "operator": "NOT_IN", "values": ["closedwon", "closedlost"]}
    # Sales deals only: change orders (another pipeline) are never won as new deals.
    sales = {"propertyName": "pipeline", "operator": "EQ", "value": "default"}
    body = {"filterGroups": [{"filters": [still_open, sales]}], "properties": ["dealstage"], "limit": 100}
    page = await connectors.hubspot.api.search_page("deals", body)
    return sorted(record.id for record in page.results)


@pytest.fixture
def win_deal(connectors: Connectors) -> WinDeal:
    """Win an open deal no other test has used, in the named CRM; returns its id."""

    async def win(crm: str) -> str:
        deal = next(d for d in await _open_deals(connectors, crm) if f"{crm}:{d}" not in _taken)
        _taken.add(f"{crm}:{deal}")
        if crm == "salesforce":
            await connectors.salesforce.set_opportunity_stage(deal, OpportunityStage.CLOSED_WON)
        else:
            await connectors.hubspot.set_deal_stage(deal, OpportunityStage.CLOSED_WON)
        return deal

    return win


MakeDeal = Callable[..., Awaitable[str]]


@pytest.fixture
def make_deal(connectors: Connectors) -> MakeDeal:
    """Create a won Salesforce deal shaped by the test: its account fields, line items, or none of them."""

    async def make(
        name: str,
        *,
        account: dict[str, Any] | None = None,
        unit_price: float = 150.0,
        line_items: int = 2,
        with_account: bool = True,
    ) -> str:
        salesforce = connectors.salesforce
        soql = "SELECT Id FROM PricebookEntry WHERE CurrencyIsoCode = 'USD' LIMIT 1"
        entries = [row["Id"] async for row in salesforce.query(soql)]
        entry = entries[0]
        fields: dict[str, Any] = {"Name": name, "StageName": "Closed Won", "CloseDate": "2026-11-20"}
        fields |= {"CurrencyIsoCode": "USD", "Start_Date__c": "2026-12-01", "End_Date__c": "2027-02-26"}
        if with_account:
            account_fields = {"Name": f"{name} Ltd", "CurrencyIsoCode": "USD", **(account or {})}
            [created] = await salesforce.create_records("Account", [account_fields])
            assert created.success, created
            fields["AccountId"] = created.id
        [opportunity] = await salesforce.create_records("Opportunity", [fields])
        assert opportunity.success and opportunity.id, opportunity
        items = [
            {"OpportunityId": opportunity.id, "PricebookEntryId": entry, "Quantity": 10 + n, "UnitPrice": unit_price,
             "Role__c": "Consultant"}
            for n in range(line_items)
        ]  # fmt: skip
        if items:
            results = await salesforce.create_records("OpportunityLineItem", items)
            assert all(result.success for result in results), results
        return opportunity.id

    return make


BILLABLE_ACCOUNT = {
    "BillingStreet": "1 Dock Road",
    "BillingCity": "Boston",
    "BillingPostalCode": "02110",
    "BillingCountry": "US",
    "Payment_Terms__c": "Net 30",
}


async def sink_events(sandbox_url: str, subject: str) -> list[dict[str, Any]]:
    """CloudEvents the sink received about one subject (engagement id)."""
    async with httpx.AsyncClient() as http:
        body = (await http.get(f"{sandbox_url}/sink/events", params={"subject": subject, "limit": 100})).json()
    return list(body["events"])


async def inject(sandbox_url: str, system: str, **fault: Any) -> None:
    """Install a fault in one emulated system (cleared by the `clear_faults` fixture)."""
    async with httpx.AsyncClient() as http:
        response = await http.put(f"{sandbox_url}/_admin/faults/{system}", json=fault)
        response.raise_for_status()


@pytest_asyncio.fixture
async def kantata(sandbox_url: str) -> AsyncIterator[Kantata]:
    """Arranges days in the Kantata emulator: entries as consultants enter them, approvals as managers give them."""
    arranged = Kantata(sandbox_url)
    yield arranged
    await arranged.http.aclose()
