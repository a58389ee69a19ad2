"""Relay signature checks and reading won opportunities out of change events."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from canonical import OpportunityStage
from connectors.salesforce.notifications import (
    ChangeEvent,
    opportunity_ids_won,
    relay_signature,
    verify_relay_signature,
)

SECRET = "relay-shared-secret"
NOW = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)
BODY = b'{"schema":"x","payload":{},"event":{"replayId":1}}'
TIMESTAMP = str(int(NOW.timestamp()))


def test_a_fresh_signed_body_verifies() -> None:
    signature = relay_signature(BODY, TIMESTAMP, SECRET)
    assert signature.startswith("sha256=") and len(signature) == len("sha256=") + 64
    assert verify_relay_signature(BODY, TIMESTAMP, signature, SECRET, now=NOW)


@pytest.mark.parametrize(
    ("body", "timestamp", "signature", "secret", "now"),
    [
        (BODY + b" ", TIMESTAMP, None, SECRET, NOW),  # body changed after signing
        (BODY, str(int(NOW.timestamp()) + 1), None, SECRET, NOW),  # timestamp swapped
        (BODY, TIMESTAMP, None, "another-secret", NOW),
        (BODY, TIMESTAMP, None, SECRET, NOW + timedelta(seconds=301)),  # replayed too late
        (BODY, TIMESTAMP, None, SECRET, NOW - timedelta(seconds=301)),  # clock far behind
        (BODY, "yesterday", None, SECRET, NOW),
        (BODY, TIMESTAMP, "md5=abc", SECRET, NOW),
        (BODY, TIMESTAMP, "sha256=" + "0" * 64, SECRET, NOW),
    ],
)
def test_tampered_stale_or_malformed_deliveries_fail(
    body: bytes, timestamp: str, signature: str | None, secret: str, now: datetime
) -> None:
    signature = signature or relay_signature(BODY, TIMESTAMP, SECRET)
    assert not verify_relay_signature(body, timestamp, signature, secret, now=now)


def test_the_tolerance_is_configurable() -> None:
    signature = relay_signature(BODY, TIMESTAMP, SECRET)
    later = NOW + timedelta(seconds=30)
    assert verify_relay_signature(BODY, TIMESTAMP, signature, SECRET, now=later)
    assert not verify_relay_signature(BODY, TIMESTAMP, signature, SECRET, now=later, tolerance_s=10)


def event(change_type: str = "UPDATE", changed: list[str] | None = None, **fields: Any) -> ChangeEvent:
    raw = {
        "schema": "psflow-sandbox-OpportunityChangeEvent",
        "payload": {
            "ChangeEventHeader": {
                "entityName": fields.pop("entity", "Opportunity"),
                "recordIds": ["0068d0000000004AAA"],
                "changeType": change_type,
                "changeOrigin": "com/salesforce/api/rest/62.0;client=psflow",
                "transactionKey": "0002f1d4-9a4e-4d4b-8f47-0b5e8c1d2a33",
                "sequenceNumber": 1,
                "commitTimestamp": 1748856600000,
                "commitUser": "0058d0000000001AAA",
                "changedFields": ["StageName", "LastModifiedDate"] if changed is None else changed,
            },
            **fields,
        },
        "event": {"replayId": 17},
    }
    return ChangeEvent.model_validate_json(json.dumps(raw))


@pytest.mark.parametrize(
    ("change", "won"),
    [
        (event(StageName="Closed Won"), True),
        (event("CREATE", [], StageName="Closed Won", Name="Deal"), True),
        (event(StageName="Closed Lost"), False),
        (event(StageName="Negotiation"), False),
        (event(changed=["Amount"], StageName="Closed Won"), False),  # stage not changed by this event
        (event(changed=["Amount"], Amount=1000), False),
        (event("DELETE", []), False),
        (event(entity="Account", StageName="Closed Won"), False),
        (event(StageName="Signed"), False),  # nobody mapped this stage
    ],
)
def test_opportunity_ids_won(change: ChangeEvent, won: bool) -> None:
    assert opportunity_ids_won(change) == (["0068d0000000004AAA"] if won else [])


def test_an_orgs_own_won_stage_counts_when_mapped() -> None:
    change = event(StageName="Signed")
    assert opportunity_ids_won(change, stage_map={"Signed": OpportunityStage.CLOSED_WON}) == ["0068d0000000004AAA"]


def test_the_event_model_keeps_header_fields_and_replay_id() -> None:
    change = event(StageName="Closed Won", Probability=100)
    assert change.event.replay_id == 17
    assert change.payload.header.change_origin == "com/salesforce/api/rest/62.0;client=psflow"
    assert change.payload.header.commit_timestamp == 1748856600000
    assert change.payload.model_extra == {"Probability": 100}
