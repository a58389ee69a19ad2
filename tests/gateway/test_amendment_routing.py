"""Won amendments reach their contract's run through the gateway, never provisioning.

Salesforce: the relayed change event of a won CPQ amendment opportunity names its contract
(``SBQQ__AmendedContract__c``, CDC enrichment), so the gateway submits it to
``contract:salesforce:{contract_id}``. HubSpot: a deal moved to a won stage of the change-order
pipeline starts ``amendment-intake:hubspot:{deal_id}``. Redeliveries are duplicates, as for won deals.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from temporalio.client import Client

from stack.local.subscriptions import GatewaySecrets, subscribe_sandbox, unsubscribe_sandbox
from stack.settings import Settings
from stack.webhooks import HUBSPOT_PATH as HUBSPOT
from stack.webhooks import SALESFORCE_PATH as SALESFORCE
from tests.flows._amendment_targets import UK_CONTRACTS, HubSpotSandbox, SalesforceSandbox, amendment_workers
from tests.gateway.conftest import (
    Gateway,
    change_event,
    encode,
    hubspot_event,
    hubspot_headers,
    open_gateway,
    relay_headers,
    unique_deal,
)
from workflows.amend_contract import contract_workflow_id
from workflows.amendment_intake import intake_workflow_id
from workflows.provision_engagement import workflow_id

CHANGE_ORDER_WON = "co-won"


class Lookup:
    """A stand-in for HubSpot's pipelines: fails while ``down``, counts its calls."""

    def __init__(self) -> None:
        self.down = False
        self.calls = 0

    async def __call__(self) -> set[str]:
        self.calls += 1
        if self.down:
            raise ConnectionError("HubSpot is unreachable")
        return {CHANGE_ORDER_WON}


@pytest.fixture
def lookup() -> Lookup:
    return Lookup()


@pytest_asyncio.fixture
async def routed(settings: Settings, temporal_client: Client, lookup: Lookup) -> AsyncIterator[Gateway]:
    """The gateway app (no worker) whose HubSpot change-order stages come from `lookup`."""
    async for opened in open_gateway(settings, temporal_client, change_order_stages=lookup):
        yield opened


async def test_a_hubspot_change_order_starts_its_intake_once(routed: Gateway, lookup: Lookup) -> None:
    change_order, new_deal = unique_deal(), unique_deal()
    body = encode([hubspot_event(change_order, event_id=501, stage=CHANGE_ORDER_WON)])
    first = await routed.post(HUBSPOT, body, hubspot_headers(body))
    again = await routed.post(HUBSPOT, body, hubspot_headers(body))
    won = encode([hubspot_event(new_deal, event_id=502)])
    provisioned = await routed.post(HUBSPOT, won, hubspot_headers(won))
    intake = intake_workflow_id("hubspot", change_order)
    assert first.json() == {"accepted": [intake], "duplicates": 0, "ignored": 0}
    assert again.json() == {"accepted": [], "duplicates": 1, "ignored": 0}
    assert provisioned.json()["accepted"] == [workflow_id("hubspot", new_deal)]
    assert await routed.exists(intake)
    assert not await routed.exists(workflow_id("hubspot", change_order))
    assert lookup.calls == 1  # looked up once, and not for the won deal


async def test_change_orders_wait_for_the_stage_lookup_and_other_stages_are_ignored(
    routed: Gateway, lookup: Lookup
) -> None:
    lookup.down = True
    change_order = unique_deal()
    body = encode([hubspot_event(change_order, stage=CHANGE_ORDER_WON)])
    unknown = await routed.post(HUBSPOT, body, hubspot_headers(body))
    assert unknown.json() == {"accepted": [], "duplicates": 0, "ignored": 1}  # not recorded: the poll finds it
    lookup.down = False
    retried = await routed.post(HUBSPOT, body, hubspot_headers(body))
    other = encode([hubspot_event(unique_deal(), stage="appointmentscheduled")])
    ignored = await routed.post(HUBSPOT, other, hubspot_headers(other))
    assert retried.json()["accepted"] == [intake_workflow_id("hubspot", change_order)]
    assert ignored.json() == {"accepted": [], "duplicates": 0, "ignored": 1}


async def test_a_change_event_naming_no_contract_is_refused(routed: Gateway) -> None:
    event = change_event("0068d00000000AbAAA")
    event["payload"]["SBQQ__AmendedContract__c"] = "0018d0000000001AAA"  # an Account
    body = encode(event)
    response = await routed.post(SALESFORCE, body, relay_headers(body))
    assert response.status_code == 400
    assert "SBQQ__AmendedContract__c" in response.json()["message"]


async def test_a_won_cpq_amendment_is_submitted_to_its_contract_not_provisioned(
    routed: Gateway, flow_settings: Settings, temporal_client: Client
) -> None:
    salesforce = SalesforceSandbox(flow_settings.sandbox_url)
    contract = await salesforce.unused_contract()
    amendment = await salesforce.won_amendment(contract, hours=16, close_date="2026-12-14")
    event = change_event(amendment)
    event["payload"]["SBQQ__AmendedContract__c"] = contract["contract_id"]
    body = encode(event)
    run_id = contract_workflow_id("salesforce", contract["contract_id"])
    async with amendment_workers(temporal_client, flow_settings) as targets:
        first = await routed.post(SALESFORCE, body, relay_headers(body))
        again = await routed.post(SALESFORCE, body, relay_headers(body))
        (applied,) = await targets.applied_to(contract["contract_id"])
    assert first.json() == {"accepted": [run_id], "duplicates": 0, "ignored": 0}
    assert again.json() == {"accepted": [], "duplicates": 1, "ignored": 0}
    assert (applied.id, applied.version) == (f"salesforce:{amendment}", 1)
    assert not await routed.exists(workflow_id("salesforce", amendment))


async def test_an_amendment_its_contract_run_does_not_accept_in_time_gets_503_and_its_redelivery_is_acted_on(
    routed: Gateway, flow_settings: Settings, temporal_client: Client
) -> None:
    salesforce = SalesforceSandbox(flow_settings.sandbox_url)
    contract = await salesforce.unused_contract()
    amendment = await salesforce.won_amendment(contract, hours=8, close_date="2026-12-14")
    event = change_event(amendment)
    event["payload"]["SBQQ__AmendedContract__c"] = contract["contract_id"]
    body = encode(event)
    # No worker yet: the contract's run cannot accept the update within the gateway's 3 s.
    refused = await routed.post(SALESFORCE, body, relay_headers(body))
    assert (refused.status_code, refused.headers["Retry-After"]) == (503, "10")
    async with amendment_workers(temporal_client, flow_settings) as targets:
        retried = await routed.post(SALESFORCE, body, relay_headers(body))
        (applied,) = await targets.applied_to(contract["contract_id"])
    assert retried.json() == {
        "accepted": [contract_workflow_id("salesforce", contract["contract_id"])],
        "duplicates": 0,
        "ignored": 0,
    }
    assert applied.id == f"salesforce:{amendment}"


@pytest.fixture
def subscribed(served_gateway: str, flow_settings: Settings) -> Iterator[str]:
    """The served gateway, subscribed to the session sandbox for the duration of the test."""
    subscribe_sandbox(flow_settings.sandbox_url, served_gateway, GatewaySecrets.from_settings(flow_settings))
    try:
        yield served_gateway
    finally:
        unsubscribe_sandbox(flow_settings.sandbox_url, served_gateway)


async def test_an_amendment_made_in_salesforce_is_applied_through_the_relay_and_the_gateway(
    subscribed: str, flow_settings: Settings, temporal_client: Client
) -> None:
    salesforce = SalesforceSandbox(flow_settings.sandbox_url)
    contract = await salesforce.unused_contract()
    async with amendment_workers(temporal_client, flow_settings) as targets:
        amendment = await salesforce.won_amendment(contract, hours=40, close_date="2026-12-15")
        (applied,) = await targets.applied_to(contract["contract_id"])
    assert (applied.id, applied.contract_id, applied.version) == (
        f"salesforce:{amendment}",
        contract["contract_id"],
        1,
    )
    assert applied.engagement_id == f"salesforce:{contract['deal_id']}"


async def test_a_change_order_signed_in_hubspot_is_applied_through_the_webhook_and_the_gateway(
    subscribed: str, flow_settings: Settings, temporal_client: Client
) -> None:
    contract = UK_CONTRACTS[1]
    async with amendment_workers(temporal_client, flow_settings) as targets:
        change_order = await HubSpotSandbox(flow_settings.sandbox_url).won_change_order(
            contract, amount="800", close_date="2026-12-15"
        )
        (applied,) = await targets.applied_to(contract)
    assert (applied.id, applied.version, applied.engagement_id) == (
        f"hubspot:{change_order}",
        1,
        f"hubspot:{contract}",
    )
