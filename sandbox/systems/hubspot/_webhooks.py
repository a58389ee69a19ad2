"""Webhook subscriptions and their deliveries, signed with HubSpot's signature v3.

A change to a record is matched against the subscriptions (``deal.propertyChange`` for a
property, ``deal.creation``, ``deal.deletion``, and the same for companies, contacts and line
items); each subscription gets one POST with a JSON array of its events. Delivery runs on a
background thread so the write that caused it never waits; a non-2xx answer or a network failure
is retried with exponential backoff up to the subscription's ``max_attempts``, re-signed each
time, and every attempt is recorded.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import logging
import re
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, model_validator

from sandbox._db import SandboxDB
from sandbox.systems.hubspot._schema import APP_ID, NAME, OBJECT_TYPES, PORTAL_ID

__all__ = ["DELIVERY", "SUBSCRIPTION", "SubscriptionIn", "events_for", "publish", "sign_v3"]

log = logging.getLogger("sandbox.hubspot.webhooks")

SUBSCRIPTION = "webhook_subscription"
DELIVERY = "webhook_delivery"
_SINGULAR = {spec.singular: spec for spec in OBJECT_TYPES.values()}
_CHANGES = ("creation", "propertyChange", "deletion")
_MAX_BACKOFF_S = 60.0
_TIMEOUT_S = 5.0
_DECODED = {
    "%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$",
    "%27": "'", "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";",
}  # fmt: skip
_ESCAPE = re.compile("|".join(_DECODED), re.IGNORECASE)


class SubscriptionIn(BaseModel):
    """``POST /_admin/hubspot/webhooks``: where to send which changes, and the signing secret."""

    target_url: str = Field(pattern=r"^https?://")
    client_secret: str = Field(min_length=1)
    subscription_type: str = "deal.propertyChange"
    property_name: str | None = "dealstage"
    max_attempts: int = Field(5, ge=1, le=10)
    retry_delay_s: float = Field(1.0, ge=0, le=3600)

    @model_validator(mode="after")
    def _known(self) -> SubscriptionIn:
        singular, _, change = self.subscription_type.partition(".")
        if singular not in _SINGULAR or change not in _CHANGES:
            kinds = ", ".join(f"{s}.{c}" for s in _SINGULAR for c in _CHANGES)
            raise ValueError(f"unknown subscription_type {self.subscription_type!r}: use one of {kinds}")
        if change == "propertyChange":
            if not self.property_name or self.property_name not in _SINGULAR[singular].properties:
                raise ValueError(f"{self.subscription_type} needs a property_name of a {singular} property")
        else:
            self.property_name = None
        return self


def sign_v3(method: str, uri: str, body: bytes, timestamp_ms: str, client_secret: str) -> str:
    """``base64(HMAC-SHA256(client_secret, method + uri + body + timestamp))``, the URI partly decoded."""
    signed_uri = _ESCAPE.sub(lambda match: _DECODED[match.group(0).upper()], uri)
    message = method.encode() + signed_uri.encode() + body + timestamp_ms.encode()
    return base64.b64encode(hmac.new(client_secret.encode(), message, hashlib.sha256).digest()).decode()


def events_for(
    db: SandboxDB, object_type: str, object_id: str, change: str, properties: dict[str, str] | None = None
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """``(subscription, event)`` pairs for one change of one record.

    Args:
        db: The sandbox DB.
        object_type: The record's type (``deals``).
        object_id: The record's id.
        change: ``creation``, ``propertyChange`` or ``deletion``.
        properties: For property changes, the changed properties and their new values.
    """
    subscription_type = f"{OBJECT_TYPES[object_type].singular}.{change}"
    pairs = []
    for subscription in db.query(NAME, SUBSCRIPTION, where={"subscriptionType": subscription_type}):
        name = subscription["propertyName"]
        if change == "propertyChange" and name not in (properties or {}):
            continue
        event: dict[str, Any] = {
            "eventId": db.kv_incr(NAME, "webhook:event_id"),
            "subscriptionId": int(subscription["id"]),
            "portalId": PORTAL_ID,
            "appId": APP_ID,
            "occurredAt": int(time.time() * 1000),
            "subscriptionType": subscription_type,
            "attemptNumber": 0,
            "objectId": int(object_id),
            "changeSource": "API",
        }
        if change == "propertyChange":
            event |= {"propertyName": name, "propertyValue": (properties or {})[name]}
        else:
            event["changeFlag"] = "CREATED" if change == "creation" else "DELETED"
        pairs.append((subscription, event))
    return pairs


def publish(db: SandboxDB, pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    """Start delivering events in the background, one request per subscription."""
    grouped: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    for subscription, event in pairs:
        grouped.setdefault(subscription["id"], (subscription, []))[1].append(event)
    for subscription, events in grouped.values():
        threading.Thread(
            target=_deliver, args=(db, subscription, events), name=f"hubspot-webhook-{subscription['id']}", daemon=True
        ).start()


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str | None]:
    # http.client keeps header names as written (urllib would send "X-hubspot-signature-v3").
    parts = urlsplit(url)
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    target = parts.path or "/"
    if parts.query:
        target += f"?{parts.query}"
    try:
        connection = connection_class(parts.netloc, timeout=_TIMEOUT_S)
        try:
            connection.request("POST", target, body=body, headers=headers)
            return connection.getresponse().status, None
        finally:
            connection.close()
    except (OSError, http.client.HTTPException) as exc:
        return None, f"{type(exc).__name__}: {exc}"


def _deliver(db: SandboxDB, subscription: dict[str, Any], events: list[dict[str, Any]]) -> None:
    url = subscription["targetUrl"]
    for attempt in range(subscription["maxAttempts"]):
        body = json.dumps([{**event, "attemptNumber": attempt} for event in events]).encode()
        timestamp = str(int(time.time() * 1000))
        headers = {
            "Content-Type": "application/json",
            "X-HubSpot-Signature-v3": sign_v3("POST", url, body, timestamp, subscription["clientSecret"]),
            "X-HubSpot-Request-Timestamp": timestamp,
        }
        status, error = _post(url, body, headers)
        delivered = status is not None and 200 <= status < 300
        record = {
            "subscriptionId": int(subscription["id"]),
            "targetUrl": url,
            "attemptNumber": attempt,
            "eventIds": [event["eventId"] for event in events],
            "status": status,
            "error": error,
            "delivered": delivered,
            "timestamp": timestamp,
        }
        try:
            db.insert(NAME, DELIVERY, record)
        except Exception:
            log.warning("webhook delivery to %s not recorded: the sandbox DB is closed", url)
            return
        if delivered:
            return
        if attempt + 1 < subscription["maxAttempts"]:
            time.sleep(min(subscription["retryDelayS"] * 2**attempt, _MAX_BACKOFF_S))
