"""The refresh-token grant: token reuse, expiry → refresh once and replay, refused credentials."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from connectors._core import AuthError, NotFoundError
from connectors.workday import DEMO_REFRESH_TOKEN, WorkdayConnector
from tests.workday.conftest import ADMIN, ConnectorFactory, Recorder


def _statuses(calls: list[tuple[str, str, str, int]]) -> list[tuple[str, int]]:
    return [(path.rsplit("/", 1)[-1], status) for _, path, _, status in calls]


async def test_one_token_serves_many_requests(connector: WorkdayConnector, transport: Recorder) -> None:
    await connector.workers_page(0, 5)
    await connector.workers_page(5, 5)
    assert len(transport.token_requests) == 1
    assert connector.auth.fetch_count == 1


@pytest.mark.parametrize("client_auth", ["basic", "body"])
async def test_client_credentials_in_either_place(make_connector: ConnectorFactory, client_auth: str) -> None:
    page = await make_connector(client_auth=client_auth).workers_page(0, 1)
    assert len(page.items) == 1


async def test_an_expired_token_is_refreshed_once_and_the_request_replayed(
    make_connector: ConnectorFactory, admin: httpx.AsyncClient, transport: Recorder
) -> None:
    connector = make_connector(staffing_report="")
    await connector.workers_page(0, 1)
    await admin.post(f"{ADMIN}/expire-access-tokens")
    transport.calls.clear()
    page = await connector.workers_page(0, 1)
    assert len(page.items) == 1
    assert _statuses(transport.calls) == [("workers", 401), ("token", 200), ("workers", 200)]
    assert connector.auth.fetch_count == 2


async def test_a_short_lived_token_is_replaced_before_it_expires(
    make_connector: ConnectorFactory, admin: httpx.AsyncClient, transport: Recorder
) -> None:
    assert (await admin.put(f"{ADMIN}/token-ttl", json={"seconds": 1})).json() == {"seconds": 1}
    connector = make_connector(token_refresh_margin_s=0.5, staffing_report="")
    await connector.workers_page(0, 1)
    await asyncio.sleep(0.6)
    await connector.workers_page(0, 1)
    assert _statuses(transport.calls) == [("token", 200), ("workers", 200), ("token", 200), ("workers", 200)]


async def test_a_revoked_refresh_token_fails_once_with_advice(
    make_connector: ConnectorFactory, admin: httpx.AsyncClient, transport: Recorder
) -> None:
    connector = make_connector(staffing_report="")
    await connector.workers_page(0, 1)
    assert (await admin.delete(f"{ADMIN}/refresh-tokens/{DEMO_REFRESH_TOKEN}")).status_code == 204
    await admin.post(f"{ADMIN}/expire-access-tokens")
    transport.calls.clear()
    with pytest.raises(AuthError) as caught:
        await connector.workers_page(0, 1)
    error = caught.value
    assert (error.status, error.code) == (400, "invalid_grant")
    assert "revoked" in error.message and "PSFLOW_WORKDAY_REFRESH_TOKEN" in error.message
    assert DEMO_REFRESH_TOKEN not in str(error)
    assert _statuses(transport.calls) == [("workers", 401), ("token", 400)]  # no loop
    with pytest.raises(AuthError):  # and again on the next call: one token attempt per request
        await connector.workers_page(0, 1)
    assert len(transport.token_requests) == 2


async def test_a_fresh_connector_with_a_revoked_token_never_reaches_the_api(
    make_connector: ConnectorFactory, admin: httpx.AsyncClient, transport: Recorder
) -> None:
    await admin.delete(f"{ADMIN}/refresh-tokens/{DEMO_REFRESH_TOKEN}")
    with pytest.raises(AuthError, match="invalid_grant"):
        await make_connector().workers_page(0, 1)
    assert _statuses(transport.calls) == [("token", 400)]


async def test_a_new_refresh_token_replaces_the_revoked_ones(
    make_connector: ConnectorFactory, admin: httpx.AsyncClient
) -> None:
    issued = (await admin.post(f"{ADMIN}/refresh-tokens", json={"revoke_existing": True})).json()
    assert issued["revoked"] == 1
    with pytest.raises(AuthError):
        await make_connector().workers_page(0, 1)
    assert len((await make_connector(refresh_token=issued["refresh_token"]).workers_page(0, 1)).items) == 1


async def test_a_wrong_client_secret_is_refused_with_advice(make_connector: ConnectorFactory) -> None:
    with pytest.raises(AuthError) as caught:
        await make_connector(client_secret="s3cr3t-guess").workers_page(0, 1)
    assert (caught.value.status, caught.value.code) == (401, "invalid_client")
    assert "PSFLOW_WORKDAY_CLIENT_SECRET" in caught.value.message
    assert "s3cr3t-guess" not in str(caught.value)


async def test_an_unknown_tenant_is_refused_by_name(make_connector: ConnectorFactory) -> None:
    with pytest.raises(AuthError, match="Tenant 'acme' does not exist"):
        await make_connector(tenant="acme").workers_page(0, 1)


async def test_an_api_call_to_an_unknown_tenant_is_not_found(
    make_connector: ConnectorFactory, transport: Recorder
) -> None:
    connector = make_connector(token_url="http://127.0.0.1:8700/workday/ccx/oauth2/psflow_demo/token", tenant="acme")
    with pytest.raises(NotFoundError, match="Tenant 'acme' does not exist"):
        await connector.workers_page(0, 1)
