"""Sandbox-only controls under ``/_admin/netsuite`` (never faulted, no auth).

- ``GET /_admin/netsuite/state`` — concurrency limit, in-flight/peak/rejected counters, service
  time, record counts and accounting periods.
- ``PUT /_admin/netsuite/concurrency`` ``{"limit": 5, "service_time_ms": 0}`` — set the
  account's concurrency limit (and how long each request holds its slot); restarts the counters.
- ``PUT /_admin/netsuite/periods/{YYYY-MM}`` ``{"closed": true}`` — close or reopen a period, or set
  up a month the account has no period for yet (as an administrator adds a fiscal year).
- ``POST /_admin/netsuite/m2m-keys`` ``{"kid", "public_key_pem", "client_id"}`` — register the
  certificate (or public key) an M2M client signs its assertions with.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from sandbox._framework import DB, SandboxHTTPError
from sandbox.systems.netsuite._account import account
from sandbox.systems.netsuite._auth import register_m2m_key
from sandbox.systems.netsuite._seed import period_body
from sandbox.systems.netsuite._store import PERIOD_KIND
from sandbox.systems.netsuite._types import KINDS, NAME

router = APIRouter(tags=["netsuite admin"])


class Governance(BaseModel):
    """The account's concurrency governance."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(ge=1, description="Requests allowed in flight at once")
    service_time_ms: float = Field(0, ge=0, description="How long each request holds its slot")


class PeriodStatus(BaseModel):
    """Whether an accounting period accepts postings."""

    model_config = ConfigDict(extra="forbid")

    closed: bool


class M2MKey(BaseModel):
    """A certificate registered for OAuth 2.0 M2M (NetSuite's "certificate id" is the kid)."""

    model_config = ConfigDict(extra="forbid")

    kid: str = Field(min_length=1)
    public_key_pem: str = Field(min_length=1, description="PEM certificate or public key")
    client_id: str = Field(min_length=1, description="The integration's client id: the assertion's iss")


def _periods(db: DB) -> list[dict[str, Any]]:
    return [
        {"key": p["startDate"][:7], "id": p["id"], "name": p["periodName"], "closed": p["closed"]}
        for p in db.query(NAME, PERIOD_KIND, order_by="startDate")
    ]


@router.get("/state")
def state(db: DB) -> dict[str, Any]:
    """Governance counters, record counts and accounting periods."""
    counts = db.counts().get(NAME, {})
    return {
        **account(db).snapshot(),
        "counts": {kind: counts.get(kind, 0) for kind in KINDS},
        "periods": _periods(db),
    }


@router.put("/concurrency")
def set_concurrency(governance: Governance, db: DB) -> dict[str, Any]:
    """Set the concurrency limit and service time; counters restart from zero."""
    account(db).configure(db, limit=governance.limit, service_time_ms=governance.service_time_ms)
    return account(db).snapshot()


@router.put("/periods/{period}")
def set_period(period: str, status: PeriodStatus, db: DB) -> dict[str, Any]:
    """Close or reopen the accounting period ``YYYY-MM``, setting it up first if the account has none."""
    try:
        start = date.fromisoformat(f"{period}-01")
    except ValueError:
        raise SandboxHTTPError(400, "invalid_request", f"period {period!r} is not a month written as YYYY-MM") from None
    with db.transaction():
        found = db.find_by_ext_key(NAME, PERIOD_KIND, period)
        if found is None:
            found = db.insert(NAME, PERIOD_KIND, period_body(start, closed=status.closed), ext_key=period)
        updated = db.update(NAME, PERIOD_KIND, found["id"], {"closed": status.closed})
    return {"key": period, "id": updated["id"], "name": updated["periodName"], "closed": updated["closed"]}


@router.post("/m2m-keys", status_code=201)
def add_m2m_key(key: M2MKey, db: DB) -> dict[str, str]:
    """Register a certificate for M2M client assertions."""
    try:
        register_m2m_key(db, kid=key.kid, public_key_pem=key.public_key_pem, client_id=key.client_id)
    except ValueError as exc:
        raise SandboxHTTPError(
            400, "invalid_request", f"public_key_pem is not a PEM certificate or public key: {exc}"
        ) from None
    return {"kid": key.kid, "client_id": key.client_id}
