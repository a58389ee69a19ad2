"""The Salesforce emulator seeded once per session and copied per test, plus a connector over it."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from connectors.salesforce import SalesforceConnector, SalesforceSettings
from sandbox import create_app
from sandbox.systems.salesforce import SYSTEM

BASE = "http://sandbox"
API = "/salesforce/services/data/v62.0"


@pytest.fixture(scope="session")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database file holding the demo firm, written once."""
    path = tmp_path_factory.mktemp("salesforce-seed") / "seed.db"
    app = create_app(path, seed="demo", systems=[SYSTEM])
    app.state.db.close()
    return path


@pytest.fixture
def app(seeded_db: Path, tmp_path: Path) -> Iterator[FastAPI]:
    """A fresh sandbox serving only Salesforce, over a copy of the seeded database."""
    path = tmp_path / "s.db"
    shutil.copy(seeded_db, path)
    application = create_app(path, systems=[SYSTEM])
    yield application
    application.state.db.close()


def settings(base_url: str = f"{BASE}/salesforce", **overrides: Any) -> SalesforceSettings:
    """Connector settings for the sandbox, ignoring any PSFLOW_SALESFORCE_* in the environment."""
    values: dict[str, Any] = {
        "base_url": base_url,
        "timeout_s": 5.0,
        "stage_map": {},
        "grant_type": "client_credentials",
    }
    return SalesforceSettings(**{**values, **overrides})


@pytest.fixture
async def connector(app: FastAPI) -> AsyncIterator[SalesforceConnector]:
    """A connector over the in-process sandbox."""
    async with SalesforceConnector(settings(), transport=httpx.ASGITransport(app=app)) as salesforce:
        yield salesforce


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A raw client over the sandbox (admin calls and wire-level checks)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        yield client


async def bearer(http: httpx.AsyncClient) -> dict[str, str]:
    """Authorization headers from a client-credentials session."""
    response = await http.post(
        "/salesforce/services/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": "psflow-demo", "client_secret": "psflow-demo-secret"},
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def soql(http: httpx.AsyncClient, query: str, headers: dict[str, str]) -> httpx.Response:
    """Run a SOQL query over the wire."""
    return await http.get(f"{API}/query", params={"q": query}, headers=headers)


async def admin_settings(http: httpx.AsyncClient, **changes: int) -> dict[str, Any]:
    """Change the sandbox's API allocation, usage or query batch size."""
    response = await http.put("/_admin/salesforce/settings", json=changes)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def set_faults(http: httpx.AsyncClient, **config: Any) -> None:
    """Install a fault config for Salesforce."""
    response = await http.put("/_admin/faults/salesforce", json={"seed": 7, **config})
    assert response.status_code == 200, response.text
