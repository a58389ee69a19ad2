from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from starlette.requests import Request

from sandbox import SandboxDB, SandboxHTTPError
from sandbox._auth import (
    check_bearer,
    check_token,
    expire_all_tokens,
    issue_refresh_token,
    issue_token,
    redeem_refresh_token,
    revoke_token,
)


def _request(authorization: str | None) -> Request:
    headers = [] if authorization is None else [(b"authorization", authorization.encode())]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers})


def test_tokens_are_checked_expired_and_revoked(tmp_path: Path) -> None:
    db = SandboxDB(tmp_path / "a.db")
    token = issue_token(db, "crm", subject="integration", ttl_s=3600, scope="api", extra={"instance": "x"})
    forever = issue_token(db, "crm", subject="static", ttl_s=None, token="pat-123")
    stale = issue_token(db, "crm", subject="integration", ttl_s=0)

    info = check_bearer(db, "crm", _request(f"Bearer {token}"))
    assert (info["subject"], info["scope"], info["instance"], info["token"]) == ("integration", "api", "x", token)
    assert check_token(db, "crm", forever) is not None
    assert check_token(db, "crm", stale) is None
    assert check_token(db, "erp", token) is None  # tokens belong to one system

    assert revoke_token(db, "crm", forever) is True
    assert check_token(db, "crm", forever) is None


def test_check_bearer_raises_the_systems_own_error(tmp_path: Path) -> None:
    db = SandboxDB(tmp_path / "a.db")
    for header in (None, "Basic abc", "Bearer ", "Bearer unknown"):
        with pytest.raises(SandboxHTTPError) as caught:
            check_bearer(db, "crm", _request(header), code="INVALID_SESSION_ID", message="Session expired or invalid")
        assert (caught.value.status, caught.value.code) == (401, "INVALID_SESSION_ID")


def test_expire_all_keeps_refresh_tokens_and_survives_restart(tmp_path: Path) -> None:
    db = SandboxDB(tmp_path / "a.db")
    access = issue_token(db, "hr", subject="isu", ttl_s=3600)
    refresh = issue_refresh_token(db, "hr", subject="isu", scope="workers")
    db.close()

    db = SandboxDB(tmp_path / "a.db")
    assert check_token(db, "hr", access) is not None
    expire_all_tokens(db, "hr")
    assert check_token(db, "hr", access) is None
    redeemed = redeem_refresh_token(db, "hr", refresh)
    assert redeemed is not None and redeemed["scope"] == "workers"
    assert redeem_refresh_token(db, "hr", "nope") is None
    assert check_token(db, "hr", issue_token(db, "hr", subject="isu", ttl_s=60)) is not None


async def test_bearer_flow_through_a_system(client: httpx.AsyncClient) -> None:
    unauthenticated = await client.post("/fake/items", json={"name": "x"})
    assert unauthenticated.status_code == 401
    assert unauthenticated.json() == [
        {"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid", "status": 401}
    ]
    tokens = (await client.post("/fake/token")).json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await client.post("/fake/items", json={"name": "x"}, headers=headers)).status_code == 201
