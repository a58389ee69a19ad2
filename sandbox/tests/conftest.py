"""A tiny fake system and helpers to drive the sandbox in-process or over a real socket.

The demo firm is anchored on ``TEST_TODAY`` (``PSFLOW_TEST_TODAY`` or the pinned date below, the same
as psflow's own tests), exported as ``PSFLOW_SANDBOX_TODAY`` so apps built in-process and sandbox
processes agree whatever the real date.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request

from sandbox import DB, DuplicateKey, SandboxDB, SandboxHTTPError, SandboxSystem, create_app
from sandbox._auth import check_bearer, issue_refresh_token, issue_token, redeem_refresh_token
from sandbox.seed import DemoFirm
from sandbox.systems.sink import SYSTEM as SINK

PINNED_TODAY = "2026-11-26"
TEST_TODAY = date.fromisoformat(os.environ.get("PSFLOW_TEST_TODAY") or PINNED_TODAY)
os.environ["PSFLOW_SANDBOX_TODAY"] = TEST_TODAY.isoformat()

FAKE = "fake"


def fake_error_body(status: int, code: str, message: str) -> tuple[Any, dict[str, str]]:
    return [{"errorCode": code, "message": message, "status": status}], {"X-Fake-Error": code}


def fake_seed(db: SandboxDB, firm: DemoFirm) -> None:
    for client in firm.clients:
        db.insert(FAKE, "item", {"name": client.name, "currency": client.currency}, ext_key=client.id)


def make_fake(*, seed: Callable[[SandboxDB, DemoFirm], None] | None = fake_seed) -> SandboxSystem:
    """A system with token auth, an upsert-by-external-key write and a custom error shape."""
    router = APIRouter()

    @router.post("/token")
    def token(db: DB) -> dict[str, str]:
        return {
            "access_token": issue_token(db, FAKE, subject="tester", ttl_s=3600),
            "refresh_token": issue_refresh_token(db, FAKE, subject="tester"),
        }

    @router.post("/refresh")
    def refresh(db: DB, refresh_token: str) -> dict[str, str]:
        info = redeem_refresh_token(db, FAKE, refresh_token)
        if info is None:
            raise SandboxHTTPError(400, "INVALID_GRANT", "unknown refresh token")
        return {"access_token": issue_token(db, FAKE, subject=info["subject"], ttl_s=3600)}

    @router.post("/items", status_code=201)
    def create_item(db: DB, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        check_bearer(db, FAKE, request, code="INVALID_SESSION_ID", message="Session expired or invalid")
        try:
            return db.insert(FAKE, "item", body, ext_key=body.get("ref"))
        except DuplicateKey as exc:
            raise SandboxHTTPError(409, "DUPLICATE_VALUE", f"ref {exc.key!r} already exists") from None

    @router.get("/items")
    def list_items(db: DB) -> list[dict[str, Any]]:
        return db.query(FAKE, "item")

    @router.get("/items/{item_id}")
    def get_item(db: DB, item_id: str) -> dict[str, Any]:
        item = db.get(FAKE, "item", item_id)
        if item is None:
            raise SandboxHTTPError(404, "NOT_FOUND", f"no item {item_id}")
        return item

    @router.get("/teapot")
    def teapot() -> None:
        raise SandboxHTTPError(418, "TEAPOT", "short and stout", {"X-Extra": "1"})

    admin = APIRouter()

    @admin.get("/ping")
    def ping() -> dict[str, bool]:
        return {"pong": True}

    return SandboxSystem(
        name=FAKE,
        router=router,
        error_body=fake_error_body,
        kinds=("item",),
        seed=seed,
        admin_router=admin,
        base_path="/api/v1",
    )


def make_app(path: Path | str, **kwargs: Any) -> FastAPI:
    kwargs.setdefault("systems", [make_fake(), SINK])
    return create_app(path, **kwargs)


@asynccontextmanager
async def asgi_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        yield client


@pytest.fixture
def app(tmp_path: Path) -> Iterator[FastAPI]:
    application = make_app(tmp_path / "s.db")
    yield application
    application.state.db.close()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app) as c:
        yield c


async def bearer(client: httpx.AsyncClient) -> dict[str, str]:
    tokens = (await client.post("/fake/token")).json()
    return {"Authorization": f"Bearer {tokens['access_token']}"}
