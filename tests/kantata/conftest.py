"""Fixtures: the Kantata emulator in-process (seeded with the demo firm) and connectors over it."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from connectors.kantata import KantataConnector, KantataSettings
from sandbox._db import SandboxDB
from sandbox._faults import ConnectionDropped
from sandbox.app import create_app
from sandbox.seed import DemoFirm, seed_all
from sandbox.systems.kantata import DEMO_ACCESS_TOKEN, SYSTEM

HOST = "http://kantata.test"
TODAY = date(2026, 6, 17)
"""A fixed anchor, so the demo firm (and every expected count) is the same on any day."""

MakeConnector = Callable[..., KantataConnector]


class InProcessTransport(httpx.ASGITransport):
    """The emulator in-process; a dropped connection surfaces as it does over a socket."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except ConnectionDropped as exc:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request) from exc


class CountingTransport(InProcessTransport):
    """The in-process emulator, remembering each request as ``METHOD path`` (the API prefix dropped)."""

    def __init__(self, app: FastAPI) -> None:
        super().__init__(app=app)
        self.sent: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(f"{request.method} {request.url.path.removeprefix('/kantata/api/v1')}")
        return await super().handle_async_request(request)


def settings_for(base: str = HOST, **overrides: Any) -> KantataSettings:
    """Settings pointing at the emulator under ``base``."""
    values: dict[str, Any] = {
        "base_url": f"{base}/kantata/api/v1",
        "token_url": f"{base}/kantata/oauth/token",
        "access_token": None,
        **overrides,
    }
    return KantataSettings(**values)


@pytest.fixture(scope="session")
def firm() -> DemoFirm:
    """The demo firm every emulator here is seeded with."""
    return DemoFirm.generate(today=TODAY)


@pytest.fixture(scope="session")
def seeded_db(tmp_path_factory: pytest.TempPathFactory, firm: DemoFirm) -> Path:
    """A database file holding the seeded emulator, written once and copied for each app."""
    path = tmp_path_factory.mktemp("kantata-template") / "kantata.db"
    db = SandboxDB(path)
    seed_all(db, [SYSTEM], firm)
    db.close()
    return path


def build_app(template: Path, path: Path) -> FastAPI:
    """A fresh emulator on its own copy of the seeded database."""
    shutil.copyfile(template, path)
    return create_app(path, systems=[SYSTEM], faults={})


@pytest.fixture
def app(seeded_db: Path, tmp_path: Path) -> FastAPI:
    """A fresh, seeded emulator for a test that writes or injects faults."""
    return build_app(seeded_db, tmp_path / "kantata.db")


@pytest.fixture(scope="session")
def shared_app(seeded_db: Path, tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    """One seeded emulator for the read-only tests."""
    return build_app(seeded_db, tmp_path_factory.mktemp("kantata") / "kantata.db")


@pytest_asyncio.fixture
async def make_connector(app: FastAPI) -> AsyncIterator[MakeConnector]:
    """Build connectors over the fresh emulator; all are closed after the test."""
    built: list[KantataConnector] = []

    def make(target: FastAPI | None = None, **overrides: Any) -> KantataConnector:
        connector = KantataConnector(
            settings_for(**overrides), transport=InProcessTransport(app=target if target is not None else app)
        )
        built.append(connector)
        return connector

    yield make
    for connector in built:
        await connector.aclose()


@pytest_asyncio.fixture
async def kantata(make_connector: MakeConnector) -> KantataConnector:
    """A connector over the fresh emulator (client-credentials auth, default settings)."""
    return make_connector()


@pytest_asyncio.fixture
async def reader(shared_app: FastAPI) -> AsyncIterator[KantataConnector]:
    """A connector over the shared, read-only emulator."""
    async with KantataConnector(settings_for(), transport=InProcessTransport(app=shared_app)) as connector:
        yield connector


def raw_client(app: FastAPI, *, token: str | None = DEMO_ACCESS_TOKEN) -> httpx.AsyncClient:
    """A plain HTTP client on the emulator (the demo token set unless ``token`` is None)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=HOST, headers=headers)


@pytest_asyncio.fixture
async def api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Raw HTTP on the fresh emulator, authenticated with the demo token."""
    async with raw_client(app) as client:
        yield client


@pytest_asyncio.fixture
async def admin(app: FastAPI) -> AsyncIterator[Callable[..., Awaitable[httpx.Response]]]:
    """Send a request to the sandbox admin API of the fresh emulator (raises on failure)."""
    async with raw_client(app, token=None) as client:

        async def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
            response = await client.request(method, path, **kwargs)
            response.raise_for_status()
            return response

        yield call
