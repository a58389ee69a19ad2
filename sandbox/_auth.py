"""Token book-keeping shared by the emulated systems.

Systems keep their own token endpoints (each API's grant types and response shapes differ) and
use these helpers to issue, check and expire opaque tokens. Tokens live in the DB's key/value
state, so they survive a sandbox restart.

``expire_all_tokens`` bumps a per-system generation: every access token issued before it stops
working at once (the ``token_expiry`` fault), while refresh tokens keep working so a client's
refresh-and-replay path can be exercised.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from fastapi import Request

from sandbox._db import SandboxDB
from sandbox._framework import SandboxHTTPError

__all__ = [
    "check_bearer",
    "check_token",
    "expire_all_tokens",
    "issue_refresh_token",
    "issue_token",
    "redeem_refresh_token",
    "revoke_token",
]

_GENERATION = "auth:generation"


def _key(kind: str, token: str) -> str:
    return f"auth:{kind}:{token}"


def _store(
    db: SandboxDB,
    system: str,
    kind: str,
    *,
    subject: str,
    ttl_s: float | None,
    scope: str | None,
    token: str | None,
    prefix: str,
    extra: dict[str, Any] | None,
) -> str:
    token = token or prefix + secrets.token_urlsafe(32)
    now = time.time()
    db.kv_set(
        system,
        _key(kind, token),
        {
            **(extra or {}),
            "subject": subject,
            "scope": scope,
            "issued_at": now,
            "expires_at": None if ttl_s is None else now + ttl_s,
            "generation": db.kv_get(system, _GENERATION, 0),
        },
    )
    return token


def issue_token(
    db: SandboxDB,
    system: str,
    *,
    subject: str,
    ttl_s: float | None,
    scope: str | None = None,
    token: str | None = None,
    prefix: str = "",
    extra: dict[str, Any] | None = None,
) -> str:
    """Issue an access token and return it.

    Args:
        db: The sandbox database.
        system: Owning system name.
        subject: Who the token is for (client id, user, integration).
        ttl_s: Lifetime in seconds; None never expires (it can still be expired by
            ``expire_all_tokens`` or revoked).
        scope: Granted scope, returned by checks.
        token: Register this exact value instead of a random one (static API keys).
        prefix: Prepended to a random token so it looks like the real API's.
        extra: More fields returned by ``check_bearer`` (e.g. instance URL, account id).
    """
    return _store(
        db, system, "access", subject=subject, ttl_s=ttl_s, scope=scope, token=token, prefix=prefix, extra=extra
    )


def issue_refresh_token(
    db: SandboxDB,
    system: str,
    *,
    subject: str,
    ttl_s: float | None = None,
    scope: str | None = None,
    token: str | None = None,
    prefix: str = "",
    extra: dict[str, Any] | None = None,
) -> str:
    """Issue a refresh token (not affected by ``expire_all_tokens``) and return it."""
    return _store(
        db, system, "refresh", subject=subject, ttl_s=ttl_s, scope=scope, token=token, prefix=prefix, extra=extra
    )


def _valid(info: Any, *, generation: int | None) -> bool:
    if not isinstance(info, dict):
        return False
    if info["expires_at"] is not None and time.time() >= info["expires_at"]:
        return False
    return generation is None or info["generation"] >= generation


def check_token(db: SandboxDB, system: str, token: str) -> dict[str, Any] | None:
    """Return the access token's info if it is valid now, else None."""
    info = db.kv_get(system, _key("access", token))
    if not _valid(info, generation=db.kv_get(system, _GENERATION, 0)):
        return None
    return {**info, "token": token}


def check_bearer(
    db: SandboxDB,
    system: str,
    request: Request,
    *,
    status: int = 401,
    code: str = "unauthorized",
    message: str = "The bearer token is missing, invalid or expired: obtain a new access token",
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Check ``Authorization: Bearer <token>`` and return the token's info.

    Raises:
        SandboxHTTPError: With the given status/code/message (rendered in the system's error
            shape) when the header is missing or the token is unknown, expired or revoked.
    """
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    info = check_token(db, system, token.strip()) if scheme.lower() == "bearer" and token.strip() else None
    if info is None:
        raise SandboxHTTPError(status, code, message, headers)
    return info


def redeem_refresh_token(db: SandboxDB, system: str, token: str) -> dict[str, Any] | None:
    """Return the refresh token's info if it is valid now, else None (the token stays valid)."""
    info = db.kv_get(system, _key("refresh", token))
    if not _valid(info, generation=None):
        return None
    return {**info, "token": token}


def revoke_token(db: SandboxDB, system: str, token: str) -> bool:
    """Revoke an access or refresh token; True if it existed."""
    return db.kv_delete(system, _key("access", token)) | db.kv_delete(system, _key("refresh", token))


def expire_all_tokens(db: SandboxDB, system: str) -> None:
    """Make every access token the system has issued so far invalid."""
    db.kv_incr(system, _GENERATION)
