"""The HubSpot emulator in-process or on a real socket, and connectors pointed at it."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from connectors._core import RateBudget
from connectors.hubspot import HubSpotConnector, HubSpotSettings
from sandbox.app import create_app
from sandbox.seed import DemoFirm
from sandbox.systems.hubspot import SYSTEM
from sandbox.systems.hubspot._seed import company_id, contact_id, deal_id, line_item_id

BASE = "http://sandbox"
REFRESH_TOKEN = "psflow-demo-refresh-token"

# What the tests rely on is looked up in the demo firm (anchored by tests/conftest.py), not named:
# the firm promises the same records on every anchor date, and this keeps the tests true if the
# firm is ever redrawn.
FIRM = DemoFirm.generate()
UK_CLIENTS = tuple(c for c in FIRM.clients if c.currency == "GBP")
UK_DEALS = tuple(o for o in FIRM.opportunities if o.currency == "GBP")
OPEN_UK_DEALS = tuple(o for o in UK_DEALS if o.stage not in ("Closed Won", "Closed Lost"))
_SIX_ITEMS = next(o for o in OPEN_UK_DEALS if len(o.line_items) == 6)
SIX_ITEM_DEAL = deal_id(_SIX_ITEMS.id)
"""An open deal with six line items."""
SIX_ITEM_COMPANY = company_id(_SIX_ITEMS.client_id)
SIX_ITEM_DEAL_NAME = _SIX_ITEMS.name
SIX_ITEM_CLIENT = FIRM.client(_SIX_ITEMS.client_id)
SIX_ITEM_CLIENT_NAME = SIX_ITEM_CLIENT.name
SIX_ITEM_STAGE = _SIX_ITEMS.stage
SIX_ITEM_LINE_ITEMS = [line_item_id(_SIX_ITEMS.id, n) for n in range(1, 7)]
OTHER_CLIENT = next(c.id for c in UK_CLIENTS if c.id != _SIX_ITEMS.client_id)
OTHER_COMPANY = company_id(OTHER_CLIENT)
"""A UK company the six-item deal is not associated with."""
OTHER_CONTACT = contact_id(OTHER_CLIENT)
WON_UK_DEALS = {deal_id(o.id) for o in UK_DEALS if o.stage == "Closed Won"}


@pytest.fixture(autouse=True)
def _fresh_budgets() -> Iterator[None]:
    RateBudget.reset_registry()
    yield
    RateBudget.reset_registry()


def make_app(path: Path, *, seed: str | None = "demo") -> FastAPI:
    """The sandbox serving only HubSpot, so other systems' modules cannot affect these tests."""
    return create_app(path, seed=seed, systems=[SYSTEM])


@pytest.fixture
def app(tmp_path: Path) -> Iterator[FastAPI]:
    application = make_app(tmp_path / "s.db")
    yield application
    application.state.db.close()


@pytest.fixture
def transport(app: FastAPI) -> httpx.ASGITransport:
    return httpx.ASGITransport(app=app)


def settings(**overrides: Any) -> HubSpotSettings:
    """Settings for the in-process emulator (base URL host is irrelevant over ASGI)."""
    return HubSpotSettings(base_url=f"{BASE}/hubspot", **overrides)


@pytest.fixture
async def hubspot(transport: httpx.ASGITransport) -> AsyncIterator[HubSpotConnector]:
    async with HubSpotConnector(settings(), transport=transport) as connector:
        yield connector


@pytest.fixture
async def admin(transport: httpx.ASGITransport) -> AsyncIterator[httpx.AsyncClient]:
    """A plain client for ``/_admin`` and for raw API calls (send ``auth_headers()``)."""
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


def auth_headers(token: str = "pat-na1-psflow-demo-0000-private-app") -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def set_faults(admin: httpx.AsyncClient, **config: Any) -> None:
    response = await admin.put("/_admin/faults/hubspot", json={"seed": 7, **config})
    response.raise_for_status()


async def set_limits(admin: httpx.AsyncClient, **limits: Any) -> None:
    response = await admin.put("/_admin/hubspot/limits", json=limits)
    response.raise_for_status()


async def wait_for(predicate: Callable[[], Any], *, within_s: float = 10.0) -> Any:
    """Poll a predicate (plain or async) until it returns something truthy, or give up and return it."""
    deadline = time.monotonic() + within_s
    while True:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.05)
