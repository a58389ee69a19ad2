"""Each documented HubSpot error shape and limit, as the emulator sends it and the connector classifies it."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from connectors._core import AuthError, BusinessError, NotFoundError, Outcome, RateLimitedError
from connectors.hubspot import HubSpotConnector
from tests.hubspot.conftest import OTHER_COMPANY, SIX_ITEM_COMPANY, SIX_ITEM_DEAL, set_limits, settings


async def test_validation_error_unknown_property(hubspot: HubSpotConnector) -> None:
    with pytest.raises(BusinessError) as raised:
        await hubspot.api.update("deals", SIX_ITEM_DEAL, {"colour": "red"})
    error = raised.value
    assert (error.status, error.code, error.outcome) == (400, "VALIDATION_ERROR", Outcome.BUSINESS)
    assert 'Property "colour" does not exist' in error.message
    assert error.details["errors"][0]["code"] == "PROPERTY_DOESNT_EXIST"


async def test_validation_error_invalid_option(hubspot: HubSpotConnector) -> None:
    with pytest.raises(BusinessError) as raised:
        await hubspot.api.update("deals", SIX_ITEM_DEAL, {"dealstage": "won"})
    assert raised.value.code == "VALIDATION_ERROR" and "INVALID_OPTION" in raised.value.message


async def test_object_not_found(hubspot: HubSpotConnector) -> None:
    with pytest.raises(NotFoundError) as raised:
        await hubspot.get_company("42")
    assert (raised.value.status, raised.value.code) == (404, "OBJECT_NOT_FOUND")
    assert raised.value.details["context"] == {"id": ["42"]}


async def test_invalid_authentication(transport: httpx.ASGITransport) -> None:
    async with HubSpotConnector(settings(private_app_token="pat-na1-not-a-real-token"), transport=transport) as bad:
        with pytest.raises(AuthError) as raised:
            await bad.get_deal(SIX_ITEM_DEAL)
    assert (raised.value.status, raised.value.code) == (401, "INVALID_AUTHENTICATION")


async def test_missing_scopes(transport: httpx.ASGITransport, admin: httpx.AsyncClient) -> None:
    issued = await admin.post("/_admin/hubspot/tokens", json={"scopes": ["crm.objects.deals.read"]})
    token = issued.json()["access_token"]
    async with HubSpotConnector(settings(private_app_token=token), transport=transport) as narrow:
        assert [deal async for deal in narrow.closed_won_since(datetime(2020, 1, 1, tzinfo=UTC))]
        with pytest.raises(AuthError) as raised:
            await narrow.get_company(SIX_ITEM_COMPANY)
    error = raised.value
    assert (error.status, error.code) == (403, "MISSING_SCOPES")
    assert error.details["errors"][0]["context"] == {"requiredGranularScopes": ["crm.objects.companies.read"]}


async def test_conflict_on_a_unique_value(hubspot: HubSpotConnector) -> None:
    await hubspot.api.update("companies", SIX_ITEM_COMPANY, {"psflow_id": "netsuite:9"})
    with pytest.raises(BusinessError) as raised:
        await hubspot.api.update("companies", OTHER_COMPANY, {"psflow_id": "netsuite:9"})
    assert (raised.value.status, raised.value.code) == (409, "CONFLICT")
    assert f"Existing ID: {SIX_ITEM_COMPANY}" in raised.value.message


async def test_ten_second_window_exhaustion_is_rate_limited_with_the_window_as_delay(
    transport: httpx.ASGITransport, admin: httpx.AsyncClient
) -> None:
    await set_limits(admin, ten_second_max=3, interval_ms=1500)
    async with HubSpotConnector(settings(retry_attempts=1), transport=transport) as hubspot:
        for _ in range(3):
            await hubspot.get_company(SIX_ITEM_COMPANY)
        with pytest.raises(RateLimitedError) as raised:
            await hubspot.get_company(SIX_ITEM_COMPANY)
        assert hubspot.budget is not None
    error = raised.value
    assert (error.status, error.code, error.retry_after) == (429, "RATE_LIMITS", 1.5)
    assert error.details["policyName"] == "TEN_SECONDLY_ROLLING"
    assert error.details["errorType"] == "RATE_LIMIT"
    assert "ten_secondly_rolling limit" in error.message


async def test_daily_limit_is_rate_limited(transport: httpx.ASGITransport, admin: httpx.AsyncClient) -> None:
    await set_limits(admin, daily_max=2)
    async with HubSpotConnector(settings(retry_attempts=1), transport=transport) as hubspot:
        await hubspot.get_company(SIX_ITEM_COMPANY)
        await hubspot.get_company(SIX_ITEM_COMPANY)
        with pytest.raises(RateLimitedError) as raised:
            await hubspot.get_company(SIX_ITEM_COMPANY)
    assert raised.value.details["policyName"] == "DAILY"
    assert raised.value.retry_after is not None and 0 < raised.value.retry_after <= 86_400


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"limit": 201}, "limit must be between 1 and 200"),
        ({"limit": 10, "after": "10000"}, "limited to 10000 per query"),
        (
            {"filterGroups": [{"filters": [{"propertyName": "amount", "operator": "GT", "value": "lots"}]}]},
            "not a number",
        ),
        ({"filterGroups": [{"filters": [{"propertyName": "amount", "operator": "ABOUT", "value": "1"}]}]}, "operator"),
    ],
    ids=["page-over-200", "past-10k-cap", "wrong-value-type", "unknown-operator"],
)
async def test_bad_search_is_a_validation_error(
    hubspot: HubSpotConnector, body: dict[str, object], fragment: str
) -> None:
    with pytest.raises(BusinessError) as raised:
        await hubspot.api.search_page("deals", body)
    assert (raised.value.status, raised.value.code) == (400, "VALIDATION_ERROR")
    assert fragment in raised.value.message


async def test_batch_over_one_hundred_inputs_is_refused(hubspot: HubSpotConnector) -> None:
    with pytest.raises(BusinessError, match="send at most 100"):
        await hubspot.api.batch("companies", "read", {"inputs": [{"id": str(n)} for n in range(101)]})
