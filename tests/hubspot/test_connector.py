"""The connector against the in-process emulator seeded with the demo firm's UK practice."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from canonical import Address, Customer, OpportunityStage
from connectors._core import BusinessError, NotFoundError, PermanentError
from connectors.hubspot import HubSpotConnector
from sandbox.systems.hubspot._seed import deal_id as hubspot_deal_id
from tests.hubspot.conftest import (
    OPEN_UK_DEALS,
    SIX_ITEM_CLIENT,
    SIX_ITEM_COMPANY,
    SIX_ITEM_DEAL,
    SIX_ITEM_DEAL_NAME,
    SIX_ITEM_LINE_ITEMS,
    SIX_ITEM_STAGE,
    WON_UK_DEALS,
    auth_headers,
    set_limits,
    settings,
)


async def company_count(admin: httpx.AsyncClient) -> int:
    status = (await admin.get("/_admin/status")).json()
    return int(status["systems"]["hubspot"]["counts"]["companies"])


async def test_get_deal_reads_line_items_and_the_primary_company(hubspot: HubSpotConnector) -> None:
    opportunity = await hubspot.get_deal(SIX_ITEM_DEAL)
    assert opportunity.id == f"hubspot:{SIX_ITEM_DEAL}"
    assert opportunity.account_id == f"hubspot:{SIX_ITEM_COMPANY}"
    assert opportunity.name == SIX_ITEM_DEAL_NAME
    assert opportunity.stage.value == SIX_ITEM_STAGE.lower().replace(" ", "_")
    assert [item.id for item in opportunity.line_items] == [f"hubspot:{item}" for item in SIX_ITEM_LINE_ITEMS]
    assert sum((item.total.amount for item in opportunity.line_items), Decimal(0)) == opportunity.amount.amount
    assert {item.unit_price.currency for item in opportunity.line_items} == {"GBP"}
    assert opportunity.rate_card_id == "RC-GBP"
    assert await hubspot.get_deal(f"hubspot:{SIX_ITEM_DEAL}") == opportunity


async def test_get_company_is_the_customer_the_deal_points_at(hubspot: HubSpotConnector) -> None:
    opportunity = await hubspot.get_deal(SIX_ITEM_DEAL)
    customer = await hubspot.get_company(opportunity.account_id)
    assert customer.id == opportunity.account_id
    assert (customer.name, customer.currency, customer.payment_terms, customer.industry) == (
        SIX_ITEM_CLIENT.name,
        "GBP",
        SIX_ITEM_CLIENT.payment_terms,
        SIX_ITEM_CLIENT.industry,
    )
    assert customer.billable and customer.billing_address is not None
    assert customer.billing_address.country == "GB"


async def test_set_deal_stage(hubspot: HubSpotConnector) -> None:
    await hubspot.set_deal_stage(SIX_ITEM_DEAL, OpportunityStage.CLOSED_WON)
    assert (await hubspot.get_deal(SIX_ITEM_DEAL)).is_won


async def win(hubspot: HubSpotConnector, deal_ids: list[str]) -> None:
    for deal_id in deal_ids:
        await hubspot.set_deal_stage(deal_id, OpportunityStage.CLOSED_WON)
        await asyncio.sleep(0.003)  # distinct hs_lastmodifieddate values


OPEN_DEALS = [hubspot_deal_id(o.id) for o in OPEN_UK_DEALS[:7]]


async def test_closed_won_since_pages_through_every_page(transport: httpx.ASGITransport) -> None:
    async with HubSpotConnector(settings(search_page_size=2), transport=transport) as hubspot:
        first = await hubspot.closed_won_page(datetime.now(UTC) - timedelta(hours=1))
        assert len(first.items) == 2 and first.next_cursor is not None
        seen = [deal_id async for deal_id in hubspot.closed_won_since(datetime.now(UTC) - timedelta(hours=1))]
        assert set(seen) == WON_UK_DEALS and len(seen) == len(WON_UK_DEALS)
        since = datetime.now(UTC)
        await win(hubspot, OPEN_DEALS)
        pages = []
        cursor: str | None = None
        while True:
            page = await hubspot.closed_won_page(since, cursor)
            pages.append(page.items)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert [deal_id for page_items in pages for deal_id in page_items] == OPEN_DEALS
        assert len(pages) == 4
        assert [deal_id async for deal_id in hubspot.closed_won_since(datetime.now(UTC) + timedelta(minutes=1))] == []


async def test_closed_won_since_reads_past_the_search_result_cap(
    transport: httpx.ASGITransport, admin: httpx.AsyncClient
) -> None:
    await set_limits(admin, search_result_cap=4)
    async with HubSpotConnector(settings(search_page_size=2, search_result_cap=4), transport=transport) as hubspot:
        since = datetime.now(UTC)
        await win(hubspot, OPEN_DEALS)
        seen = [deal_id async for deal_id in hubspot.closed_won_since(since)]
    assert set(seen) == set(OPEN_DEALS)
    # A query restarted from the last modification time may repeat the boundary deal, nothing more.
    assert len(seen) <= len(OPEN_DEALS) + 2


async def test_customers_page_with_opaque_after_cursors(transport: httpx.ASGITransport) -> None:
    async with HubSpotConnector(settings(page_size=5), transport=transport) as hubspot:
        first = await hubspot.customers_page()
        assert len(first.items) == 5 and first.next_cursor is not None and not first.next_cursor.isdigit()
        second = await hubspot.customers_page(first.next_cursor)
        assert len(second.items) == 5 and second.next_cursor is not None
        third = await hubspot.customers_page(second.next_cursor)
        assert len(third.items) == 2 and third.next_cursor is None
        everyone = [customer async for customer in hubspot.customers()]
    assert [c.id for c in everyone] == [c.id for c in (*first.items, *second.items, *third.items)]
    assert len({c.id for c in everyone}) == 12 and {c.currency for c in everyone} == {"GBP"}


def foreign(number: int, **fields: object) -> Customer:
    values: dict[str, object] = {
        "id": f"netsuite:{number}",
        "name": f"Client {number}",
        "currency": "EUR",
        "billing_address": Address(line1=f"{number} Canal Street", city="Dublin", country="IE"),
        "payment_terms": "Net 30",
        "industry": "Financial Services",
    }
    values.update(fields)
    return Customer.model_validate(values)


async def test_upsert_companies_is_idempotent_by_psflow_id(hubspot: HubSpotConnector, admin: httpx.AsyncClient) -> None:
    before = await company_count(admin)
    ids = await hubspot.upsert_companies([foreign(1), foreign(2)])
    assert len(set(ids)) == 2
    again = await hubspot.upsert_companies([foreign(2, name="Client Two Ltd"), foreign(1)])
    assert again == [ids[1], ids[0]]
    assert await company_count(admin) == before + 2
    renamed = await hubspot.get_company("netsuite:2")
    assert (renamed.id, renamed.name, renamed.currency, renamed.industry) == (
        "netsuite:2",
        "Client Two Ltd",
        "EUR",
        "Financial Services",
    )
    assert renamed.source is not None and renamed.source.id == ids[1]


async def test_upsert_companies_surfaces_partial_failure_per_customer(
    hubspot: HubSpotConnector, admin: httpx.AsyncClient
) -> None:
    before = await company_count(admin)
    with pytest.raises(BusinessError) as raised:
        await hubspot.upsert_companies([foreign(1), foreign(2, industry="Underwater Basket Weaving"), foreign(3)])
    error = raised.value
    assert (error.status, error.code) == (207, "PARTIAL_FAILURE")
    assert set(error.details["failures"]) == {"netsuite:2"}
    assert "UNDERWATER_BASKET_WEAVING was not one of the allowed options" in error.details["failures"]["netsuite:2"]
    assert set(error.details["upserted"]) == {"netsuite:1", "netsuite:3"}
    assert "netsuite:2" in str(error)
    assert await company_count(admin) == before + 2
    with pytest.raises(NotFoundError):
        await hubspot.get_company("netsuite:2")


async def test_upsert_of_a_hubspot_customer_updates_its_own_company(
    hubspot: HubSpotConnector, admin: httpx.AsyncClient
) -> None:
    before = await company_count(admin)
    customer = await hubspot.get_company(SIX_ITEM_COMPANY)
    changed = customer.model_copy(update={"payment_terms": "Net 60"})
    assert await hubspot.upsert_companies([changed]) == [SIX_ITEM_COMPANY]
    assert (await hubspot.get_company(SIX_ITEM_COMPANY)).payment_terms == "Net 60"
    assert await company_count(admin) == before


async def test_upsert_companies_in_batches_of_one_hundred(hubspot: HubSpotConnector, admin: httpx.AsyncClient) -> None:
    customers = [foreign(n) for n in range(1, 131)]
    ids = await hubspot.upsert_companies(customers)
    assert len(set(ids)) == 130
    assert await company_count(admin) == 12 + 130


async def test_unknown_deal_is_not_found(hubspot: HubSpotConnector) -> None:
    with pytest.raises(NotFoundError) as raised:
        await hubspot.get_deal("1")
    assert (raised.value.status, raised.value.code) == (404, "OBJECT_NOT_FOUND")


async def test_another_systems_id_is_not_a_deal_id(hubspot: HubSpotConnector) -> None:
    with pytest.raises(PermanentError, match="not a HubSpot id"):
        await hubspot.get_deal("salesforce:006000000000001")


async def test_deal_without_a_company_cannot_become_an_opportunity(
    hubspot: HubSpotConnector, admin: httpx.AsyncClient
) -> None:
    created = await admin.post(
        "/hubspot/crm/v3/objects/deals",
        json={"properties": {"dealname": "Orphan", "dealstage": "closedwon", "closedate": "2026-01-31"}},
        headers=auth_headers(),
    )
    assert created.status_code == 201
    with pytest.raises(PermanentError) as raised:
        await hubspot.get_deal(created.json()["id"])
    assert raised.value.code == "no_company" and "associate one" in str(raised.value)


async def test_deal_whose_line_item_vanished_is_a_business_error(
    hubspot: HubSpotConnector, admin: httpx.AsyncClient
) -> None:
    archived = await admin.delete(
        f"/hubspot/crm/v3/objects/line_items/{SIX_ITEM_LINE_ITEMS[2]}", headers=auth_headers()
    )
    assert archived.status_code == 204
    with pytest.raises(BusinessError) as raised:
        await hubspot.get_deal(SIX_ITEM_DEAL)
    assert raised.value.code == "OBJECT_NOT_FOUND" and SIX_ITEM_LINE_ITEMS[2] in str(raised.value)


async def test_unmappable_deal_is_a_permanent_error(hubspot: HubSpotConnector, admin: httpx.AsyncClient) -> None:
    await hubspot.api.update("line_items", SIX_ITEM_LINE_ITEMS[0], {"quantity": "0"})
    with pytest.raises(PermanentError) as raised:
        await hubspot.get_deal(SIX_ITEM_DEAL)
    assert raised.value.code == "unmappable_record" and "greater than zero" in str(raised.value)


async def test_search_cap_without_progress_is_a_permanent_error() -> None:
    since = datetime(2026, 1, 1, tzinfo=UTC)
    stamp = "2026-01-01T00:00:00.000Z"

    def handler(request: httpx.Request) -> httpx.Response:
        results = [{"id": str(n), "properties": {"hs_lastmodifieddate": stamp}} for n in range(2)]
        return httpx.Response(200, json={"total": 9, "results": results, "paging": {"next": {"after": "2"}}})

    capped = settings(search_page_size=2, search_result_cap=3)
    async with HubSpotConnector(capped, transport=httpx.MockTransport(handler)) as hubspot:
        with pytest.raises(PermanentError) as raised:
            [deal_id async for deal_id in hubspot.closed_won_since(since)]
    assert raised.value.code == "search_cap" and "poll from a later time" in str(raised.value)
