"""Fixtures for end-to-end flow tests: connectors onto the session sandbox, and open deals to win."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import pytest_asyncio

from canonical import OpportunityStage
from stack.connectors import Connectors
from stack.settings import Settings

_taken: set[str] = set()


@pytest_asyncio.fixture
async def connectors(flow_settings: Settings) -> AsyncIterator[Connectors]:
    """Every connector, pointed at the session sandbox (what the worker uses, for arranging and asserting)."""
    built = Connectors.build(flow_settings)
    try:
        yield built
    finally:
        await built.aclose()


async def _open_salesforce_deals(connectors: Connectors) -> list[str]:
    soql = "SELECT Id FROM Opportunity WHERE IsClosed = false ORDER BY Id"
    return [row["Id"] async for row in connectors.salesforce.query(soql)]


@pytest.fixture
def win_deal(connectors: Connectors) -> Callable[[str], Awaitable[str]]:
    """Win an open deal no other test has used, in the named CRM; returns its id."""

    async def win(crm: str) -> str:
        if crm != "salesforce":
            raise ValueError(f"no open-deal source for {crm}")
        deal = next(d for d in await _open_salesforce_deals(connectors) if f"{crm}:{d}" not in _taken)
        _taken.add(f"{crm}:{deal}")
        await connectors.salesforce.set_opportunity_stage(deal, OpportunityStage.CLOSED_WON)
        return deal

    return win
