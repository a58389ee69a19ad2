"""Fixtures: a NetSuite-only sandbox app per test (seeded with the demo firm) and a connector on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI

from canonical import ApprovalState, TimeEntry
from connectors._core import RateBudget, paginate
from connectors.netsuite import NetSuiteConnector, NetSuiteSettings, TimeBillRow
from sandbox.app import create_app
from sandbox.seed import DemoFirm
from sandbox.systems.netsuite import SYSTEM
from tests.conftest import TEST_TODAY

TODAY = TEST_TODAY
"""The demo firm's anchor: last month onwards is open, earlier months closed."""
OPEN_DAY = TODAY - timedelta(days=23)
CLOSED_DAY = (TODAY.replace(day=1) - timedelta(days=70)).replace(day=14)
FIRM = DemoFirm.generate(today=TODAY)
PRJ_0001_CLIENT = FIRM.project("PRJ-0001").client_id
"""The customer PRJ-0001 bills (every seeded project's client is an ERP customer)."""
SANDBOX = "http://127.0.0.1:8700"


@pytest.fixture(autouse=True)
def _fresh_budget_registry() -> Iterator[None]:
    # RateBudget.shared is process-wide: each test gets the limits its own settings ask for.
    RateBudget.reset_registry()
    yield
    RateBudget.reset_registry()


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    """The sandbox serving only NetSuite, seeded with the demo firm."""
    return create_app(tmp_path / "s.db", seed="demo", today=TODAY, systems=[SYSTEM])


@pytest.fixture
def transport(app: FastAPI) -> httpx.ASGITransport:
    return httpx.ASGITransport(app=app)


def settings(**overrides: Any) -> NetSuiteSettings:
    """Demo settings (TBA against the in-process sandbox) with overrides."""
    return NetSuiteSettings(**{"base_url": f"{SANDBOX}/netsuite", **overrides})


@pytest.fixture
async def netsuite(transport: httpx.ASGITransport) -> AsyncIterator[NetSuiteConnector]:
    async with NetSuiteConnector(settings(), transport=transport) as connector:
        yield connector


@pytest.fixture
async def admin(transport: httpx.ASGITransport) -> AsyncIterator[httpx.AsyncClient]:
    """A client for the sandbox's admin routes (and raw API calls)."""
    async with httpx.AsyncClient(transport=transport, base_url=SANDBOX) as client:
        yield client


async def count(admin: httpx.AsyncClient, kind: str) -> int:
    """Records of one kind in the emulator."""
    response = await admin.get("/_admin/netsuite/state")
    return int(response.json()["counts"][kind])


def time_entry(entry_id: str = "kantata:te-1", *, day: date = OPEN_DAY, minutes: int = 450, **extra: Any) -> TimeEntry:
    """An approved time entry of the demo firm's first consultant on PRJ-0001."""
    return TimeEntry(
        id=entry_id,
        consultant_id="E-1001",
        project_id="PRJ-0001",
        date_performed=day,
        minutes=minutes,
        approval=ApprovalState.APPROVED,
        approved_at=datetime.combine(day, datetime.min.time(), UTC) + timedelta(days=1),
        **extra,
    )


@pytest.fixture(scope="session")
def m2m_key() -> tuple[str, str]:
    """An RSA key pair for M2M client assertions: (private PEM, public PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private.decode(), public.decode()


@pytest.fixture
async def m2m_netsuite(
    transport: httpx.ASGITransport, admin: httpx.AsyncClient, m2m_key: tuple[str, str]
) -> AsyncIterator[NetSuiteConnector]:
    """A connector using OAuth 2.0 M2M, its certificate registered with the sandbox as ``kid-1``."""
    private, public = m2m_key
    registered = await admin.post(
        "/_admin/netsuite/m2m-keys", json={"kid": "kid-1", "public_key_pem": public, "client_id": "psflow-demo"}
    )
    registered.raise_for_status()
    m2m = settings(auth_mode="m2m", m2m_certificate_id="kid-1", m2m_private_key_pem=private)
    async with NetSuiteConnector(m2m, transport=transport) as connector:
        yield connector


async def time_bills(netsuite: NetSuiteConnector, **filters: Any) -> list[TimeBillRow]:
    """Every time bill matching the filters of `NetSuiteConnector.time_bills_page`."""
    return [bill async for bill in paginate(lambda cursor: netsuite.time_bills_page(cursor=cursor, **filters))]
