"""One test per injected fault: the connector classifies it, retries what is cheap, never duplicates."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from connectors._core import OAuth2TokenAuth, RateLimitedError, TransientError
from connectors.netsuite import NetSuiteConnector
from tests.netsuite.conftest import count, settings, time_entry
from tests.netsuite.test_connector import RATE


async def _faults(admin: httpx.AsyncClient, **config: Any) -> None:
    (await admin.put("/_admin/faults/netsuite", json={"seed": 1, **config})).raise_for_status()


async def _injected(admin: httpx.AsyncClient, kind: str) -> int:
    return int((await admin.get("/_admin/faults")).json()["counters"]["netsuite"][kind])


async def test_latency_slows_but_succeeds(netsuite: NetSuiteConnector, admin: httpx.AsyncClient) -> None:
    await _faults(admin, latency_ms=60)
    started = time.perf_counter()
    assert await netsuite.find_employee("E-1001") is not None
    assert time.perf_counter() - started >= 0.06
    assert await _injected(admin, "latency") == 1


async def test_a_429_is_retried_in_process_then_surfaces_as_rate_limited(
    transport: httpx.ASGITransport, admin: httpx.AsyncClient
) -> None:
    await _faults(admin, rate_limit=1, retry_after_s=0, times=1)
    async with NetSuiteConnector(settings(), transport=transport) as netsuite:
        assert await netsuite.find_employee("E-1001") is not None
    await _faults(admin, rate_limit=1, retry_after_s=30)
    async with NetSuiteConnector(settings(retry_attempts=1), transport=transport) as netsuite:
        with pytest.raises(RateLimitedError) as throttled:
            await netsuite.find_employee("E-1001")
    assert (throttled.value.status, throttled.value.code, throttled.value.retry_after) == (
        429,
        "CONCURRENCY_LIMIT_EXCEEDED",
        30,
    )


@pytest.mark.parametrize(("fault", "status"), [("unavailable", 503), ("server_error", 500), ("timeout", 504)])
async def test_server_failures_are_transient(
    fault: str, status: int, transport: httpx.ASGITransport, admin: httpx.AsyncClient
) -> None:
    await _faults(admin, **{fault: 1, "retry_after_s": 0, "timeout_s": 0.05})
    async with NetSuiteConnector(settings(retry_attempts=1), transport=transport) as netsuite:
        with pytest.raises(TransientError) as failed:
            await netsuite.find_employee("E-1001")
    assert failed.value.status == status and failed.value.retryable


async def test_a_503_or_504_once_is_absorbed_by_the_in_process_retry(
    transport: httpx.ASGITransport, admin: httpx.AsyncClient
) -> None:
    await _faults(admin, unavailable=0.5, timeout=0.5, retry_after_s=0, timeout_s=0.05, times=2)
    async with NetSuiteConnector(settings(retry_attempts=3), transport=transport) as netsuite:
        assert await netsuite.find_employee("E-1001") is not None
    assert await _injected(admin, "unavailable") + await _injected(admin, "timeout") == 2


async def test_an_expired_m2m_token_is_refreshed_once(
    m2m_netsuite: NetSuiteConnector, admin: httpx.AsyncClient
) -> None:
    assert await m2m_netsuite.find_employee("E-1001") is not None
    await _faults(admin, token_expiry=True)
    assert await m2m_netsuite.find_employee("E-1002") is not None
    assert isinstance(m2m_netsuite.auth, OAuth2TokenAuth) and m2m_netsuite.auth.fetch_count == 2


async def test_commit_then_fail_then_retry_leaves_exactly_one_time_bill(
    netsuite: NetSuiteConnector, admin: httpx.AsyncClient
) -> None:
    job = await netsuite.get_job("PRJ-0001")
    employee = await netsuite.find_employee("E-1001")
    assert job is not None and employee is not None
    refs = {"job_internal_id": job.internal_id, "employee_internal_id": employee, "rate": RATE}
    await _faults(admin, commit_then_fail=1, methods=["PUT"], times=1)
    with pytest.raises(TransientError) as lost:
        await netsuite.write_time_bill(time_entry(), **refs)
    assert lost.value.status == 500 and await _injected(admin, "commit_then_fail") == 1
    await netsuite.write_time_bill(time_entry(), **refs)
    assert await count(admin, "timeBill") == 1
