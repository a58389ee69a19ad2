"""The account's rolling window: headers on every response, and the connector's budget staying under it."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from connectors._core import RateBudget, RateLimitedError
from connectors.hubspot import HubSpotConnector
from tests.hubspot.conftest import SIX_ITEM_COMPANY, auth_headers, set_limits, settings

CALLS = 150


async def test_every_response_carries_the_rate_limit_headers(admin: httpx.AsyncClient) -> None:
    ok = await admin.get(f"/hubspot/crm/v3/objects/companies/{SIX_ITEM_COMPANY}", headers=auth_headers())
    missing = await admin.get("/hubspot/crm/v3/objects/companies/1", headers=auth_headers())
    for response in (ok, missing):
        assert response.headers["X-HubSpot-RateLimit-Max"] == "100"
        assert response.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
        assert response.headers["X-HubSpot-RateLimit-Daily"] == "250000"
    assert int(ok.headers["X-HubSpot-RateLimit-Remaining"]) == 99
    assert int(missing.headers["X-HubSpot-RateLimit-Remaining"]) == 98
    assert int(missing.headers["X-HubSpot-RateLimit-Daily-Remaining"]) == 249_998


async def test_oauth_traffic_gets_no_daily_headers(admin: httpx.AsyncClient) -> None:
    token = (await admin.post("/_admin/hubspot/tokens", json={})).json()["access_token"]
    response = await admin.get(f"/hubspot/crm/v3/objects/companies/{SIX_ITEM_COMPANY}", headers=auth_headers(token))
    assert response.status_code == 200
    assert "X-HubSpot-RateLimit-Max" in response.headers
    assert "X-HubSpot-RateLimit-Daily" not in response.headers


async def test_window_exhaustion_answers_429_with_the_documented_body(admin: httpx.AsyncClient) -> None:
    await set_limits(admin, ten_second_max=2)
    url = f"/hubspot/crm/v3/objects/companies/{SIX_ITEM_COMPANY}"
    statuses = [(await admin.get(url, headers=auth_headers())).status_code for _ in range(2)]
    throttled = await admin.get(url, headers=auth_headers())
    assert statuses == [200, 200] and throttled.status_code == 429
    assert throttled.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert "Retry-After" not in throttled.headers
    body = throttled.json()
    assert (body["status"], body["category"], body["policyName"], body["errorType"]) == (
        "error",
        "RATE_LIMITS",
        "TEN_SECONDLY_ROLLING",
        "RATE_LIMIT",
    )
    assert body["correlationId"]


async def hammer(connector: HubSpotConnector) -> list[BaseException | object]:
    return await asyncio.gather(
        *(connector.get_company(SIX_ITEM_COMPANY) for _ in range(CALLS)), return_exceptions=True
    )


async def test_the_budget_keeps_150_concurrent_calls_under_the_window(
    transport: httpx.ASGITransport, admin: httpx.AsyncClient
) -> None:
    await set_limits(admin, ten_second_max=100, interval_ms=1000)
    # The client keeps headroom under the account's limit, as a deployment should. The window is 1 s, not
    # shorter: with 0.4 s, ~100 ms of event-loop jitter on a loaded 2-core machine could bunch a window's
    # arrivals past the limit (it did, once in seven full runs).
    shaped = settings(rate_limit_max=75, rate_limit_interval_s=1.0, retry_attempts=1)
    async with HubSpotConnector(shaped, transport=transport) as hubspot:
        started = time.monotonic()
        results = await hammer(hubspot)
        elapsed = time.monotonic() - started
        assert hubspot.budget is not None and hubspot.budget.total_requests == CALLS
    assert [r for r in results if isinstance(r, BaseException)] == []
    # 150 calls at 75 per (1 s + slack) need two windows: the second cannot start before the first ends.
    assert elapsed >= 1.0


async def test_without_the_budget_the_same_burst_is_throttled(
    transport: httpx.ASGITransport, admin: httpx.AsyncClient
) -> None:
    await set_limits(admin, ten_second_max=40, interval_ms=400)
    unshaped = settings(rate_limit_max=100_000, rate_limit_interval_s=0.4, retry_attempts=1)
    async with HubSpotConnector(unshaped, transport=transport) as hubspot:
        results = await hammer(hubspot)
    throttled = [r for r in results if isinstance(r, RateLimitedError)]
    assert throttled and all(r.retry_after == pytest.approx(0.4) for r in throttled)


def test_the_budget_is_shared_per_process() -> None:
    first = HubSpotConnector(settings())
    second = HubSpotConnector(settings())
    assert first.budget is second.budget is RateBudget.shared("hubspot")
    assert first.budget is not None and first.budget.limits["window"] == (100, pytest.approx(10.1))
