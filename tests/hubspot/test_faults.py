"""Every sandbox fault kind, and how the HubSpot connector classifies or absorbs it (in-process)."""

from __future__ import annotations

import time

import httpx
import pytest

from canonical import Customer, OpportunityStage
from connectors._core import OAuth2TokenAuth, RateLimitedError, TransientError
from connectors.hubspot import HubSpotConnector
from tests.hubspot.conftest import (
    REFRESH_TOKEN,
    SIX_ITEM_CLIENT_NAME,
    SIX_ITEM_COMPANY,
    SIX_ITEM_DEAL,
    auth_headers,
    set_faults,
    settings,
)


async def test_latency_is_only_slower(transport: httpx.ASGITransport, admin: httpx.AsyncClient) -> None:
    await set_faults(admin, latency_ms=150)
    async with HubSpotConnector(settings(), transport=transport) as hubspot:
        started = time.monotonic()
        customer = await hubspot.get_company(SIX_ITEM_COMPANY)
    assert customer.name == SIX_ITEM_CLIENT_NAME and time.monotonic() - started >= 0.15


async def test_injected_429_is_rate_limited_with_retry_after(
    transport: httpx.ASGITransport, admin: httpx.AsyncClient
) -> None:
    await set_faults(admin, rate_limit=1.0, retry_after_s=3)
    async with HubSpotConnector(settings(retry_attempts=1), transport=transport) as hubspot:
        with pytest.raises(RateLimitedError) as raised:
            await hubspot.get_company(SIX_ITEM_COMPANY)
    assert (raised.value.status, raised.value.code, raised.value.retry_after) == (429, "RATE_LIMITS", 3.0)
    assert raised.value.details["policyName"] == "TEN_SECONDLY_ROLLING"


async def test_one_short_429_is_absorbed_in_process(transport: httpx.ASGITransport, admin: httpx.AsyncClient) -> None:
    await set_faults(admin, rate_limit=1.0, retry_after_s=0, times=1)
    async with HubSpotConnector(settings(), transport=transport) as hubspot:
        assert (await hubspot.get_company(SIX_ITEM_COMPANY)).name == SIX_ITEM_CLIENT_NAME


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ({"unavailable": 1.0}, 503, "SERVICE_UNAVAILABLE"),
        ({"server_error": 1.0}, 500, "INTERNAL_ERROR"),
        ({"timeout": 1.0, "timeout_s": 0.1}, 504, "GATEWAY_TIMEOUT"),
    ],
    ids=["503", "500", "timeout-504"],
)
async def test_server_failures_are_transient(
    transport: httpx.ASGITransport, admin: httpx.AsyncClient, fault: dict[str, float], status: int, code: str
) -> None:
    await set_faults(admin, **fault)
    async with HubSpotConnector(settings(retry_attempts=1), transport=transport) as hubspot:
        with pytest.raises(TransientError) as raised:
            await hubspot.get_deal(SIX_ITEM_DEAL)
    assert (raised.value.status, raised.value.code) == (status, code)
    assert raised.value.retryable


async def test_one_server_failure_is_retried_in_process(
    transport: httpx.ASGITransport, admin: httpx.AsyncClient
) -> None:
    await set_faults(admin, unavailable=1.0, retry_after_s=0, times=1)
    async with HubSpotConnector(settings(), transport=transport) as hubspot:
        assert (await hubspot.get_deal(SIX_ITEM_DEAL)).id == f"hubspot:{SIX_ITEM_DEAL}"


async def test_token_expiry_is_refreshed_once(transport: httpx.ASGITransport, admin: httpx.AsyncClient) -> None:
    async with HubSpotConnector(settings(refresh_token=REFRESH_TOKEN), transport=transport) as hubspot:
        await hubspot.get_company(SIX_ITEM_COMPANY)
        assert isinstance(hubspot.auth, OAuth2TokenAuth) and hubspot.auth.fetch_count == 1
        await set_faults(admin, token_expiry=True)
        assert (await hubspot.get_company(SIX_ITEM_COMPANY)).name == SIX_ITEM_CLIENT_NAME
        assert hubspot.auth.fetch_count == 2


async def companies_with(admin: httpx.AsyncClient, psflow_id: str) -> int:
    body = {"filterGroups": [{"filters": [{"propertyName": "psflow_id", "operator": "EQ", "value": psflow_id}]}]}
    response = await admin.post("/hubspot/crm/v3/objects/companies/search", json=body, headers=auth_headers())
    return int(response.json()["total"])


async def test_commit_then_fail_upsert_is_retried_without_a_duplicate(
    transport: httpx.ASGITransport, admin: httpx.AsyncClient
) -> None:
    await set_faults(admin, commit_then_fail=1.0, times=1, path_regex="batch/upsert")
    customer = Customer(id="netsuite:501", name="Ember Renewables", currency="EUR")
    async with HubSpotConnector(settings(), transport=transport) as hubspot:
        with pytest.raises(TransientError) as raised:
            await hubspot.upsert_companies([customer])
        assert raised.value.status == 500
        assert await companies_with(admin, "netsuite:501") == 1
        # The activity's retry sends the same upsert: it finds the company the lost answer created.
        (company_id,) = await hubspot.upsert_companies([customer])
        assert await hubspot.upsert_companies([customer]) == [company_id]
    assert await companies_with(admin, "netsuite:501") == 1


async def test_commit_then_fail_stage_change_is_safe_to_repeat(
    transport: httpx.ASGITransport, admin: httpx.AsyncClient
) -> None:
    await set_faults(admin, commit_then_fail=1.0, times=1, methods=["PATCH"])
    async with HubSpotConnector(settings(), transport=transport) as hubspot:
        with pytest.raises(TransientError):
            await hubspot.set_deal_stage(SIX_ITEM_DEAL, OpportunityStage.CLOSED_WON)
        await hubspot.set_deal_stage(SIX_ITEM_DEAL, OpportunityStage.CLOSED_WON)
        assert (await hubspot.get_deal(SIX_ITEM_DEAL)).is_won
