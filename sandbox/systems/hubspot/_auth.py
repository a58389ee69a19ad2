"""``POST /oauth/v1/token``: HubSpot's OAuth 2.0 token endpoint (form-encoded).

Grants: ``refresh_token`` (the demo refresh token, or one issued here) and
``authorization_code`` (the demo code). Access tokens live 30 minutes (``expires_in`` 1800)
and carry every CRM scope the sandbox emulates.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from sandbox._auth import issue_refresh_token, issue_token, redeem_refresh_token
from sandbox._db import SandboxDB
from sandbox.systems.hubspot._schema import (
    ACCESS_TOKEN_TTL_S,
    AUTHORIZATION_CODE,
    CLIENT_ID,
    CLIENT_SECRET,
    NAME,
    OBJECT_TYPES,
    REFRESH_TOKEN,
)

__all__ = ["ALL_SCOPES", "router"]

router = APIRouter()

ALL_SCOPES = " ".join(f"{spec.scope}.{access}" for spec in OBJECT_TYPES.values() for access in ("read", "write"))


def _refused(status: str, message: str) -> JSONResponse:
    return JSONResponse({"status": status, "message": message, "correlationId": str(uuid.uuid4())}, status_code=400)


def _grant(db: SandboxDB, form: dict[str, str]) -> JSONResponse:
    grant_type = form.get("grant_type")
    if form.get("client_id") != CLIENT_ID:
        return _refused("BAD_CLIENT_ID", f"missing or unknown client_id {form.get('client_id')!r}")
    if form.get("client_secret") != CLIENT_SECRET:
        return _refused("BAD_CLIENT_SECRET", "missing or invalid client_secret")
    if grant_type == "refresh_token":
        refresh_token = form.get("refresh_token", "")
        if refresh_token != REFRESH_TOKEN and redeem_refresh_token(db, NAME, refresh_token) is None:
            return _refused("BAD_REFRESH_TOKEN", "missing or unknown refresh token")
    elif grant_type == "authorization_code":
        if form.get("code") != AUTHORIZATION_CODE:
            return _refused("BAD_AUTH_CODE", "missing or unknown auth code")
        refresh_token = issue_refresh_token(db, NAME, subject=CLIENT_ID, scope=ALL_SCOPES, prefix="na1-")
    else:
        return _refused("BAD_GRANT_TYPE", f"grant_type {grant_type!r}: use refresh_token or authorization_code")
    access_token = issue_token(db, NAME, subject=CLIENT_ID, ttl_s=ACCESS_TOKEN_TTL_S, scope=ALL_SCOPES, prefix="CJ")
    body: dict[str, Any] = {
        "token_type": "bearer",
        "refresh_token": refresh_token,
        "access_token": access_token,
        "expires_in": ACCESS_TOKEN_TTL_S,
    }
    return JSONResponse(body)


@router.post("/oauth/v1/token")
async def token(request: Request) -> JSONResponse:
    """Exchange a refresh token or an authorization code for an access token."""
    form = {key: values[-1] for key, values in parse_qs((await request.body()).decode()).items()}
    return await run_in_threadpool(_grant, request.app.state.db, form)
