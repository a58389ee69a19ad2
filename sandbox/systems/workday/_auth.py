"""``POST /ccx/oauth2/{tenant}/token``: the refresh-token grant of an API client for integrations.

The client authenticates with HTTP Basic (``client_id:client_secret``) or with ``client_id`` and
``client_secret`` form fields; the refresh token is non-expiring and is not rotated. Errors use
the OAuth 2.0 shape ``{"error", "error_description"}``, not the REST API's.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from sandbox._auth import issue_token, redeem_refresh_token
from sandbox._framework import DB
from sandbox.systems.workday._common import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    NAME,
    check_tenant,
    ensure_demo_credentials,
    token_ttl,
)

router = APIRouter()

_CLIENTS = {DEMO_CLIENT_ID: DEMO_CLIENT_SECRET}


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Basic realm="workday"'} if status == 401 else None
    return JSONResponse({"error": error, "error_description": description}, status_code=status, headers=headers)


def _client_credentials(request: Request, form: dict[str, str]) -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            client_id, _, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return client_id, secret
    if "client_id" in form:
        return form["client_id"], form.get("client_secret", "")
    return None


@router.post("/ccx/oauth2/{tenant}/token")
async def token(tenant: str, request: Request, db: DB) -> JSONResponse:
    """Exchange a refresh token for a short-lived bearer access token."""
    check_tenant(tenant)
    ensure_demo_credentials(db)
    raw = (await request.body()).decode("utf-8", errors="replace")
    form = {key: values[0] for key, values in parse_qs(raw, keep_blank_values=True).items()}
    credentials = _client_credentials(request, form)
    if credentials is None:
        return _oauth_error(401, "invalid_client", "Client authentication is required: send HTTP Basic credentials")
    client_id, secret = credentials
    expected = _CLIENTS.get(client_id)
    if expected is None or not secrets.compare_digest(secret, expected):
        return _oauth_error(401, "invalid_client", f"Unknown API client {client_id!r} or wrong client secret")
    grant_type = form.get("grant_type", "")
    if grant_type != "refresh_token":
        return _oauth_error(
            400, "unsupported_grant_type", f"grant_type {grant_type!r} is not supported: use refresh_token"
        )
    refresh_token = form.get("refresh_token", "")
    info = redeem_refresh_token(db, NAME, refresh_token) if refresh_token else None
    if info is None or info["subject"] != client_id:
        return _oauth_error(
            400,
            "invalid_grant",
            "The refresh token is invalid or has been revoked: generate a new one with "
            "Manage Refresh Tokens for Integrations",
        )
    ttl = token_ttl(db)
    access_token = issue_token(db, NAME, subject=client_id, ttl_s=ttl)
    return JSONResponse(
        {"access_token": access_token, "token_type": "Bearer", "expires_in": int(ttl)},
        headers={"Cache-Control": "no-store"},
    )
