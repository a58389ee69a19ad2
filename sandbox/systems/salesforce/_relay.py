"""Change events (Opportunity, Contract, CPQ quote), pushed to subscribers as a Change Data Capture relay would.

Salesforce streams Change Data Capture over its Pub/Sub API (gRPC) or CometD to an
authenticated subscriber and signs nothing. A firm that wants webhooks runs a small relay that
subscribes and forwards each event over HTTPS; this module plays that relay: it POSTs the
event (CometD JSON shape: ``schema``, ``payload`` with ``ChangeEventHeader``, ``event.replayId``)
to every subscription and signs it with the subscription's secret:

    X-PSFlow-Relay-Timestamp: <unix seconds>
    X-PSFlow-Relay-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>

Deliveries run on a small thread pool, after the write has committed, with a few retries; each
attempt is recorded for ``GET /_admin/salesforce/deliveries``.

Each subscription names its channel (research apis-round2.md §2, "CDC"): ``/data/OpportunityChangeEvent``
(the default: creates and stage changes), ``/data/ContractChangeEvent``, ``/data/SBQQ__Quote__ChangeEvent``
or ``/data/ChangeEvents`` (all of them).

The org enriches Opportunity change events with ``SBQQ__AmendedContract__c`` (Change Data Capture
Enrichment: a field selected as an ``EnrichedField`` of the channel's ``PlatformEventChannelMember``
is added to every update event while it is non-empty, even when unchanged: Tooling API
``EnrichedField`` (atlas.en-us.250.0.api_tooling.meta/api_tooling/tooling_api_objects_enrichedfield.htm)
and Metadata API ``PlatformEventChannelMember.enrichedFields``
(atlas.en-us.240.0.api_meta.meta/api_meta/meta_platformeventchannelmember.htm), both under
https://developer.salesforce.com/docs/), so the event announcing that a CPQ amendment opportunity
was won names the contract it amends.
The field is in the payload, not in ``changedFields``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
from starlette.datastructures import State

from sandbox._db import SandboxDB
from sandbox.systems.salesforce._ids import id18
from sandbox.systems.salesforce._query_ast import parse_datetime
from sandbox.systems.salesforce._schema import NAME

__all__ = ["CHANNELS", "DEFAULT_CHANNEL", "DELIVERY", "ENRICHED_FIELDS", "SUBSCRIPTION", "publish", "sign"]

SUBSCRIPTION = "relay_subscription"
DELIVERY = "relay_delivery"
DEFAULT_CHANNEL = "/data/OpportunityChangeEvent"
CHANNELS: dict[str, frozenset[str]] = {
    DEFAULT_CHANNEL: frozenset({"Opportunity"}),
    "/data/ContractChangeEvent": frozenset({"Contract"}),
    "/data/SBQQ__Quote__ChangeEvent": frozenset({"SBQQ__Quote__c"}),
    "/data/ChangeEvents": frozenset({"Opportunity", "Contract", "SBQQ__Quote__c"}),
}
"""The channels a subscription may name, and the sObjects whose events each carries."""
ENRICHED_FIELDS: dict[str, tuple[str, ...]] = {"Opportunity": ("SBQQ__AmendedContract__c",)}
"""Fields added to every update event of an sObject while non-empty (CDC enrichment)."""
COMMIT_USER = id18("0058d0000000001")
RETRY_DELAYS_S = (0.2, 0.5, 1.0)
_HIDDEN = frozenset({"Id", "id"})
_executors_lock = threading.Lock()


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The relay signature header value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def _schema_id(entity: str) -> str:
    return f"psflow-sandbox-{entity.removesuffix('__c')}{'__' if entity.endswith('__c') else ''}ChangeEvent"


def _message(
    entity: str, change_type: str, record: dict[str, Any], changed: list[str], replay_id: int, origin: str
) -> dict[str, Any]:
    if change_type == "CREATE":
        fields = {k: v for k, v in record.items() if k not in _HIDDEN and v is not None}
    else:
        fields = {name: record.get(name) for name in changed}
        enriched = {name: record[name] for name in ENRICHED_FIELDS.get(entity, ()) if record.get(name) is not None}
        fields = {**enriched, **fields}
    stamp = parse_datetime(record["LastModifiedDate"])
    header = {
        "entityName": entity,
        "recordIds": [record["Id"]],
        "changeType": change_type,
        "changeOrigin": origin,
        "transactionKey": str(uuid.uuid4()),
        "sequenceNumber": 1,
        "commitTimestamp": int(stamp.timestamp() * 1000),
        "commitNumber": 10_000_000 + replay_id,
        "commitUser": COMMIT_USER,
        "changedFields": changed,
        "diffFields": [],
        "nulledFields": [name for name in changed if record.get(name) is None],
    }
    return {
        "schema": _schema_id(entity),
        "payload": {"ChangeEventHeader": header, **fields},
        "event": {"replayId": replay_id},
    }


def _executor(state: State) -> ThreadPoolExecutor:
    with _executors_lock:
        executor: ThreadPoolExecutor | None = getattr(state, "salesforce_relay", None)
        if executor is None:
            executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="salesforce-relay")
            state.salesforce_relay = executor
        return executor


def publish(state: State, db: SandboxDB, events: list[tuple[str, str, dict[str, Any], list[str]]], origin: str) -> None:
    """Queue a delivery of each event to each subscription on its channel; returns at once."""
    subscriptions = db.query(NAME, SUBSCRIPTION) if events else []
    for entity, change_type, record, changed in events:
        listening = [s for s in subscriptions if entity in CHANNELS[s.get("channel") or DEFAULT_CHANNEL]]
        if not listening:
            continue
        replay_id = db.kv_incr(NAME, "relay:replay_id")
        message = _message(entity, change_type, record, changed, replay_id, origin)
        body = json.dumps(message, separators=(",", ":")).encode()
        for subscription in listening:
            delivery = db.insert(
                NAME,
                DELIVERY,
                {
                    "subscription_id": subscription["id"],
                    "url": subscription["url"],
                    "replay_id": replay_id,
                    "record_id": record["Id"],
                    "event": message,
                    "status": "pending",
                    "attempts": [],
                },
            )
            _executor(state).submit(_deliver, db, delivery["id"], subscription["url"], subscription["secret"], body)


def _deliver(db: SandboxDB, delivery_id: str, url: str, secret: str, body: bytes) -> None:
    attempts: list[dict[str, Any]] = []
    with httpx.Client(timeout=5.0) as client:
        for delay in (0.0, *RETRY_DELAYS_S):
            time.sleep(delay)
            timestamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                "X-PSFlow-Relay-Timestamp": timestamp,
                "X-PSFlow-Relay-Signature": sign(secret, timestamp, body),
            }
            attempt: dict[str, Any] = {"at": datetime.now(UTC).isoformat(), "status_code": None, "error": None}
            try:
                response = client.post(url, content=body, headers=headers)
                attempt["status_code"] = response.status_code
                delivered = response.is_success
            except httpx.HTTPError as exc:
                attempt["error"] = f"{type(exc).__name__}: {exc}"
                delivered = False
            attempts.append(attempt)
            status = "delivered" if delivered else "retrying"
            db.update(NAME, DELIVERY, delivery_id, {"status": status, "attempts": attempts})
            if delivered:
                return
    db.update(NAME, DELIVERY, delivery_id, {"status": "failed"})
