"""Signature checks with a reason: which of timestamp, freshness or HMAC made a request untrustworthy.

The connectors' pure functions decide (strict timestamp parsing, constant-time compare, the 5-minute
window); this module checks the timestamp first so a refusal can say "not a timestamp" or "stale"
rather than just "forged".
"""

from __future__ import annotations

from datetime import datetime

from connectors.hubspot.webhooks import TIMESTAMP_HEADER as HUBSPOT_TIMESTAMP
from connectors.hubspot.webhooks import parse_timestamp_ms, verify_signature_v3
from connectors.salesforce.notifications import TIMESTAMP_HEADER as RELAY_TIMESTAMP
from connectors.salesforce.notifications import parse_relay_timestamp, verify_relay_signature
from gateway._intake import Refusal, shown

__all__ = ["TOLERANCE_S", "verify_hubspot", "verify_relay"]

TOLERANCE_S = 300.0
"""How far a signed timestamp may be from the gateway's clock, either way (HubSpot's rule: 5 minutes)."""


def _fresh(sent_at_s: float, now: datetime, header: str) -> None:
    skew = now.timestamp() - sent_at_s
    if abs(skew) > TOLERANCE_S:
        direction = "old" if skew > 0 else "in the future"
        raise Refusal(
            401,
            "unauthorized",
            f"{header} is {abs(skew):.0f} s {direction}; requests are accepted within {TOLERANCE_S:.0f} s",
        )


def verify_hubspot(
    *, uri: str, body: bytes, timestamp_ms: str, signature: str, client_secret: str, now: datetime
) -> None:
    """Refuse (401) unless the request carries a fresh, matching HubSpot signature v3 over ``POST uri body ts``."""
    sent_ms = parse_timestamp_ms(timestamp_ms)
    if sent_ms is None:
        raise Refusal(
            401,
            "unauthorized",
            f"{HUBSPOT_TIMESTAMP} {shown(timestamp_ms)} is not epoch milliseconds (at most 15 ASCII digits)",
        )
    _fresh(sent_ms / 1000, now, HUBSPOT_TIMESTAMP)
    authentic = verify_signature_v3(
        method="POST",
        uri=uri,
        body=body,
        timestamp_ms=timestamp_ms,
        signature=signature,
        client_secret=client_secret,
        now=now,
        tolerance_s=TOLERANCE_S,
    )
    if not authentic:
        raise Refusal(401, "unauthorized", f"signature does not match the body, timestamp and URL {uri}")


def verify_relay(*, body: bytes, timestamp: str, signature: str, secret: str, now: datetime) -> None:
    """Refuse (401) unless the request carries a fresh, matching CDC relay signature."""
    sent_at = parse_relay_timestamp(timestamp)
    if sent_at is None:
        raise Refusal(
            401,
            "unauthorized",
            f"{RELAY_TIMESTAMP} {shown(timestamp)} is not Unix seconds (at most 12 ASCII digits)",
        )
    _fresh(sent_at, now, RELAY_TIMESTAMP)
    if not verify_relay_signature(body, timestamp, signature, secret, now=now, tolerance_s=TOLERANCE_S):
        raise Refusal(401, "unauthorized", "signature does not match the body and timestamp")
