"""Fixtures: a seeded sandbox per test, in-process (ASGI) or on a real socket, and connectors over it."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from connectors._core import RateBudget
from connectors.workday import WorkdayConnector, WorkdaySettings
from sandbox import create_app
from sandbox.systems.workday import SYSTEM

ADMIN = "/_admin/workday"
FAULTS = "/_admin/faults/workday"


class Recorder(httpx.AsyncBaseTransport):
    """Passes requests through and remembers (method, path, query, status) of each."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.calls: list[tuple[str, str, str, int]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        self.calls.append((request.method, request.url.path, request.url.query.decode(), response.status_code))
        return response

    def to(self, path_end: str) -> list[tuple[str, str, str, int]]:
        """Calls whose path ends with `path_end`."""
        return [call for call in self.calls if call[1].endswith(path_end)]

    @property
    def token_requests(self) -> list[tuple[str, str, str, int]]:
        """Calls to the token endpoint."""
        return self.to("/token")

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No PSFLOW_WORKDAY_* from the developer's shell, and no rate budget shared across tests."""
    for name in list(os.environ):
        if name.startswith("PSFLOW_WORKDAY_"):
            monkeypatch.delenv(name)
    RateBudget.reset_registry()
    yield
    RateBudget.reset_registry()


def workday_sandbox(db_path: Path | str, *, seed: str | None = "demo", public_url: str | None = None) -> FastAPI:
    """The sandbox serving Workday alone, so other systems' emulators cannot affect these tests."""
    return create_app(db_path, seed=seed, public_url=public_url, systems=[SYSTEM])


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    """The sandbox with the demo firm."""
    return workday_sandbox(tmp_path / "s.db")


@pytest.fixture
def transport(app: FastAPI) -> Recorder:
    """The in-process transport every connector of a test shares."""
    return Recorder(httpx.ASGITransport(app=app))


@pytest.fixture
async def admin(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client for ``/_admin`` (and raw API calls) on the same sandbox."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox") as client:
        yield client


ConnectorFactory = Callable[..., WorkdayConnector]


@pytest.fixture
async def make_connector(transport: Recorder) -> AsyncIterator[ConnectorFactory]:
    """Build connectors over the in-process sandbox: ``make_connector(page_size=10, ...)``."""
    made: list[WorkdayConnector] = []

    def make(**settings: Any) -> WorkdayConnector:
        connector = WorkdayConnector(WorkdaySettings(**settings), transport=transport)
        made.append(connector)
        return connector

    yield make
    for connector in made:
        await connector.aclose()


@pytest.fixture
async def connector(make_connector: ConnectorFactory) -> WorkdayConnector:
    """A connector with the demo settings."""
    return make_connector()


async def access_token(admin: httpx.AsyncClient) -> str:
    """A fresh access token for raw API calls."""
    response = await admin.post(
        "/workday/ccx/oauth2/psflow_demo/token",
        data={"grant_type": "refresh_token", "refresh_token": "psflow-demo-workday-refresh-token"},
        auth=("psflow-demo", "psflow-demo-secret"),
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


@pytest.fixture
def live_sandbox(tmp_path: Path) -> Iterator[str]:
    """The seeded sandbox served by uvicorn on a free loopback port; yields its URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(workday_sandbox(tmp_path / "live.db", public_url=url), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the sandbox did not start within 10 s")
        time.sleep(0.01)
    yield url
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()
