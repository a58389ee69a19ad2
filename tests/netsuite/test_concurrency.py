"""NetSuite's per-account concurrency limit, kept by the shared budget across all flows."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx

from connectors.netsuite import NetSuiteConnector
from tests.netsuite.conftest import OPEN_DAY, count, settings, time_entry
from tests.netsuite.test_connector import RATE


async def test_the_shared_budget_keeps_thirty_concurrent_upserts_under_the_limit(
    transport: httpx.ASGITransport, admin: httpx.AsyncClient
) -> None:
    # The emulator holds each request 20 ms, so unthrottled upserts would overlap far beyond 5.
    (await admin.put("/_admin/netsuite/concurrency", json={"limit": 5, "service_time_ms": 20})).raise_for_status()
    # Two connectors, as two flows in one worker: they draw from the one process-wide budget.
    posting = NetSuiteConnector(settings(max_concurrency=5, retry_attempts=1), transport=transport)
    invoicing = NetSuiteConnector(settings(max_concurrency=5, retry_attempts=1), transport=transport)
    assert posting.budget is invoicing.budget is not None
    job = await posting.get_job("PRJ-0001")
    employee = await posting.find_employee("E-1001")
    assert job is not None and employee is not None

    async def upsert(n: int) -> str:
        connector = posting if n % 2 else invoicing
        entry = time_entry(f"kantata:burst-{n}", day=OPEN_DAY + timedelta(days=n % 20))
        return await connector.write_time_bill(
            entry, job_internal_id=job.internal_id, employee_internal_id=employee, rate=RATE
        )

    try:
        created = await asyncio.gather(*(upsert(n) for n in range(30)))
    finally:
        await posting.aclose()
        await invoicing.aclose()
    state = (await admin.get("/_admin/netsuite/state")).json()
    assert len(set(created)) == 30 and await count(admin, "timeBill") == 30
    assert state["rejected"] == 0
    assert posting.budget is not None and posting.budget.peak_in_flight == 5
    assert 1 < state["peak_in_flight"] <= 5
