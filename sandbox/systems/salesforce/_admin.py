"""Sandbox-only controls under ``/_admin/salesforce``.

- ``GET|PUT /settings`` — the daily API allocation (``api_daily_limit``), today's count
  (``api_used``), the query batch size (``query_batch_size``) and the logins being retired:
  ``soap_login`` and ``username_password_flow`` (both allowed unless set to false).
- ``POST /subscriptions`` ``{url, secret}`` — push Opportunity change events to ``url``;
  ``GET /subscriptions``; ``DELETE /subscriptions/{id}``.
- ``GET /deliveries?record_id=`` — every relay delivery and its attempts.
- ``PUT /jwt-keys/{client_id}`` ``{public_key_pem}`` — accept JWT bearer assertions from that client.
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.serialization import load_pem_public_key
from fastapi import APIRouter, Response
from pydantic import BaseModel, Field, HttpUrl

from sandbox._framework import DB, SandboxHTTPError
from sandbox.systems.salesforce._auth import login_allowed, set_login_allowed
from sandbox.systems.salesforce._limits import api_usage, set_api_usage
from sandbox.systems.salesforce._relay import DELIVERY, SUBSCRIPTION
from sandbox.systems.salesforce._routes import BATCH_SIZE_KEY, MAX_BATCH_SIZE
from sandbox.systems.salesforce._schema import NAME

__all__ = ["router"]

router = APIRouter(tags=["salesforce admin"])


class SettingsChange(BaseModel):
    """Sandbox settings to change; omitted ones stay as they are."""

    api_daily_limit: int | None = Field(None, ge=0)
    api_used: int | None = Field(None, ge=0)
    query_batch_size: int | None = Field(None, ge=1, le=MAX_BATCH_SIZE)
    soap_login: bool | None = None
    username_password_flow: bool | None = None


class Subscription(BaseModel):
    """Where to push change events, and the secret to sign them with."""

    url: HttpUrl
    secret: str = Field(min_length=8)


class JwtKey(BaseModel):
    """The PEM public key a client signs its JWT bearer assertions with."""

    public_key_pem: str


def _settings(db: DB) -> dict[str, Any]:
    used, limit = api_usage(db)
    return {
        "api_daily_limit": limit,
        "api_used": used,
        "query_batch_size": db.kv_get(NAME, BATCH_SIZE_KEY, MAX_BATCH_SIZE),
        "soap_login": login_allowed(db, "soap_login"),
        "username_password_flow": login_allowed(db, "username_password_flow"),
    }


@router.get("/settings")
def get_settings(db: DB) -> dict[str, Any]:
    """The API allocation, today's usage and the query batch size."""
    return _settings(db)


@router.put("/settings")
def put_settings(db: DB, change: SettingsChange) -> dict[str, Any]:
    """Change the API allocation, today's usage or the query batch size."""
    set_api_usage(db, used=change.api_used, limit=change.api_daily_limit)
    if change.query_batch_size is not None:
        db.kv_set(NAME, BATCH_SIZE_KEY, change.query_batch_size)
    for kind in ("soap_login", "username_password_flow"):
        allowed = getattr(change, kind)
        if allowed is not None:
            set_login_allowed(db, kind, allowed)
    return _settings(db)


@router.post("/subscriptions", status_code=201)
def subscribe(db: DB, subscription: Subscription) -> dict[str, Any]:
    """Register a change-event subscriber."""
    stored = db.insert(NAME, SUBSCRIPTION, {"url": str(subscription.url), "secret": subscription.secret})
    return {"id": stored["id"], "url": stored["url"]}


@router.get("/subscriptions")
def subscriptions(db: DB) -> list[dict[str, Any]]:
    """Registered subscribers (secrets are not shown)."""
    return [{"id": s["id"], "url": s["url"]} for s in db.query(NAME, SUBSCRIPTION)]


@router.delete("/subscriptions/{subscription_id}", status_code=204)
def unsubscribe(db: DB, subscription_id: str) -> Response:
    """Stop pushing events to a subscriber."""
    if not db.delete(NAME, SUBSCRIPTION, subscription_id):
        raise SandboxHTTPError(404, "not_found", f"no subscription {subscription_id!r}")
    return Response(status_code=204)


@router.get("/deliveries")
def deliveries(db: DB, record_id: str | None = None) -> list[dict[str, Any]]:
    """Relay deliveries, oldest first, optionally for one Opportunity id."""
    return db.query(NAME, DELIVERY, where={"record_id": record_id} if record_id else None)


@router.put("/jwt-keys/{client_id}")
def put_jwt_key(db: DB, client_id: str, key: JwtKey) -> dict[str, str]:
    """Register the public key of a connected app using the JWT bearer flow."""
    try:
        load_pem_public_key(key.public_key_pem.encode())
    except ValueError as exc:
        raise SandboxHTTPError(400, "invalid_request", f"public_key_pem is not a PEM public key: {exc}") from None
    db.kv_set(NAME, f"jwt_key:{client_id}", key.public_key_pem)
    return {"client_id": client_id}
