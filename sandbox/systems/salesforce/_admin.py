"""Sandbox-only controls under ``/_admin/salesforce``.

- ``GET|PUT /settings`` — the daily API allocation (``api_daily_limit``), today's count
  (``api_used``), the query batch size (``query_batch_size``) and the logins being retired:
  ``soap_login`` and ``username_password_flow`` (both allowed unless set to false).
- ``POST /subscriptions`` ``{url, secret, channel?}`` — push change events of a channel
  (``/data/OpportunityChangeEvent`` by default, ``/data/ContractChangeEvent``, ...) to ``url``;
  ``GET /subscriptions``; ``DELETE /subscriptions/{id}``.
- ``GET /deliveries?record_id=`` — every relay delivery and its attempts.
- ``PUT /jwt-keys/{client_id}`` ``{public_key_pem}`` — accept JWT bearer assertions from that client.
- ``PUT /amendments/{opportunity_id}`` ``{close_date, end_date?, lines: [{product, role, quantity,
  unit_price}]}`` — what a sales rep does in the CPQ quote line editor after the ContractAmender
  created the amendment: replaces the amendment opportunity's delta lines and sets its close date,
  the quote's start (= that date) and, when given, the quote's end date.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from cryptography.hazmat.primitives.serialization import load_pem_public_key
from fastapi import APIRouter, Response
from pydantic import BaseModel, Field, HttpUrl, field_validator

from sandbox._framework import DB, SandboxHTTPError
from sandbox.systems.salesforce._auth import login_allowed, set_login_allowed
from sandbox.systems.salesforce._limits import api_usage, set_api_usage
from sandbox.systems.salesforce._relay import CHANNELS, DEFAULT_CHANNEL, DELIVERY, SUBSCRIPTION
from sandbox.systems.salesforce._routes import BATCH_SIZE_KEY, MAX_BATCH_SIZE
from sandbox.systems.salesforce._schema import API_VERSION, NAME, SOBJECTS
from sandbox.systems.salesforce._store import SaveContext, SaveError, create, delete, find, format_datetime, update

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
    channel: str = DEFAULT_CHANNEL

    @field_validator("channel")
    @classmethod
    def _known_channel(cls, value: str) -> str:
        if value not in CHANNELS:
            raise ValueError(f"unknown channel {value!r}: one of {', '.join(CHANNELS)}")
        return value


class AmendmentLine(BaseModel):
    """One delta line: hours added (or removed, negative) of a product, for a role, at a unit price."""

    product: str = Field(min_length=1)
    role: str = Field(min_length=1)
    quantity: Decimal
    unit_price: Decimal


class AmendmentEdit(BaseModel):
    """The delta lines and dates of an amendment opportunity and its quote."""

    close_date: date
    end_date: date | None = None
    lines: list[AmendmentLine] = Field(default_factory=list)


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
    stored = db.insert(
        NAME,
        SUBSCRIPTION,
        {"url": str(subscription.url), "secret": subscription.secret, "channel": subscription.channel},
    )
    return {"id": stored["id"], "url": stored["url"], "channel": stored["channel"]}


@router.get("/subscriptions")
def subscriptions(db: DB) -> list[dict[str, Any]]:
    """Registered subscribers (secrets are not shown)."""
    return [
        {"id": s["id"], "url": s["url"], "channel": s.get("channel") or DEFAULT_CHANNEL}
        for s in db.query(NAME, SUBSCRIPTION)
    ]


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


@router.put("/amendments/{opportunity_id}")
def edit_amendment(db: DB, opportunity_id: str, edit: AmendmentEdit) -> dict[str, Any]:
    """Set an amendment opportunity's delta lines, close date and its quote's dates."""
    ctx = SaveContext(db=db, version=API_VERSION, now=format_datetime(datetime.now(UTC)))
    opportunity_type, line_type, quote_type = (
        SOBJECTS["opportunity"],
        SOBJECTS["opportunitylineitem"],
        SOBJECTS["sbqq__quote__c"],
    )
    try:
        with db.transaction():
            opportunity = find(db, opportunity_type, opportunity_id)
            if not opportunity.get("SBQQ__AmendedContract__c") or not opportunity.get("SBQQ__PrimaryQuote__c"):
                raise SaveError(
                    400, "INVALID_OPERATION", f"Opportunity {opportunity_id} is no CPQ amendment opportunity"
                )
            for old in db.query(NAME, "OpportunityLineItem", where={"OpportunityId": opportunity["Id"]}):
                delete(ctx, line_type, old["Id"])
            for line in edit.lines:
                products = db.query(NAME, "Product2", where={"Name": line.product})
                if not products:
                    raise SaveError(400, "INVALID_CROSS_REFERENCE_KEY", f"no Product2 named {line.product!r}")
                create(
                    ctx,
                    line_type,
                    {
                        "OpportunityId": opportunity["Id"],
                        "Product2Id": products[0]["Id"],
                        "Quantity": str(line.quantity),
                        "UnitPrice": str(line.unit_price),
                        "Role__c": line.role,
                    },
                )
            update(ctx, opportunity_type, opportunity["Id"], {"CloseDate": edit.close_date.isoformat()})
            dates = {"SBQQ__StartDate__c": edit.close_date.isoformat()}
            if edit.end_date is not None:
                dates["SBQQ__EndDate__c"] = edit.end_date.isoformat()
            update(ctx, quote_type, opportunity["SBQQ__PrimaryQuote__c"], dates)
    except SaveError as exc:
        raise SandboxHTTPError(exc.status, exc.code, exc.message) from None
    saved = find(db, opportunity_type, opportunity_id)
    return {"id": saved["Id"], "amount": saved.get("Amount"), "close_date": saved["CloseDate"]}
