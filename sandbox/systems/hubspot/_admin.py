"""Sandbox-only controls under ``/_admin/hubspot``.

- ``GET|PUT /limits`` — the account's rate limits and search cap, and current usage.
- ``POST /tokens`` — issue an OAuth access token with chosen scopes and lifetime.
- ``POST|GET /webhooks``, ``DELETE /webhooks/{id}`` — webhook subscriptions.
- ``GET /webhooks/deliveries`` — every delivery attempt, oldest first.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from sandbox._auth import issue_token
from sandbox._framework import DB
from sandbox.systems.hubspot._auth import ALL_SCOPES
from sandbox.systems.hubspot._limits import limiter
from sandbox.systems.hubspot._schema import ACCESS_TOKEN_TTL_S, CLIENT_ID, NAME
from sandbox.systems.hubspot._webhooks import DELIVERY, SUBSCRIPTION, SubscriptionIn

__all__ = ["admin_router"]

admin_router = APIRouter(tags=["hubspot admin"])


class LimitsIn(BaseModel):
    """New limits; omitted fields keep their value."""

    ten_second_max: int | None = Field(None, ge=1)
    interval_ms: int | None = Field(None, ge=1)
    daily_max: int | None = Field(None, ge=1)
    search_result_cap: int | None = Field(None, ge=1)


class TokenIn(BaseModel):
    """An access token to issue."""

    scopes: list[str] | None = None
    ttl_s: float = Field(ACCESS_TOKEN_TTL_S, gt=0)


def _limits(request: Request) -> dict[str, Any]:
    current = limiter(request)
    return {"limits": asdict(current.limits), "usage": current.usage()}


@admin_router.get("/limits")
def get_limits(request: Request) -> dict[str, Any]:
    """The account's limits and how much of them is used."""
    return _limits(request)


@admin_router.put("/limits")
def put_limits(request: Request, payload: LimitsIn) -> dict[str, Any]:
    """Change the limits, e.g. a 20-per-second window for a throttling test."""
    current = limiter(request).limits
    for name, value in payload.model_dump(exclude_none=True).items():
        setattr(current, name, value)
    return _limits(request)


@admin_router.post("/tokens", status_code=201)
def issue_access_token(payload: TokenIn, db: DB) -> dict[str, Any]:
    """An OAuth access token with the given scopes (all CRM scopes by default)."""
    scope = " ".join(payload.scopes) if payload.scopes is not None else ALL_SCOPES
    token = issue_token(db, NAME, subject=CLIENT_ID, ttl_s=payload.ttl_s, scope=scope, prefix="CJ")
    return {"access_token": token, "expires_in": payload.ttl_s, "scope": scope}


@admin_router.post("/webhooks", status_code=201)
def subscribe(payload: SubscriptionIn, db: DB) -> dict[str, Any]:
    """Register a webhook subscription (default: ``deal.propertyChange`` of ``dealstage``)."""
    return db.insert(
        NAME,
        SUBSCRIPTION,
        {
            "targetUrl": payload.target_url,
            "clientSecret": payload.client_secret,
            "subscriptionType": payload.subscription_type,
            "propertyName": payload.property_name,
            "maxAttempts": payload.max_attempts,
            "retryDelayS": payload.retry_delay_s,
        },
    )


@admin_router.get("/webhooks")
def subscriptions(db: DB) -> dict[str, Any]:
    """Every subscription."""
    return {"results": db.query(NAME, SUBSCRIPTION)}


@admin_router.delete("/webhooks/{subscription_id}", status_code=204)
def unsubscribe(subscription_id: str, db: DB) -> Response:
    """Remove a subscription."""
    db.delete(NAME, SUBSCRIPTION, subscription_id)
    return Response(status_code=204)


@admin_router.get("/webhooks/deliveries")
def deliveries(db: DB, subscription_id: int | None = None) -> dict[str, Any]:
    """Delivery attempts, oldest first, optionally of one subscription."""
    where = {"subscriptionId": subscription_id} if subscription_id is not None else None
    return {"results": db.query(NAME, DELIVERY, where=where)}
