"""The OAuth 2.0 token endpoint, the org's login policy and the API version list.

``POST /services/oauth2/token`` (form-encoded) grants:

- ``client_credentials`` with ``client_id``/``client_secret`` (form fields or HTTP Basic);
- ``refresh_token`` with the client credentials and a refresh token (the demo connected app's
  is ``psflow-demo-refresh-token``);
- ``urn:ietf:params:oauth:grant-type:jwt-bearer`` with an RS256 ``assertion`` whose ``iss`` is
  a client id registered with a public key through ``PUT /_admin/salesforce/jwt-keys/{client_id}``;
- ``password`` (the username-password flow) with the client credentials, the demo user's
  ``username`` and its ``password`` with the security token appended — Salesforce is retiring
  this flow and an org can block it (``blockOAuthUnPwFlow``): ``PUT /_admin/salesforce/settings
  {"username_password_flow": false}`` does.

The answer has ``access_token``, ``instance_url``, ``id``, ``token_type``, ``issued_at`` (ms) and
``signature`` — and, as in Salesforce, no expiry: sessions end after two hours of the org's
session policy and a client refreshes on 401. ``instance_url`` is where the client reached the
emulator (``http://127.0.0.1:8700/salesforce`` on the shared port, ``https://127.0.0.1:8711`` on
its own), or the org's My Domain ``https://psflow-demo.my.salesforce.com`` when the client asked
for a ``*.salesforce.com`` host through the sandbox's proxy.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from typing import Any
from urllib.parse import parse_qsl

import jwt
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from sandbox._auth import issue_token
from sandbox._db import SandboxDB
from sandbox._framework import system_root
from sandbox.systems.salesforce._ids import id18
from sandbox.systems.salesforce._schema import API_VERSION, NAME

__all__ = [
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "DEMO_PASSWORD",
    "DEMO_REFRESH_TOKEN",
    "DEMO_SECURITY_TOKEN",
    "DEMO_USERNAME",
    "HOSTS",
    "JWT_AUDIENCES",
    "MY_DOMAIN",
    "ORG_ID",
    "USER_ID",
    "check_user",
    "login_allowed",
    "new_session",
    "router",
    "set_login_allowed",
]

DEMO_CLIENT_ID = "psflow-demo"
DEMO_CLIENT_SECRET = "psflow-demo-secret"
DEMO_REFRESH_TOKEN = "psflow-demo-refresh-token"
DEMO_USERNAME = "integration@psflow-demo.example"
DEMO_PASSWORD = "psflow-demo-password"
DEMO_SECURITY_TOKEN = "PsflowDemoSecurityToken"
MY_DOMAIN = "psflow-demo.my.salesforce.com"
HOSTS = ("login.salesforce.com", "test.salesforce.com", "*.my.salesforce.com")
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com", f"https://{MY_DOMAIN}")
SESSION_TTL_S = 2 * 3600
ORG_ID = id18("00D8d0000000001")
USER_ID = id18("0058d0000000001")
_LOGIN_POLICY = {"soap_login": "login:soap", "username_password_flow": "login:username_password"}

router = APIRouter(tags=["salesforce oauth"])


def instance_url(request: Request) -> str:
    """The org's root as the client should reach it after logging in (see the module docstring)."""
    if (request.url.hostname or "").endswith(".salesforce.com"):
        return f"https://{MY_DOMAIN}"
    return system_root(request, NAME)


def login_allowed(db: SandboxDB, kind: str) -> bool:
    """Whether the org allows a login being retired: ``soap_login`` or ``username_password_flow``."""
    return bool(db.kv_get(NAME, _LOGIN_POLICY[kind], True))


def set_login_allowed(db: SandboxDB, kind: str, allowed: bool) -> None:
    """Allow or block ``soap_login`` or ``username_password_flow`` (both allowed by default)."""
    db.kv_set(NAME, _LOGIN_POLICY[kind], allowed)


def check_user(username: str, password: str) -> bool:
    """The demo user's credentials: its password with the security token appended."""
    return username == DEMO_USERNAME and hmac.compare_digest(password, DEMO_PASSWORD + DEMO_SECURITY_TOKEN)


def new_session(db: SandboxDB, subject: str, client_id: str) -> str:
    """A session id (an access token) for a user or an integration."""
    return issue_token(
        db,
        NAME,
        subject=subject,
        ttl_s=SESSION_TTL_S,
        scope="api",
        prefix=f"{ORG_ID[:15]}!",
        extra={"client": client_id},
    )


def _refused(error: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _client(form: dict[str, str], request: Request) -> tuple[str, str]:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return "", ""
        return client_id, secret
    return form.get("client_id", ""), form.get("client_secret", "")


def _assertion_subject(db: SandboxDB, assertion: str, request: Request) -> str | JSONResponse:
    try:
        issuer = jwt.decode(assertion, options={"verify_signature": False}).get("iss", "")
    except jwt.PyJWTError:
        return _refused("invalid_grant", "invalid assertion: not a JWT")
    key = db.kv_get(NAME, f"jwt_key:{issuer}")
    if key is None:
        return _refused("invalid_client_id", f"client identifier invalid: no certificate is registered for {issuer!r}")
    try:
        claims = jwt.decode(
            assertion,
            key,
            algorithms=["RS256"],
            audience=[*JWT_AUDIENCES, instance_url(request)],
            options={"require": ["iss", "sub", "aud", "exp"]},
        )
    except jwt.PyJWTError as exc:
        return _refused("invalid_grant", f"invalid assertion: {exc}")
    return str(claims["sub"])


def _grant(db: SandboxDB, form: dict[str, str], request: Request) -> tuple[str, str] | JSONResponse:
    """The (client id, subject) the request proves, or the refusal."""
    grant_type = form.get("grant_type", "")
    if grant_type == JWT_BEARER:
        subject = _assertion_subject(db, form.get("assertion", ""), request)
        if isinstance(subject, JSONResponse):
            return subject
        return "jwt", subject
    if grant_type not in ("client_credentials", "refresh_token", "password"):
        return _refused("unsupported_grant_type", f"grant type not supported: {grant_type!r}")
    if grant_type == "password" and not login_allowed(db, "username_password_flow"):
        return _refused(
            "unsupported_grant_type",
            "the username-password flow is blocked in this org (blockOAuthUnPwFlow): "
            "use client credentials or the JWT bearer flow",
        )
    client_id, secret = _client(form, request)
    if client_id != DEMO_CLIENT_ID or not hmac.compare_digest(secret, DEMO_CLIENT_SECRET):
        return _refused("invalid_client", "invalid client credentials")
    if grant_type == "refresh_token" and not hmac.compare_digest(form.get("refresh_token", ""), DEMO_REFRESH_TOKEN):
        return _refused("invalid_grant", "expired access/refresh token")
    if grant_type == "password":
        username = form.get("username", "")
        if not check_user(username, form.get("password", "")):
            return _refused("invalid_grant", "authentication failure")
        return client_id, username
    return client_id, f"integration@{client_id}"


@router.post("/services/oauth2/token")
async def token(request: Request) -> JSONResponse:
    """Issue a session for one of the supported grants."""
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    db: SandboxDB = request.app.state.db
    granted = _grant(db, form, request)
    if isinstance(granted, JSONResponse):
        return granted
    client_id, subject = granted
    access_token = new_session(db, subject, client_id)
    base = instance_url(request)
    identity = f"{base}/id/{ORG_ID}/{USER_ID}"
    issued_at = str(int(time.time() * 1000))
    signed = hmac.new(DEMO_CLIENT_SECRET.encode(), (identity + issued_at).encode(), hashlib.sha256).digest()
    body: dict[str, Any] = {
        "access_token": access_token,
        "instance_url": base,
        "id": identity,
        "token_type": "Bearer",
        "issued_at": issued_at,
        "signature": base64.b64encode(signed).decode(),
        "scope": "api",
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.get("/services/data")
@router.get("/services/data/")
def versions() -> list[dict[str, str]]:
    """The API versions this sandbox serves (one)."""
    return [{"label": "Winter '25", "url": f"/services/data/v{API_VERSION}", "version": API_VERSION}]
