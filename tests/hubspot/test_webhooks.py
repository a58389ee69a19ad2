"""Signature v3 verification, the event model and won-deal detection (pure functions)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from connectors.hubspot.webhooks import parse_webhook_events, sign_v3, verify_signature_v3, won_deal_ids

SECRET = "psflow-demo-secret"
URI = "https://gateway.example.com/webhooks/hubspot?portal=145000001"
NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
TIMESTAMP = str(int(NOW.timestamp() * 1000))
BODY = json.dumps(
    [
        {
            "eventId": 101,
            "subscriptionId": 7,
            "portalId": 145000001,
            "appId": 4200001,
            "occurredAt": 1777896000000,
            "subscriptionType": "deal.propertyChange",
            "attemptNumber": 0,
            "objectId": 9100000002,
            "propertyName": "dealstage",
            "propertyValue": "closedwon",
            "changeSource": "CRM_UI",
        }
    ]
).encode()


def signature(body: bytes = BODY, uri: str = URI, timestamp: str = TIMESTAMP, secret: str = SECRET) -> str:
    """The v3 signature computed the way HubSpot's guide describes, independently of the code under test."""
    message = f"POST{uri}".encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def verify(**overrides: object) -> bool:
    arguments: dict[str, object] = {
        "method": "POST",
        "uri": URI,
        "body": BODY,
        "timestamp_ms": TIMESTAMP,
        "signature": signature(),
        "client_secret": SECRET,
        "now": NOW,
    }
    arguments.update(overrides)
    return verify_signature_v3(**arguments)  # type: ignore[arg-type]


def test_authentic_request_verifies() -> None:
    assert sign_v3(method="POST", uri=URI, body=BODY, timestamp_ms=TIMESTAMP, client_secret=SECRET) == signature()
    assert verify()


@pytest.mark.parametrize(
    "overrides",
    [
        {"body": BODY.replace(b"closedwon", b"closedlost")},
        {"body": BODY + b" "},
        {"client_secret": "someone-elses-secret"},
        {"method": "PUT"},
        {"uri": URI.replace("portal=", "portal=1")},
        {"signature": signature()[:-4] + "AAA="},
        {"signature": ""},
    ],
    ids=["tampered-body", "reserialised-body", "wrong-secret", "wrong-method", "wrong-uri", "forged", "empty"],
)
def test_forged_requests_do_not_verify(overrides: dict[str, object]) -> None:
    assert not verify(**overrides)


@pytest.mark.parametrize(
    ("now", "accepted"),
    [
        (NOW + timedelta(minutes=4, seconds=59), True),
        (NOW + timedelta(minutes=5, seconds=1), False),
        (NOW - timedelta(minutes=5, seconds=1), False),
        (NOW + timedelta(hours=3), False),
    ],
    ids=["fresh", "stale", "from-the-future", "replayed-later"],
)
def test_timestamp_window_is_five_minutes(now: datetime, accepted: bool) -> None:
    assert verify(now=now) is accepted


def test_timestamp_is_part_of_the_signature() -> None:
    later = str(int(TIMESTAMP) + 1000)
    assert not verify(timestamp_ms=later)
    assert verify(timestamp_ms=later, signature=signature(timestamp=later))


@pytest.mark.parametrize("timestamp", ["", "soon", "-5", "1.5e12"])
def test_unreadable_timestamp_does_not_verify(timestamp: str) -> None:
    assert not verify(timestamp_ms=timestamp)


def test_uri_is_signed_with_hubspot_decoded_escapes() -> None:
    encoded = "https://gateway.example.com/webhooks/hubspot?callback=https%3A%2F%2Fx.example%2Fa%20b"
    decoded = "https://gateway.example.com/webhooks/hubspot?callback=https://x.example/a%20b"
    assert verify(uri=encoded, signature=signature(uri=decoded))
    assert verify(uri=decoded, signature=signature(uri=decoded))


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="time zone"):
        verify(now=datetime(2026, 5, 4, 12))


def event(event_id: int, object_id: int, value: str, **fields: object) -> dict[str, object]:
    return {
        "eventId": event_id,
        "subscriptionId": 7,
        "portalId": 145000001,
        "appId": 4200001,
        "occurredAt": 1777896000000,
        "subscriptionType": "deal.propertyChange",
        "attemptNumber": 2,
        "objectId": object_id,
        "propertyName": "dealstage",
        "propertyValue": value,
        "changeSource": "API",
        **fields,
    }


def test_events_parse_from_the_raw_body() -> None:
    (parsed,) = parse_webhook_events(BODY)
    assert (parsed.event_id, parsed.object_id, parsed.property_value, parsed.attempt_number) == (
        101,
        9100000002,
        "closedwon",
        0,
    )
    assert parsed.occurred == datetime.fromtimestamp(1777896000, tz=UTC)


@pytest.mark.parametrize("body", [b"{}", b'[{"eventId": 1}]', b"not json"])
def test_bodies_that_are_not_hubspot_events_are_refused(body: bytes) -> None:
    with pytest.raises(ValidationError):
        parse_webhook_events(body)


def test_won_deal_ids_keep_order_and_drop_repeats_and_other_changes() -> None:
    events = parse_webhook_events(
        json.dumps(
            [
                event(1, 30, "closedwon"),
                event(2, 10, "contractsent"),
                event(3, 20, "closedwon"),
                event(4, 30, "closedwon"),
                event(5, 40, "closedwon", propertyName="amount"),
                event(6, 50, "closedwon", subscriptionType="company.propertyChange"),
                event(7, 60, "won_custom"),
            ]
        ).encode()
    )
    assert won_deal_ids(events) == ["30", "20"]
    assert won_deal_ids(events, won_stage="won_custom") == ["60"]
