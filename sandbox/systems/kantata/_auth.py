"""``POST /kantata/oauth/token``: the OAuth 2.0 token endpoint (form-encoded, RFC 6749 answers).

Grants (Kantata's OIDC discovery lists the same three):

- ``authorization_code`` with ``code=psflow-demo-code`` (the sandbox skips the browser step),
- ``client_credentials``,
- ``refresh_token`` with a refresh token from an authorization-code answer.

The client authenticates with ``client_id``/``client_secret`` in the form or HTTP Basic. Kantata
tokens do not expire unless revoked, so answers carry no ``expires_in``.
"""

from __future__ import annotations

import base64
import binascii
import time
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from sandbox._auth import issue_refresh_token, issue_token, redeem_refresh_token
from sandbox._framework import DB
from sandbox.systems.kantata._store import NAME

DEMO_CLIENT_ID = "psflow-demo"
DEMO_CLIENT_SECRET = "psflow-demo-secret"
DEMO_AUTHORIZATION_CODE = "psflow-demo-code"

router = APIRouter(prefix="/oauth")


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _client(request: Request, form: dict[str, str]) -> tuple[str, str]:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic" and encoded:
        try:
            client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return "", ""
        return client_id, secret
    return form.get("client_id", ""), form.get("client_secret", "")


def _token_answer(access_token: str, refresh_token: str | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"access_token": access_token, "token_type": "bearer", "created_at": int(time.time())}
    if refresh_token is not None:
        answer["refresh_token"] = refresh_token
    return answer


@router.post("/token")
async def token(request: Request, db: DB) -> Any:
    """Exchange a grant for an access token."""
    raw = (await request.body()).decode("utf-8", errors="replace")
    form = {key: values[-1] for key, values in parse_qs(raw).items()}
    client_id, secret = _client(request, form)
    if (client_id, secret) != (DEMO_CLIENT_ID, DEMO_CLIENT_SECRET):
        return _oauth_error(401, "invalid_client", f"unknown client {client_id!r} or wrong client secret")
    grant = form.get("grant_type")
    if grant == "client_credentials":
        return _token_answer(issue_token(db, NAME, subject=client_id, ttl_s=None))
    if grant == "authorization_code":
        if form.get("code") != DEMO_AUTHORIZATION_CODE:
            return _oauth_error(400, "invalid_grant", "the authorization code is invalid, expired or already used")
        refresh = issue_refresh_token(db, NAME, subject=client_id)
        return _token_answer(issue_token(db, NAME, subject=client_id, ttl_s=None), refresh)
    if grant == "refresh_token":
        info = redeem_refresh_token(db, NAME, form.get("refresh_token", ""))
        if info is None:
            return _oauth_error(400, "invalid_grant", "the refresh token is invalid or revoked")
        return _token_answer(issue_token(db, NAME, subject=info["subject"], ttl_s=None), info["token"])
    return _oauth_error(
        400,
        "unsupported_grant_type",
        f"grant_type {grant!r}: use authorization_code, client_credentials or refresh_token",
    )
