"""What every part of the Workday emulator shares: the tenant, the demo API client, ids and guards."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import Request

from sandbox._auth import check_bearer, issue_refresh_token
from sandbox._db import SandboxDB
from sandbox._framework import SandboxHTTPError, system_root

NAME = "workday"
TENANT = "psflow_demo"
DEMO_CLIENT_ID = "psflow-demo"
DEMO_CLIENT_SECRET = "psflow-demo-secret"
DEMO_REFRESH_TOKEN = "psflow-demo-workday-refresh-token"
DEFAULT_TOKEN_TTL_S = 3600.0
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
STAFFING_REPORT = ("ISU_psflow", "psflow_Worker_Staffing")
"""(owner, report name) of the one web-service-enabled custom report the tenant offers."""

CLOCK_KEY = "clock"
TTL_KEY = "token_ttl_s"
REFRESH_TOKENS_KEY = "refresh_tokens"
_CREDENTIALS_KEY = "credentials_ready"
_NAMESPACE = uuid.UUID("5b0f6f0e-8d62-4c43-9a57-3f1d0e8f2a10")


def workday_id(kind: str, key: str) -> str:
    """A Workday ID (WID): 32 lowercase hex digits, stable for the same ``kind`` and ``key``."""
    return uuid.uuid5(_NAMESPACE, f"{kind}:{key}").hex


def check_tenant(tenant: str) -> None:
    """Reject a path for a tenant this sandbox does not host."""
    if tenant != TENANT:
        raise SandboxHTTPError(
            404, "invalid_tenant", f"Tenant {tenant!r} does not exist: this sandbox hosts the tenant {TENANT!r}"
        )


def authorise(db: SandboxDB, request: Request) -> dict[str, Any]:
    """Check the bearer access token; a missing, unknown or expired one is a 401."""
    return check_bearer(
        db,
        NAME,
        request,
        code="invalid_token",
        message="Invalid access token: it is missing, expired or revoked; request a new one with the refresh token",
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


def page_bounds(limit: int | None, offset: int | None) -> tuple[int, int]:
    """Validate Workday's ``limit`` (1..100, default 20) and zero-based ``offset``."""
    size = DEFAULT_LIMIT if limit is None else limit
    start = 0 if offset is None else offset
    if not 1 <= size <= MAX_LIMIT:
        raise SandboxHTTPError(400, "invalid_parameter", f"limit must be between 1 and {MAX_LIMIT}, got {size}")
    if start < 0:
        raise SandboxHTTPError(400, "invalid_parameter", f"offset must be zero or more, got {start}")
    return size, start


def api_root(request: Request, service: str, version: str) -> str:
    """Absolute URL of a REST service for this tenant, as the client reached the emulator."""
    return f"{system_root(request, NAME)}/ccx/api/{service}/{version}/{TENANT}"


def token_ttl(db: SandboxDB) -> float:
    """Lifetime of newly issued access tokens, in seconds."""
    return float(db.kv_get(NAME, TTL_KEY, DEFAULT_TOKEN_TTL_S))


def register_refresh_token(db: SandboxDB, *, token: str | None = None) -> str:
    """Issue a non-expiring refresh token for the demo API client and remember it for revocation."""
    issued = issue_refresh_token(db, NAME, subject=DEMO_CLIENT_ID, ttl_s=None, token=token)
    db.kv_set(NAME, REFRESH_TOKENS_KEY, [*db.kv_get(NAME, REFRESH_TOKENS_KEY, []), issued])
    return issued


def ensure_demo_credentials(db: SandboxDB) -> None:
    """Register the documented demo refresh token once per database (a reset registers it again)."""
    if db.kv_get(NAME, _CREDENTIALS_KEY) is None:
        with db.transaction():
            register_refresh_token(db, token=DEMO_REFRESH_TOKEN)
            db.kv_set(NAME, _CREDENTIALS_KEY, True)


def now(db: SandboxDB) -> datetime:
    """The emulator's time: pinned by ``PUT /_admin/workday/clock`` in tests, else wall time (UTC, ms)."""
    pinned = db.kv_get(NAME, CLOCK_KEY)
    moment = datetime.fromisoformat(pinned) if pinned else datetime.now(UTC)
    return moment.astimezone(UTC).replace(microsecond=moment.microsecond // 1000 * 1000)


def audit(db: SandboxDB, worker: dict[str, Any], task: str) -> None:
    """Log a business process on a worker for ``GET /auditLogs`` (research ``apis-round2.md`` §5)."""
    db.insert(
        NAME,
        "audit_log",
        {
            "worker_id": worker["id"],
            "worker_name": f"{worker['first_name']} {worker['last_name']}",
            "task": task,
            "at": now(db).isoformat(timespec="milliseconds"),
        },
    )
