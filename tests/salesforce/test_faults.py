"""Every injected fault, and how the connector classifies (or quietly absorbs) it."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from canonical import Customer
from connectors._core import RateLimitedError, TransientError
from connectors.salesforce import SalesforceConnector
from sandbox.testing import serving
from tests.salesforce.conftest import set_faults, settings

ACCOUNT = "0018d0000000001AAA"
DATA = "/services/data/"


async def counters(http: httpx.AsyncClient) -> dict[str, int]:
    body: dict[str, Any] = (await http.get("/_admin/faults")).json()
    result: dict[str, int] = body["counters"]["salesforce"]
    return result


async def accounts_with(connector: SalesforceConnector, external_id: str) -> int:
    return len([r async for r in connector.query(f"SELECT Id FROM Account WHERE PSFlow_Id__c = '{external_id}'")])


async def test_latency_only_slows_calls_down(connector: SalesforceConnector, http: httpx.AsyncClient) -> None:
    await set_faults(http, latency_ms=80)
    started = time.perf_counter()
    assert (await connector.get_account(ACCOUNT)).name
    assert time.perf_counter() - started >= 0.16  # the token request and the read
    assert (await counters(http))["latency"] == 2


async def test_a_short_429_is_retried_in_process(connector: SalesforceConnector, http: httpx.AsyncClient) -> None:
    await set_faults(http, rate_limit=1, times=1, retry_after_s=0, path_regex=DATA)
    assert (await connector.get_account(ACCOUNT)).name
    assert (await counters(http))["rate_limit"] == 1


async def test_a_long_429_is_rate_limited_with_its_delay(
    connector: SalesforceConnector, http: httpx.AsyncClient
) -> None:
    await set_faults(http, rate_limit=1, retry_after_s=30, path_regex=DATA)
    with pytest.raises(RateLimitedError) as raised:
        await connector.get_account(ACCOUNT)
    assert (raised.value.status, raised.value.retry_after) == (429, 30)
    assert (await counters(http))["rate_limit"] == 1  # too long to wait in-process: handed back at once


async def test_a_lasting_503_is_transient(connector: SalesforceConnector, http: httpx.AsyncClient) -> None:
    await set_faults(http, unavailable=1, retry_after_s=0, path_regex=DATA)
    with pytest.raises(TransientError) as raised:
        await connector.get_account(ACCOUNT)
    assert (raised.value.status, raised.value.code) == (503, "SERVER_UNAVAILABLE")
    assert (await counters(http))["unavailable"] == 3  # the connector's three attempts


async def test_a_500_to_a_read_is_retried_in_process_then_transient(
    connector: SalesforceConnector, http: httpx.AsyncClient, app: FastAPI
) -> None:
    await set_faults(http, server_error=1, times=1, path_regex=DATA)
    assert (await connector.get_account(ACCOUNT)).name
    await set_faults(http, server_error=1, path_regex=DATA)
    async with SalesforceConnector(settings(retry_attempts=1), transport=httpx.ASGITransport(app=app)) as once:
        with pytest.raises(TransientError) as raised:
            await once.get_account(ACCOUNT)
    assert (raised.value.status, raised.value.code) == (500, "UNKNOWN_EXCEPTION")


async def test_a_gateway_timeout_is_retried(connector: SalesforceConnector, http: httpx.AsyncClient) -> None:
    await set_faults(http, timeout=1, timeout_s=0.05, times=1, path_regex=DATA)
    assert (await connector.get_account(ACCOUNT)).name
    assert (await counters(http))["timeout"] == 1


async def test_an_expired_session_is_refreshed_transparently(
    connector: SalesforceConnector, http: httpx.AsyncClient
) -> None:
    await connector.get_account(ACCOUNT)
    await set_faults(http, token_expiry=True)
    assert (await connector.get_account(ACCOUNT)).name
    assert connector.auth.fetch_count == 2


async def test_commit_then_500_then_retry_does_not_duplicate(
    connector: SalesforceConnector, http: httpx.AsyncClient
) -> None:
    customer = Customer(id="netsuite:314", name="Seabright Cruises", currency="USD")
    await set_faults(http, commit_then_fail=1, times=1, methods=["PATCH"])
    with pytest.raises(TransientError):
        await connector.upsert_account(customer)
    assert await accounts_with(connector, "netsuite:314") == 1  # committed before the answer was lost
    first_id = await connector.upsert_account(customer)  # the activity's retry
    assert await accounts_with(connector, "netsuite:314") == 1
    assert (await connector.get_account(first_id)).name == "Seabright Cruises"


async def test_a_create_that_lost_its_answer_is_not_resent(
    connector: SalesforceConnector, http: httpx.AsyncClient
) -> None:
    await set_faults(http, commit_then_fail=1, times=1, methods=["POST"], path_regex=DATA)
    with pytest.raises(TransientError):
        await connector.create_records("Account", [{"Name": "Once Only Ltd"}])
    rows = [r async for r in connector.query("SELECT Id FROM Account WHERE Name = 'Once Only Ltd'")]
    assert len(rows) == 1


async def test_over_a_socket_a_dropped_upsert_is_replayed_safely(app: FastAPI, http: httpx.AsyncClient) -> None:
    customer = Customer(id="netsuite:2718", name="Oakhurst Water", currency="GBP")
    await set_faults(http, commit_then_fail=1, commit_then_fail_mode="drop", times=1, methods=["PATCH"])
    with serving(app) as base_url:
        async with SalesforceConnector(settings(f"{base_url}/salesforce")) as salesforce:
            account_id = await salesforce.upsert_account(customer)
            assert await accounts_with(salesforce, "netsuite:2718") == 1
            assert (await salesforce.get_account(account_id)).name == "Oakhurst Water"
    assert (await counters(http))["commit_then_fail"] == 1


async def test_over_a_socket_a_read_timeout_is_retried_then_classified(app: FastAPI, http: httpx.AsyncClient) -> None:
    with serving(app) as base_url:
        async with SalesforceConnector(settings(f"{base_url}/salesforce", timeout_s=0.3)) as salesforce:
            await salesforce.get_account(ACCOUNT)
            await set_faults(http, timeout=1, timeout_s=2, times=1, path_regex=DATA)
            assert (await salesforce.get_account(ACCOUNT)).name
            await set_faults(http, timeout=1, timeout_s=2, times=3, path_regex=DATA)
            with pytest.raises(TransientError) as raised:
                await salesforce.get_account(ACCOUNT)
    assert raised.value.code == "timeout"
