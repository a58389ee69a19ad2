"""The connector against the emulator: reads, writes, paging, limits and sign-in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI

from canonical import Address, BillingType, Customer, Money, OpportunityStage, SystemName, SystemRef
from connectors._core import AuthError, BusinessError, NotFoundError, Outcome, RateLimitedError
from connectors.salesforce import SalesforceConnector, SalesforceSettings
from sandbox.seed import DemoFirm
from sandbox.testing import serving
from tests.salesforce.conftest import admin_settings, settings

LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


async def first(connector: SalesforceConnector, soql: str) -> dict[str, Any]:
    """The first row of a query."""
    async for row in connector.query(soql):
        return row
    raise AssertionError(f"no rows for {soql}")


async def opportunity_id(connector: SalesforceConnector, firm_id: str) -> str:
    """The Salesforce Id of a demo-firm opportunity ("OPP-0001")."""
    return str((await first(connector, f"SELECT Id FROM Opportunity WHERE PSFlow_Id__c = '{firm_id}'"))["Id"])


async def test_get_opportunity_maps_the_deal_and_its_lines(connector: SalesforceConnector) -> None:
    firm = DemoFirm.generate()
    expected = next(o for o in firm.opportunities if o.stage == "Closed Won")
    record_id = await opportunity_id(connector, expected.id)
    opportunity = await connector.get_opportunity(f"salesforce:{record_id}")
    assert opportunity.id == f"salesforce:{record_id}"
    assert opportunity.source == SystemRef(system=SystemName.SALESFORCE, id=record_id)
    assert opportunity.stage is OpportunityStage.CLOSED_WON
    assert opportunity.amount == Money.of(expected.amount, expected.currency)
    assert (opportunity.close_date, opportunity.start_date, opportunity.end_date) == (
        expected.close_date,
        expected.start_date,
        expected.end_date,
    )
    assert opportunity.billing_type is BillingType(expected.billing_type)
    assert opportunity.rate_card_id == expected.rate_card_id
    assert [(li.product_name, li.role, li.quantity) for li in opportunity.line_items] == [
        (item.product, item.role, item.quantity_hours) for item in expected.line_items
    ]
    assert all(li.unit_price.currency == expected.currency for li in opportunity.line_items)
    assert sum((li.total.amount for li in opportunity.line_items), 0) == expected.amount


async def test_get_account_maps_billing_details(connector: SalesforceConnector) -> None:
    client = DemoFirm.generate().clients[0]
    row = await first(connector, f"SELECT Id FROM Account WHERE PSFlow_Id__c = '{client.id}'")
    customer = await connector.get_account(row["Id"])
    assert customer.name == client.name and customer.currency == client.currency
    assert customer.payment_terms == client.payment_terms and customer.industry == client.industry
    assert customer.billing_address == Address(
        line1=client.billing_address.line1,
        city=client.billing_address.city,
        region=client.billing_address.region,
        postal_code=client.billing_address.postal_code,
        country=client.billing_address.country,
    )


async def test_an_account_missing_terms_and_address_leaves_them_for_a_person(connector: SalesforceConnector) -> None:
    results = await connector.create_records("Account", [{"Name": "Quanta Semiconductor"}])
    customer = await connector.get_account(str(results[0].id))
    assert customer.billing_address is None and customer.payment_terms is None
    assert customer.currency == "USD" and not customer.billable


@pytest.mark.parametrize(
    ("call", "missing"), [("get_opportunity", "0068d00000zzzzzAAA"), ("get_account", "0018d00000zzzzzAAA")]
)
async def test_unknown_records_are_not_found(connector: SalesforceConnector, call: str, missing: str) -> None:
    with pytest.raises(NotFoundError) as raised:
        await getattr(connector, call)(missing)
    assert raised.value.code == "NOT_FOUND"


async def test_malformed_ids_never_reach_soql(connector: SalesforceConnector) -> None:
    with pytest.raises(BusinessError) as raised:
        await connector.get_opportunity("0068d' OR Name != '")
    assert raised.value.code == "MALFORMED_ID" and connector.api_usage() == (0, 0)


async def test_an_unmappable_opportunity_is_a_business_error(connector: SalesforceConnector) -> None:
    results = await connector.create_records(
        "Opportunity", [{"Name": "Orphan", "StageName": "Closed Won", "CloseDate": "2025-01-31"}]
    )
    with pytest.raises(BusinessError, match="has no AccountId") as raised:
        await connector.get_opportunity(str(results[0].id))
    assert raised.value.code == "UNMAPPABLE_RECORD"


async def test_closed_won_since_pages_through_next_records_url(
    connector: SalesforceConnector, http: httpx.AsyncClient
) -> None:
    await admin_settings(http, query_batch_size=5)
    pages, cursor = [], None
    while True:
        page = await connector.closed_won_page(LONG_AGO, cursor)
        pages.append(page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert [len(items) for items in pages] == [5, 5, 2]
    ids = [i async for i in connector.closed_won_since(LONG_AGO)]
    assert ids == [i for items in pages for i in items] and len(set(ids)) == 12
    assert [i async for i in connector.closed_won_since(datetime.now(UTC) + timedelta(minutes=1))] == []


async def test_winning_a_deal_shows_up_in_the_next_poll(connector: SalesforceConnector) -> None:
    since = datetime.now(UTC) - timedelta(seconds=1)
    assert [i async for i in connector.closed_won_since(since)] == []
    record_id = await opportunity_id(connector, "OPP-0001")
    await connector.set_opportunity_stage(record_id, OpportunityStage.CLOSED_WON)
    await connector.set_opportunity_stage(record_id, OpportunityStage.CLOSED_WON)  # repeating is harmless
    assert [i async for i in connector.closed_won_since(since)] == [record_id]
    assert (await connector.get_opportunity(record_id)).is_won


async def test_query_pages_every_row(connector: SalesforceConnector, http: httpx.AsyncClient) -> None:
    await admin_settings(http, query_batch_size=4)
    names = [row["Name"] async for row in connector.query("SELECT Name FROM Account ORDER BY Name")]
    assert len(names) == 36 and names == sorted(names, key=str.lower)


async def test_upsert_account_creates_then_updates_by_external_id(connector: SalesforceConnector) -> None:
    customer = Customer(id="hubspot:9001", name="Larkspur Software", currency="EUR", payment_terms="Net 30")
    created = await connector.upsert_account(customer)
    updated = await connector.upsert_account(customer.model_copy(update={"industry": "Technology"}))
    assert created == updated
    rows = [r async for r in connector.query("SELECT Id, Industry FROM Account WHERE PSFlow_Id__c = 'hubspot:9001'")]
    assert rows == [{"attributes": rows[0]["attributes"], "Id": created, "Industry": "Technology"}]


async def test_upsert_account_of_a_salesforce_customer_updates_its_own_record(connector: SalesforceConnector) -> None:
    row = await first(connector, "SELECT Id FROM Account WHERE PSFlow_Id__c = 'C-0001'")
    customer = await connector.get_account(row["Id"])
    assert await connector.upsert_account(customer.model_copy(update={"payment_terms": "Net 60"})) == row["Id"]
    assert (await connector.get_account(row["Id"])).payment_terms == "Net 60"


async def test_upsert_account_with_duplicate_external_ids_asks_for_a_merge(connector: SalesforceConnector) -> None:
    twins = [{"Name": "Acme", "PSFlow_Id__c": "netsuite:5"}, {"Name": "Acme Ltd", "PSFlow_Id__c": "netsuite:5"}]
    assert all(r.success for r in await connector.create_records("Account", twins))
    with pytest.raises(BusinessError) as raised:
        await connector.upsert_account(Customer(id="netsuite:5", name="Acme", currency="USD"))
    assert (raised.value.status, raised.value.code) == (300, "DUPLICATE_EXTERNAL_ID")
    assert len(raised.value.details) == 2


async def test_create_records_surfaces_partial_failures_per_record(connector: SalesforceConnector) -> None:
    records = [{"LastName": f"Contact {i}"} for i in range(203)]
    records[1] = {"FirstName": "No last name"}
    records[202] = {"LastName": "Bad account", "AccountId": "0018d0000000zzz"}
    results = await connector.create_records("Contact", records)
    assert len(results) == 203  # two collection calls: 200 + 3
    failed = {i: r.errors[0] for i, r in enumerate(results) if not r.success}
    assert set(failed) == {1, 202}
    assert (failed[1].status_code, failed[1].fields) == ("REQUIRED_FIELD_MISSING", ["LastName"])
    assert failed[202].status_code == "INVALID_CROSS_REFERENCE_KEY"
    assert all(r.id and r.id.startswith("003") for r in results if r.success)


async def test_upsert_records_is_repeatable(connector: SalesforceConnector) -> None:
    records = [{"PSFlow_Id__c": f"kantata:{i}", "Name": f"Product {i}"} for i in range(3)] + [{"Name": "no key"}]
    first = await connector.upsert_records("Product2", "PSFlow_Id__c", records)
    again = await connector.upsert_records("Product2", "PSFlow_Id__c", records)
    assert [r.created for r in first[:3]] == [True] * 3 and [r.created for r in again[:3]] == [False] * 3
    assert [r.id for r in first[:3]] == [r.id for r in again[:3]]
    assert not first[3].success and first[3].errors[0].status_code == "REQUIRED_FIELD_MISSING"


async def test_api_usage_tracks_the_limit_header(connector: SalesforceConnector) -> None:
    assert connector.api_usage() == (0, 0)
    await connector.get_opportunity(await opportunity_id(connector, "OPP-0002"))
    assert connector.api_usage() == (2, 15000)


async def test_a_spent_allocation_is_rate_limited(connector: SalesforceConnector, http: httpx.AsyncClient) -> None:
    await admin_settings(http, api_daily_limit=10, api_used=10)
    with pytest.raises(RateLimitedError) as raised:
        await connector.get_account("0018d0000000001AAA")
    error = raised.value
    assert (error.status, error.code, error.outcome, error.retry_after) == (
        403,
        "REQUEST_LIMIT_EXCEEDED",
        Outcome.RATE_LIMITED,
        None,
    )
    assert error.retryable and connector.api_usage() == (10, 10)


async def test_the_refresh_token_grant_signs_in(app: FastAPI) -> None:
    config = settings(grant_type="refresh_token", refresh_token="psflow-demo-refresh-token")
    async with SalesforceConnector(config, transport=httpx.ASGITransport(app=app)) as salesforce:
        assert (await salesforce.get_account("0018d0000000001AAA")).name


async def test_the_jwt_bearer_grant_signs_in(app: FastAPI, http: httpx.AsyncClient) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    await http.put("/_admin/salesforce/jwt-keys/cert-app", json={"public_key_pem": public_pem})
    config = settings(
        grant_type="jwt_bearer",
        client_id="cert-app",
        username="integration@brightline.example",
        private_key=private_pem,
    )
    async with SalesforceConnector(config, transport=httpx.ASGITransport(app=app)) as salesforce:
        assert (await salesforce.get_account("0018d0000000001AAA")).name


async def test_wrong_credentials_are_an_auth_error(app: FastAPI) -> None:
    async with SalesforceConnector(
        settings(client_secret="wrong"), transport=httpx.ASGITransport(app=app)
    ) as salesforce:
        with pytest.raises(AuthError, match="invalid client credentials") as raised:
            await salesforce.get_account("0018d0000000001AAA")
    assert raised.value.code == "invalid_client"


def test_settings_insist_on_the_grants_credentials() -> None:
    with pytest.raises(ValueError, match="PSFLOW_SALESFORCE_REFRESH_TOKEN"):
        SalesforceSettings(grant_type="refresh_token", refresh_token=None)
    with pytest.raises(ValueError, match="PSFLOW_SALESFORCE_PRIVATE_KEY"):
        SalesforceSettings(grant_type="jwt_bearer", username="someone")


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PSFLOW_SALESFORCE_BASE_URL", "https://brightline.my.salesforce.com")
    monkeypatch.setenv("PSFLOW_SALESFORCE_STAGE_MAP", '{"Signed": "closed_won"}')
    loaded = SalesforceSettings()
    assert loaded.resolved_token_url == "https://brightline.my.salesforce.com/services/oauth2/token"
    assert loaded.stage_map == {"Signed": OpportunityStage.CLOSED_WON}


async def test_over_a_real_socket(app: FastAPI) -> None:
    with serving(app) as base_url:
        async with SalesforceConnector(settings(f"{base_url}/salesforce")) as salesforce:
            ids = [i async for i in salesforce.closed_won_since(LONG_AGO)]
            opportunity = await salesforce.get_opportunity(ids[0])
            customer = await salesforce.get_account(opportunity.account_id)
            assert opportunity.is_won and customer.id == opportunity.account_id
            assert (await salesforce.auth.instance_url()) == f"{base_url}/salesforce"
