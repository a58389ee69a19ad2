"""Each injected fault, and how the connector classifies it (in process; timeouts and drops: test_socket)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from connectors._core import AuthError, RateLimitedError, TransientError
from connectors.workday import WorkdayConnector
from tests.workday.conftest import FAULTS, ConnectorFactory, Recorder


async def _fault(admin: httpx.AsyncClient, **config: Any) -> None:
    response = await admin.put(FAULTS, json={"seed": 7, **config})
    assert response.status_code == 200, response.text


def _statuses(transport: Recorder, path_end: str = "/workers") -> list[int]:
    return [call[3] for call in transport.to(path_end)]


async def test_latency_slows_but_succeeds(connector: WorkdayConnector, admin: httpx.AsyncClient) -> None:
    await connector.workers_page(0, 1)
    await _fault(admin, latency_ms=150, path_regex="/workers$")
    started = time.perf_counter()
    assert len((await connector.workers_page(0, 1)).items) == 1
    assert time.perf_counter() - started >= 0.15


async def test_a_short_429_is_retried_in_process(
    connector: WorkdayConnector, admin: httpx.AsyncClient, transport: Recorder
) -> None:
    await _fault(admin, rate_limit=1.0, retry_after_s=0, path_regex="/workers$", times=1)
    assert len((await connector.workers_page(0, 1)).items) == 1
    assert _statuses(transport) == [429, 200]


async def test_a_long_429_is_rate_limited_with_its_delay(
    connector: WorkdayConnector, admin: httpx.AsyncClient, transport: Recorder
) -> None:
    await _fault(admin, rate_limit=1.0, retry_after_s=30, path_regex="/workers$")
    with pytest.raises(RateLimitedError) as caught:
        await connector.workers_page(0, 1)
    assert (caught.value.status, caught.value.retry_after, caught.value.code) == (429, 30, "rate_limited")
    assert _statuses(transport) == [429]  # longer than the in-process budget: handed to the caller


async def test_503_is_transient_with_its_delay(
    make_connector: ConnectorFactory, admin: httpx.AsyncClient, transport: Recorder
) -> None:
    await _fault(admin, unavailable=1.0, retry_after_s=0, path_regex="/workers$")
    with pytest.raises(TransientError) as caught:
        await make_connector(retry_attempts=2).workers_page(0, 1)
    assert (caught.value.status, caught.value.retry_after, caught.value.code) == (503, 0, "unavailable")
    assert caught.value.retryable
    assert _statuses(transport) == [503, 503]


async def test_a_500_to_a_read_is_retried_in_process_then_transient(
    connector: WorkdayConnector, admin: httpx.AsyncClient, transport: Recorder
) -> None:
    await _fault(admin, server_error=1.0, path_regex="/workers$")
    with pytest.raises(TransientError) as caught:
        await connector.workers_page(0, 1)
    assert (caught.value.status, caught.value.code) == (500, "server_error")
    assert "sandbox fault" in caught.value.message
    assert _statuses(transport) == [500, 500, 500]  # the connector's three attempts


async def test_token_expiry_fault_is_refreshed_and_replayed(
    make_connector: ConnectorFactory, admin: httpx.AsyncClient, transport: Recorder
) -> None:
    connector = make_connector(staffing_report="")
    await connector.workers_page(0, 1)
    await _fault(admin, token_expiry=True)
    assert len((await connector.workers_page(0, 1)).items) == 1
    assert _statuses(transport) == [200, 401, 200]
    assert connector.auth.fetch_count == 2


async def test_a_failing_token_endpoint_is_transient_not_an_auth_error(
    connector: WorkdayConnector, admin: httpx.AsyncClient
) -> None:
    await _fault(admin, unavailable=1.0, path_regex="/oauth2/")
    with pytest.raises(TransientError) as caught:
        await connector.workers_page(0, 1)
    assert not isinstance(caught.value, AuthError) and caught.value.status == 503


async def test_a_token_issued_then_lost_costs_nothing(
    connector: WorkdayConnector, admin: httpx.AsyncClient, transport: Recorder
) -> None:
    await _fault(admin, commit_then_fail=1.0, path_regex="/oauth2/", times=1)
    with pytest.raises(TransientError):
        await connector.workers_page(0, 1)
    assert len((await connector.workers_page(0, 1)).items) == 1
    assert _statuses(transport, "/token") == [500, 200]


async def test_a_page_lost_after_reading_is_read_again_from_its_cursor(
    make_connector: ConnectorFactory, admin: httpx.AsyncClient
) -> None:
    connector = make_connector(retry_attempts=1)
    first = await connector.workers_page(0, 25)
    await _fault(admin, commit_then_fail=1.0, methods=["GET"], path_regex="/workers$", times=1)
    with pytest.raises(TransientError):
        await connector.workers_page(int(first.next_cursor or 0), 25)
    second = await connector.workers_page(int(first.next_cursor or 0), 25)
    ids = [c.id for c in first.items + second.items]
    assert len(ids) == len(set(ids)) == 50 and second.next_cursor is None
