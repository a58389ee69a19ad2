"""Inbound HubSpot webhooks: signature v3 verification, the event model, and won-deal detection.

HubSpot POSTs a JSON array of events and signs each request with
``X-HubSpot-Signature-v3 = base64(HMAC-SHA256(app client secret,
method + uri + raw body + X-HubSpot-Request-Timestamp))``. Everything here is pure, so the
gateway can verify before it parses and tests can sign what they send.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Collection, Iterable
from datetime import UTC, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "WebhookEvent",
    "deal_ids_moved_into",
    "parse_timestamp_ms",
    "parse_webhook_events",
    "sign_v3",
    "verify_signature_v3",
    "won_deal_ids",
]

SIGNATURE_HEADER = "X-HubSpot-Signature-v3"
TIMESTAMP_HEADER = "X-HubSpot-Request-Timestamp"

# HubSpot signs the URI with these percent-escapes decoded (its request-validation guide lists them).
_DECODED_ESCAPES = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}
_ESCAPE = re.compile("|".join(_DECODED_ESCAPES), re.IGNORECASE)


_TIMESTAMP_MS = re.compile(r"[0-9]{1,15}")
"""Epoch milliseconds in ASCII digits; 15 digits reach the year 33658, so longer is no timestamp."""

_Long = Annotated[int, Field(ge=0, le=2**63 - 1)]
"""HubSpot's ids and epoch-millisecond times are non-negative Java longs."""


def parse_timestamp_ms(value: str) -> int | None:
    """The ``X-HubSpot-Request-Timestamp`` value as epoch milliseconds, or None when it is not one.

    Only ASCII digits are read: ``str.isdigit`` and ``int`` also accept other scripts' digits and
    superscripts (``"\u00b2"``), and an unbounded number of them.
    """
    return int(value) if _TIMESTAMP_MS.fullmatch(value) else None


def _signed_uri(uri: str) -> str:
    return _ESCAPE.sub(lambda match: _DECODED_ESCAPES[match.group(0).upper()], uri)


def sign_v3(*, method: str, uri: str, body: bytes, timestamp_ms: str, client_secret: str) -> str:
    """The v3 signature HubSpot would send for this request.

    Args:
        method: The HTTP method, e.g. ``"POST"``.
        uri: The full URL the request was sent to (scheme, host, path and query).
        body: The raw request body.
        timestamp_ms: The ``X-HubSpot-Request-Timestamp`` value (epoch milliseconds).
        client_secret: The app's client secret.

    Returns:
        The base64 HMAC-SHA256 signature.
    """
    message = method.upper().encode() + _signed_uri(uri).encode() + body + timestamp_ms.encode()
    digest = hmac.new(client_secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_signature_v3(
    *,
    method: str,
    uri: str,
    body: bytes,
    timestamp_ms: str,
    signature: str,
    client_secret: str,
    now: datetime,
    tolerance_s: float = 300,
) -> bool:
    """Whether a webhook request is authentic and fresh.

    Args:
        method: The HTTP method the request arrived with.
        uri: The full URL it was sent to, as HubSpot saw it (behind a proxy: the public URL).
        body: The raw body bytes, before any JSON parsing.
        timestamp_ms: The ``X-HubSpot-Request-Timestamp`` header.
        signature: The ``X-HubSpot-Signature-v3`` header.
        client_secret: The app's client secret.
        now: The current time (timezone-aware).
        tolerance_s: How far the timestamp may be from `now` (HubSpot: 5 minutes).

    Returns:
        False when the timestamp is unreadable or outside the window, or the signature differs.

    Raises:
        ValueError: `now` is naive.
    """
    if now.tzinfo is None:
        raise ValueError(f"now={now.isoformat()} has no time zone: pass an aware datetime")
    sent_ms = parse_timestamp_ms(timestamp_ms)
    if sent_ms is None:
        return False
    age_s = now.timestamp() - sent_ms / 1000
    if abs(age_s) > tolerance_s:
        return False
    expected = sign_v3(method=method, uri=uri, body=body, timestamp_ms=timestamp_ms, client_secret=client_secret)
    return hmac.compare_digest(expected.encode(), signature.strip().encode("utf-8", "replace"))


class WebhookEvent(BaseModel):
    """One event of a webhook delivery.

    Attributes:
        event_id: Unique per event; redeliveries keep it, so it is the deduplication key.
        subscription_id: The app's subscription that matched.
        portal_id: The HubSpot account.
        app_id: The app the subscription belongs to.
        occurred_at: When the change happened, epoch milliseconds.
        subscription_type: E.g. ``deal.propertyChange``, ``deal.creation``.
        attempt_number: 0 on the first delivery, then 1, 2, ... on retries.
        object_id: The changed record's id.
        property_name: For property changes: the property.
        property_value: For property changes: the new value.
        change_source: What made the change (``CRM_UI``, ``API``, ``INTEGRATION``...).
    """

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    event_id: _Long = Field(alias="eventId")
    subscription_id: _Long = Field(alias="subscriptionId")
    portal_id: _Long = Field(alias="portalId")
    app_id: _Long = Field(alias="appId")
    occurred_at: _Long = Field(alias="occurredAt")
    subscription_type: str = Field(alias="subscriptionType")
    attempt_number: _Long = Field(default=0, alias="attemptNumber")
    object_id: _Long = Field(alias="objectId")
    property_name: str | None = Field(default=None, alias="propertyName")
    property_value: str | None = Field(default=None, alias="propertyValue")
    change_source: str | None = Field(default=None, alias="changeSource")

    @property
    def occurred(self) -> datetime:
        """`occurred_at` as a UTC datetime."""
        return datetime.fromtimestamp(self.occurred_at / 1000, tz=UTC)


_EVENTS = TypeAdapter(list[WebhookEvent])


def parse_webhook_events(body: bytes) -> list[WebhookEvent]:
    """The events of a delivery body (a JSON array).

    Raises:
        pydantic.ValidationError: The body is not an array of HubSpot events.
    """
    return _EVENTS.validate_json(body)


def deal_ids_moved_into(events: Iterable[WebhookEvent], stages: Collection[str]) -> list[str]:
    """Ids of deals the events move into any of `stages`, in order, each once.

    With `HubSpotConnector.change_order_won_stages()` these are the change orders just signed.
    """
    moved = (
        str(event.object_id)
        for event in events
        if event.subscription_type == "deal.propertyChange"
        and event.property_name == "dealstage"
        and event.property_value in stages
    )
    return list(dict.fromkeys(moved))


def won_deal_ids(events: Iterable[WebhookEvent], won_stage: str = "closedwon") -> list[str]:
    """Ids of deals the events move into the won stage, in order, each once."""
    return deal_ids_moved_into(events, {won_stage})
