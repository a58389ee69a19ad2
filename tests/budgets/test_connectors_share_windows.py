"""HubSpot's rolling window and Salesforce's daily allocation, held by connectors of three "workers" at once.

Each connector gets a `SharedRateBudget` on a `PostgresBudgets` of its own (its own connections: a worker
process as far as PostgreSQL can tell), all drawing from one emulator, which answers 429 (HubSpot) or 403
``REQUEST_LIMIT_EXCEEDED`` (Salesforce) to a request over the account's limit. The connectors retry
nothing here, so one request over the limit fails the test.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from connectors._core import RateBudget
from connectors._core._shared_budget import SharedRateBudget, share_budgets
from connectors.hubspot import HubSpotConnector
from connectors.salesforce import SalesforceConnector
from sandbox.app import create_app
from sandbox.systems.hubspot import SYSTEM as HUBSPOT
from sandbox.systems.salesforce import SYSTEM as SALESFORCE
from store.budgets import PostgresBudgets
from tests.hubspot.conftest import SIX_ITEM_COMPANY
from tests.hubspot.conftest import settings as hubspot_settings
from tests.salesforce.conftest import settings as salesforce_settings

Connector = TypeVar("Connector", bound=Any)
WORKERS = 3


@pytest.fixture(autouse=True)
def _fresh_budgets() -> Iterator[None]:
    RateBudget.reset_registry()
    yield
    share_budgets(None)
    RateBudget.reset_registry()


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[httpx.ASGITransport]:
    app = create_app(tmp_path / "s.db", seed="demo", systems=[HUBSPOT, SALESFORCE])
    yield httpx.ASGITransport(app=app)
    app.state.db.close()


async def each_worker(postgres_url: str, build: Callable[[], Connector], stack: AsyncExitStack) -> list[Connector]:
    """`WORKERS` connectors, each with its own budget on its own backend, as separate processes would have."""
    connectors = []
    for _ in range(WORKERS):
        backend = PostgresBudgets(postgres_url, scope="test")
        stack.push_async_callback(backend.aclose)
        share_budgets(backend)
        RateBudget.reset_registry()
        connector = build()
        stack.push_async_callback(connector.aclose)
        assert isinstance(connector.budget, SharedRateBudget)
        connectors.append(connector)
    return connectors


async def test_hubspot_window_holds_for_three_workers(sandbox: httpx.ASGITransport, postgres_url: str) -> None:
    async with httpx.AsyncClient(transport=sandbox, base_url="http://sandbox") as admin:
        (await admin.put("/_admin/hubspot/limits", json={"ten_second_max": 20, "interval_ms": 1000})).raise_for_status()
    shaped = hubspot_settings(rate_limit_max=20, rate_limit_interval_s=1.0, retry_attempts=1)
    async with AsyncExitStack() as stack:
        hubspots = await each_worker(postgres_url, lambda: HubSpotConnector(shaped, transport=sandbox), stack)
        started = time.monotonic()
        # Each worker alone would send its 20 at once: 60 in the first second, 40 of them refused.
        results = await asyncio.gather(
            *(hubspot.get_company(SIX_ITEM_COMPANY) for hubspot in hubspots for _ in range(20)),
            return_exceptions=True,
        )
        elapsed = time.monotonic() - started
    assert [r for r in results if isinstance(r, BaseException)] == []
    print(f"\n60 HubSpot calls from 3 workers at 20 per second: none refused, {elapsed:.2f} s")
    # Three windows' worth: the third cannot start before two windows have passed.
    assert elapsed >= 2.0


async def test_salesforce_daily_allocation_holds_for_three_workers(
    sandbox: httpx.ASGITransport, postgres_url: str
) -> None:
    async with httpx.AsyncClient(transport=sandbox, base_url="http://sandbox") as admin:
        changed = await admin.put("/_admin/salesforce/settings", json={"api_used": 0, "api_daily_limit": 10})
        changed.raise_for_status()
    shaped = salesforce_settings(requests_per_day=10, retry_attempts=1)
    async with AsyncExitStack() as stack:
        orgs = await each_worker(postgres_url, lambda: SalesforceConnector(shaped, transport=sandbox), stack)
        calls = [
            asyncio.create_task(org.query_page("SELECT Id FROM Account LIMIT 1")) for org in orgs for _ in range(5)
        ]
        try:
            done: set[asyncio.Task[Any]] = set()
            pending = set(calls)
            while len(done) < 10 and not any(task.exception() for task in done):
                more, pending = await asyncio.wait(pending, timeout=30, return_when=asyncio.FIRST_COMPLETED)
                assert more, f"only {len(done)} calls answered in 30 s"
                done |= more
            # Ten of fifteen went; the other five wait for the day to roll on instead of meeting a 403.
            assert [task.exception() for task in done] == [None] * 10
            finished, _ = await asyncio.wait(pending, timeout=0.5)
            assert not finished and len(pending) == 5
        finally:
            for task in calls:
                task.cancel()
            await asyncio.gather(*calls, return_exceptions=True)
