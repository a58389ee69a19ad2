"""The two ways into SuiteTalk REST: OAuth 2.0 M2M bearer tokens and TBA (OAuth 1.0a) signatures.

**M2M** — ``POST /services/rest/auth/oauth2/v1/token`` with ``grant_type=client_credentials``
and a JWT ``client_assertion`` signed (PS256/384/512, ES256/384/512) with the private key of a
certificate registered under its ``kid`` (``POST /_admin/netsuite/m2m-keys``). The assertion's
``iss`` must be the key's client id, ``aud`` the token endpoint, ``scope`` must include
``rest_webservices`` and ``exp`` be at most an hour after ``iat``. Access tokens last 3600 s;
there is no refresh token.

**TBA** — ``Authorization: OAuth realm="PSFLOW_DEMO", oauth_consumer_key=..., oauth_token=...,
oauth_signature_method="HMAC-SHA256", oauth_timestamp, oauth_nonce, oauth_version="1.0",
oauth_signature`` with the fixed demo keys below. The signature is recomputed over the method,
the URL as sent and the query and ``oauth_*`` parameters; the timestamp must be within five
minutes and the nonce new. Every failure is 401 ``INVALID_LOGIN``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from sandbox._auth import check_bearer, issue_token
from sandbox._db import SandboxDB
from sandbox._framework import SandboxHTTPError, get_db
from sandbox.systems.netsuite._account import Account, AccountDB, account
from sandbox.systems.netsuite._errors import INVALID_LOGIN
from sandbox.systems.netsuite._types import NAME

ACCOUNT_ID = "PSFLOW_DEMO"
TBA_CONSUMER_KEY = "psflow-demo-consumer-key"
TBA_CONSUMER_SECRET = "psflow-demo-consumer-secret"
TBA_TOKEN_ID = "psflow-demo-token-id"
TBA_TOKEN_SECRET = "psflow-demo-token-secret"
TOKEN_PATH = "/services/rest/auth/oauth2/v1/token"
TOKEN_TTL_S = 3600
TIMESTAMP_WINDOW_S = 300
ASSERTION_ALGORITHMS = ("PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

_HEADER_PARAM = re.compile(r'([A-Za-z0-9_\-.~%]+)="([^"]*)"')
_LOGIN_FAILED = "Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI"

router = APIRouter()


def _refuse(reason: str) -> SandboxHTTPError:
    return SandboxHTTPError(401, INVALID_LOGIN, f"{_LOGIN_FAILED} ({reason}).")


async def authenticate(request: Request) -> dict[str, Any]:
    """FastAPI dependency: accept a valid M2M bearer token or a valid TBA signature."""
    db = get_db(request)
    scheme = request.headers.get("authorization", "").split(" ", 1)[0].lower()
    if scheme == "bearer":
        return check_bearer(
            db, NAME, request, code=INVALID_LOGIN, message=f"{_LOGIN_FAILED} (the access token is invalid or expired)."
        )
    if scheme == "oauth":
        return _verify_tba(request, account(db))
    raise _refuse("send Authorization: Bearer <M2M access token> or Authorization: OAuth <TBA signature>")


def _encode(value: str) -> str:
    return quote(value, safe="-._~")


def signature_base_string(method: str, base_uri: str, params: list[tuple[str, str]]) -> str:
    """RFC 5849 §3.4.1: ``METHOD&uri&sorted-parameters``, each part percent-encoded."""
    normalized = "&".join(f"{k}={v}" for k, v in sorted((_encode(k), _encode(v)) for k, v in params))
    return "&".join((method.upper(), _encode(base_uri), _encode(normalized)))


def _base_uri(request: Request) -> str:
    scheme = request.url.scheme
    host = request.headers.get("host", request.url.netloc).lower()
    default_port = {"http": ":80", "https": ":443"}.get(scheme)
    if default_port and host.endswith(default_port):
        host = host.removesuffix(default_port)
    raw_path = request.scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else quote(request.url.path)
    return f"{scheme}://{host}{path.split('?', 1)[0]}"


def _verify_tba(request: Request, state: Account) -> dict[str, Any]:
    header = request.headers["authorization"].split(" ", 1)[1] if " " in request.headers["authorization"] else ""
    params = {unquote(k): unquote(v) for k, v in _HEADER_PARAM.findall(header)}
    needed = ("oauth_consumer_key", "oauth_token", "oauth_signature_method", "oauth_timestamp", "oauth_nonce")
    missing = [name for name in (*needed, "oauth_signature") if not params.get(name)]
    if missing:
        raise _refuse(f"the OAuth header lacks {', '.join(missing)}")
    if params.get("realm", "").upper() != ACCOUNT_ID:
        raise _refuse(f"realm {params.get('realm')!r} is not this account's id {ACCOUNT_ID!r}")
    if params["oauth_signature_method"] != "HMAC-SHA256":
        raise _refuse(f"signature method {params['oauth_signature_method']} is not supported; use HMAC-SHA256")
    if params["oauth_consumer_key"] != TBA_CONSUMER_KEY or params["oauth_token"] != TBA_TOKEN_ID:
        raise _refuse("unknown consumer key or token id")
    try:
        timestamp = int(params["oauth_timestamp"])
    except ValueError:
        raise _refuse("oauth_timestamp is not a number of seconds") from None
    now = time.time()
    if abs(now - timestamp) > TIMESTAMP_WINDOW_S:
        raise _refuse(f"oauth_timestamp {timestamp} is more than {TIMESTAMP_WINDOW_S} s from the server time")
    signed = [(k, v) for k, v in params.items() if k.startswith("oauth_") and k != "oauth_signature"]
    query = parse_qsl(request.scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    base_string = signature_base_string(request.method, _base_uri(request), [*query, *signed])
    key = f"{_encode(TBA_CONSUMER_SECRET)}&{_encode(TBA_TOKEN_SECRET)}".encode()
    expected = base64.b64encode(hmac.new(key, base_string.encode(), hashlib.sha256).digest()).decode()
    if not hmac.compare_digest(expected, params["oauth_signature"]):
        raise _refuse("the signature does not match the request")
    nonce = (params["oauth_consumer_key"], params["oauth_token"], params["oauth_nonce"])
    if not state.remember_nonce(nonce, timestamp, now=now, window_s=TIMESTAMP_WINDOW_S):
        raise _refuse("the nonce was already used")
    return {"subject": params["oauth_token"], "scheme": "tba"}


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _public_key(pem: str) -> Any:
    data = pem.encode()
    return x509.load_pem_x509_certificate(data).public_key() if b"CERTIFICATE" in data else load_pem_public_key(data)


def register_m2m_key(db: SandboxDB, *, kid: str, public_key_pem: str, client_id: str) -> None:
    """Register a certificate (or bare public key) PEM under its certificate id.

    Raises:
        ValueError: The PEM is neither a certificate nor a public key.
    """
    _public_key(public_key_pem)
    db.kv_set(NAME, f"m2m:key:{kid}", {"client_id": client_id, "public_key_pem": public_key_pem})


@router.post(TOKEN_PATH)
async def token(request: Request, db: AccountDB) -> JSONResponse:
    """OAuth 2.0 client credentials with a signed JWT client assertion (NetSuite M2M)."""
    form = dict(parse_qsl((await request.body()).decode("utf-8", errors="replace"), keep_blank_values=True))
    if form.get("grant_type") != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", "grant_type must be client_credentials")
    if form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE or not form.get("client_assertion"):
        return _oauth_error(
            400, "invalid_request", f"send client_assertion_type={CLIENT_ASSERTION_TYPE} and a client_assertion"
        )
    assertion = form["client_assertion"]
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError as exc:
        return _oauth_error(400, "invalid_request", f"client_assertion is not a JWT: {exc}")
    if header.get("alg") not in ASSERTION_ALGORITHMS:
        return _oauth_error(
            400, "invalid_request", f"alg {header.get('alg')!r} is not allowed; use one of {ASSERTION_ALGORITHMS}"
        )
    stored = db.kv_get(NAME, f"m2m:key:{header.get('kid')}")
    if stored is None:
        return _oauth_error(401, "invalid_client", f"no certificate is registered under kid {header.get('kid')!r}")
    try:
        claims = jwt.decode(
            assertion,
            _public_key(stored["public_key_pem"]),
            algorithms=[header["alg"]],
            options={"require": ["iss", "aud", "iat", "exp", "scope"], "verify_aud": False},
        )
    except jwt.PyJWTError as exc:
        return _oauth_error(401, "invalid_client", f"client_assertion was refused: {exc}")
    if claims["iss"] != stored["client_id"]:
        return _oauth_error(
            401, "invalid_client", f"iss {claims['iss']!r} is not the client of certificate {header['kid']!r}"
        )
    audience = claims["aud"] if isinstance(claims["aud"], str) else " ".join(claims["aud"])
    if not audience.rstrip("/").endswith(TOKEN_PATH):
        return _oauth_error(
            400, "invalid_request", f"aud must be the token endpoint URL (…{TOKEN_PATH}), got {audience!r}"
        )
    scope = claims["scope"]
    scopes = set(scope if isinstance(scope, list) else re.split(r"[,\s]+", str(scope)))
    if "rest_webservices" not in scopes:
        return _oauth_error(400, "invalid_scope", f"scope {scope!r} does not include rest_webservices")
    if claims["exp"] - claims["iat"] > TOKEN_TTL_S:
        return _oauth_error(400, "invalid_request", "the assertion's exp is more than 3600 s after its iat")
    access_token = issue_token(
        db, NAME, subject=claims["iss"], ttl_s=TOKEN_TTL_S, scope="rest_webservices", prefix="nsm2m."
    )
    return JSONResponse({"access_token": access_token, "token_type": "bearer", "expires_in": str(TOKEN_TTL_S)})
