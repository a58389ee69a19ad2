"""Fixtures: a seeded sandbox serving BambooHR alone, in-process, and connectors over it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from connectors._core import RateBudget
from connectors.bamboohr import BambooHRConnector, BambooHRSettings
from sandbox import create_app
from sandbox.systems.bamboohr import DEMO_API_KEY, SYSTEM

ADMIN = "/_admin/bamboohr"
API = "/bamboohr/api/v1"
JSON = {"Accept": "application/json"}
AUTH = (DEMO_API_KEY, "x")


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No PSFLOW_BAMBOOHR_* from the developer's shell, and no rate budget shared across tests."""
    for name in list(os.environ):
        if name.startswith("PSFLOW_BAMBOOHR_"):
            monkeypatch.delenv(name)
    RateBudget.reset_registry()
    yield
    RateBudget.reset_registry()


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    """The sandbox with the demo firm, BambooHR only."""
    return create_app(tmp_path / "s.db", seed="demo", systems=[SYSTEM])


@pytest.fixture
async def api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A raw client for the API and ``/_admin`` of the same sandbox (no auth or Accept by default)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox") as client:
        yield client


ConnectorFactory = Callable[..., BambooHRConnector]


@pytest.fixture
async def make_connector(app: FastAPI) -> AsyncIterator[ConnectorFactory]:
    """Build connectors over the in-process sandbox: ``make_connector(page_size=10, ...)``."""
    made: list[BambooHRConnector] = []

    def make(**settings: Any) -> BambooHRConnector:
        connector = BambooHRConnector(
            BambooHRSettings(base_url="http://sandbox/bamboohr", **settings), transport=httpx.ASGITransport(app=app)
        )
        made.append(connector)
        return connector

    yield make
    for connector in made:
        await connector.aclose()
