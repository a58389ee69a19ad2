"""The HubSpot emulator in-process or on a real socket, and connectors pointed at it."""

from __future__ import annotations

import asyncio
import inspect
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from connectors._core import RateBudget
from connectors.hubspot import HubSpotConnector, HubSpotSettings
from sandbox.app import create_app
from sandbox.systems.hubspot import SYSTEM

BASE = "http://sandbox"
REFRESH_TOKEN = "psflow-demo-refresh-token"
SILVERLINE_DEAL = "9100000002"  # OPP-0002, Negotiation, six line items, company C-0018
SILVERLINE_COMPANY = "5100000018"


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


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """Run ``app`` with uvicorn on a free loopback port in a thread; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
