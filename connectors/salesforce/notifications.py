"""Opportunity change events from the CDC relay: signature check, event model, won deals.

Salesforce delivers Change Data Capture events over its own authenticated streams (Pub/Sub
API, CometD) and signs nothing. psflow's gateway receives them from a relay that subscribes to
``/data/OpportunityChangeEvent`` and forwards each event as JSON over HTTPS, signed with a
secret shared with the gateway:

    X-PSFlow-Relay-Timestamp: <unix seconds>
    X-PSFlow-Relay-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + raw body)>

The body keeps the CometD JSON shape: ``{"schema", "payload": {"ChangeEventHeader": {...},
<changed fields>}, "event": {"replayId"}}``. Events arrive at least once and possibly out of
order; the workflow id (one per opportunity) is what makes redelivery harmless.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from canonical import OpportunityStage
from connectors.salesforce.mapping import DEFAULT_STAGES

__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "ChangeEvent",
    "ChangeEventHeader",
    "ChangeEventPayload",
    "EventInfo",
    "opportunity_ids_won",
    "parse_relay_timestamp",
    "relay_signature",
    "verify_relay_signature",
]

SIGNATURE_HEADER = "X-PSFlow-Relay-Signature"
TIMESTAMP_HEADER = "X-PSFlow-Relay-Timestamp"
_SCHEME = "sha256="
_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")
"""Whole Unix seconds in ASCII digits (the relay sends ``int(time.time())``); 12 digits reach the year 33658."""

_Long = Annotated[int, Field(ge=0, le=2**63 - 1)]


def parse_relay_timestamp(value: str) -> int | None:
    """The ``X-PSFlow-Relay-Timestamp`` value as Unix seconds, or None when it is not whole seconds.

    Only ASCII digits are read: ``float`` also accepts ``"nan"``, ``"1e9"``, underscores and other
    scripts' digits, none of which the relay sends.
    """
    return int(value) if _UNIX_SECONDS.fullmatch(value) else None


def relay_signature(body: bytes, timestamp: str, secret: str) -> str:
    """The signature header value for ``body`` sent at ``timestamp`` (``sha256=<hex>``)."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return _SCHEME + digest


def verify_relay_signature(
    body: bytes, timestamp: str, signature: str, secret: str, *, now: datetime, tolerance_s: float = 300
) -> bool:
    """Whether a relay delivery is authentic and fresh.

    Args:
        body: The raw request body, exactly as received.
        timestamp: The ``X-PSFlow-Relay-Timestamp`` header (Unix seconds).
        signature: The ``X-PSFlow-Relay-Signature`` header (``sha256=<hex>``).
        secret: The secret shared with the relay.
        now: The current time (timezone-aware).
        tolerance_s: How far the timestamp may be from `now`, either way, against replays.

    Returns:
        True only when the timestamp is whole seconds within the tolerance and the signature
        matches, compared in constant time.
    """
    sent_at = parse_relay_timestamp(timestamp)
    if sent_at is None or abs(now.timestamp() - sent_at) > tolerance_s or not signature.startswith(_SCHEME):
        return False
    expected = relay_signature(body, timestamp, secret).encode()
    return hmac.compare_digest(expected, signature.encode("utf-8", "replace"))


class _Event(BaseModel):
    model_config = ConfigDict(populate_by_name=True, frozen=True, extra="ignore")


class ChangeEventHeader(_Event):
    """The ``ChangeEventHeader`` of a Change Data Capture event."""

    entity_name: str = Field(alias="entityName")
    record_ids: list[str] = Field(alias="recordIds")
    change_type: str = Field(alias="changeType")
    changed_fields: list[str] = Field(default_factory=list, alias="changedFields")
    commit_timestamp: _Long = Field(alias="commitTimestamp")
    transaction_key: str = Field(alias="transactionKey", min_length=1, max_length=128)
    change_origin: str | None = Field(None, alias="changeOrigin")
    sequence_number: _Long | None = Field(None, alias="sequenceNumber")
    commit_user: str | None = Field(None, alias="commitUser")


class ChangeEventPayload(_Event):
    """The header and the changed fields (``StageName`` and the contract are read; others are kept).

    ``SBQQ__AmendedContract__c`` is in every event of a CPQ amendment opportunity: in a create
    because it is set, in an update because the org enriches Opportunity events with it (Change
    Data Capture Enrichment, docs/amendment-sources.md).
    """

    model_config = ConfigDict(populate_by_name=True, frozen=True, extra="allow")

    header: ChangeEventHeader = Field(alias="ChangeEventHeader")
    stage_name: str | None = Field(None, alias="StageName")
    amended_contract: str | None = Field(None, alias="SBQQ__AmendedContract__c")


class EventInfo(_Event):
    """Delivery metadata: the replay id orders events on the channel."""

    replay_id: _Long = Field(alias="replayId")


class ChangeEvent(_Event):
    """One change event as the relay forwards it."""

    schema_id: str | None = Field(None, alias="schema")
    payload: ChangeEventPayload
    event: EventInfo


def opportunity_ids_won(event: ChangeEvent, *, stage_map: Mapping[str, OpportunityStage] | None = None) -> list[str]:
    """The Opportunity ids this event shows becoming closed won.

    True for a create or an update that changed ``StageName`` to a won stage (``Closed Won``,
    or any name the org's `stage_map` maps to closed won); empty otherwise, including for
    stages nobody mapped.
    """
    header = event.payload.header
    if header.entity_name != "Opportunity" or event.payload.stage_name is None:
        return []
    if header.change_type == "UPDATE" and "StageName" not in header.changed_fields:
        return []
    if header.change_type not in ("CREATE", "UPDATE"):
        return []
    stages = {**DEFAULT_STAGES, **(stage_map or {})}
    return list(header.record_ids) if stages.get(event.payload.stage_name) is OpportunityStage.CLOSED_WON else []
