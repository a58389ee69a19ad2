"""Hostile webhooks for a chaos run: malformed, forged and replayed, sent to the real gateway over loopback.

A case is one that must be refused (4xx), a genuine event sent again (202, counted as a duplicate,
starting nothing new), or one where either answer is right. What is counted: any 5xx or dropped
connection (never acceptable), a must-refuse case the gateway accepted (202 for a forged id or a bad
shape), and a genuine redelivery it refused.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from bench._chaos_world import Deal
from connectors.hubspot.webhooks import sign_v3
from connectors.salesforce.notifications import relay_signature
from gateway.server import local_url
from stack.local.subscriptions import GatewaySecrets
from stack.settings import Settings

HUBSPOT = "/webhooks/hubspot"
SALESFORCE = "/webhooks/salesforce"
CONCURRENT_REPLAYS = 20


@dataclass(frozen=True)
class WebhookCase:
    """One request to the gateway and whether it must be refused."""

    name: str
    path: str
    body: bytes
    headers: dict[bytes, bytes]
    refuse: bool | None = True
    """True: must get a 4xx; False: a genuine event, must get 202; None: either answer is right."""


@dataclass(frozen=True)
class WebhookOutcome:
    """What the gateway answered."""

    name: str
    status: int | None
    """None: the connection failed or was dropped."""
    refuse: bool | None
    detail: str = ""

    @property
    def server_error(self) -> bool:
        """A 5xx or no answer at all."""
        return self.status is None or self.status >= 500

    @property
    def wrongly_accepted(self) -> bool:
        """A request that had to be refused got a 2xx."""
        return self.refuse is True and self.status is not None and 200 <= self.status < 300

    @property
    def wrongly_refused(self) -> bool:
        """A genuine event (a redelivery) got a 4xx."""
        return self.refuse is False and self.status is not None and 400 <= self.status < 500


def hubspot_event(deal_id: Any, *, event_id: int | None = None, **changes: Any) -> dict[str, Any]:
    """One ``deal.propertyChange`` of ``dealstage`` to ``closedwon``, as HubSpot sends it."""
    event = {
        "eventId": event_id if event_id is not None else uuid.uuid4().int % 1_000_000_000,
        "subscriptionId": 7, "portalId": 62515, "appId": 1160452, "occurredAt": int(time.time() * 1000),
        "subscriptionType": "deal.propertyChange", "attemptNumber": 0, "objectId": deal_id,
        "propertyName": "dealstage", "propertyValue": "closedwon", "changeSource": "CRM_UI",
    }  # fmt: skip
    return {**event, **changes}


def change_event(record_ids: list[Any], **header_changes: Any) -> dict[str, Any]:
    """One Opportunity change event to Closed Won, as the CDC relay forwards it."""
    header = {
        "entityName": "Opportunity", "recordIds": record_ids, "changeType": "UPDATE",
        "changeOrigin": "com/salesforce/api/rest/62.0", "transactionKey": str(uuid.uuid4()), "sequenceNumber": 1,
        "commitTimestamp": int(time.time() * 1000), "commitUser": "0058d0000000001AAA",
        "changedFields": ["StageName", "IsWon", "IsClosed"], **header_changes,
    }  # fmt: skip
    return {
        "schema": "chaos",
        "payload": {"ChangeEventHeader": header, "StageName": "Closed Won"},
        "event": {"replayId": 1},
    }


def _headers(**values: str) -> dict[bytes, bytes]:
    """Header names from keywords (``X_Foo`` → ``X-Foo``); values as latin-1 bytes, as HTTP carries them."""
    return {name.replace("_", "-").encode(): value.encode("latin-1") for name, value in values.items()}


class Signer:
    """Signs requests as the sandbox's HubSpot app and CDC relay do, for the gateway at ``url``."""

    def __init__(self, settings: Settings) -> None:
        self.url = local_url(settings)
        self.secrets = GatewaySecrets.from_settings(settings)

    def hubspot(
        self, body: bytes, *, age_s: float = 0, timestamp: str | None = None, secret: str | None = None
    ) -> dict[bytes, bytes]:
        """Signature v3 headers, signed ``age_s`` ago (or with the literal ``timestamp``)."""
        stamp = timestamp if timestamp is not None else str(int((time.time() - age_s) * 1000))
        signature = sign_v3(
            method="POST", uri=self.url + HUBSPOT, body=body, timestamp_ms=stamp,
            client_secret=secret or self.secrets.hubspot_client_secret,
        )  # fmt: skip
        return _headers(
            Content_Type="application/json", X_HubSpot_Signature_v3=signature, X_HubSpot_Request_Timestamp=stamp
        )

    def relay(
        self, body: bytes, *, age_s: float = 0, timestamp: str | None = None, secret: str | None = None
    ) -> dict[bytes, bytes]:
        """CDC relay signature headers, signed ``age_s`` ago (or with the literal ``timestamp``)."""
        stamp = timestamp if timestamp is not None else str(int(time.time() - age_s))
        signature = relay_signature(body, stamp, secret or self.secrets.salesforce_relay_secret)
        return _headers(
            Content_Type="application/json", X_PSFlow_Relay_Timestamp=stamp, X_PSFlow_Relay_Signature=signature
        )


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def webhook_cases(signer: Signer, rng: random.Random, replay: Sequence[Deal]) -> list[WebhookCase]:
    """About 60 hostile requests; ``replay`` are deals already won, whose events are sent again."""
    cases: list[WebhookCase] = []

    def hubspot(name: str, body: bytes, refuse: bool | None = True, **sign: Any) -> None:
        cases.append(WebhookCase(f"hubspot: {name}", HUBSPOT, body, signer.hubspot(body, **sign), refuse))

    def relay(name: str, body: bytes, refuse: bool | None = True, **sign: Any) -> None:
        cases.append(WebhookCase(f"salesforce: {name}", SALESFORCE, body, signer.relay(body, **sign), refuse))

    deal = 9_100_000_900 + rng.randrange(99)
    good_hubspot = _json([hubspot_event(deal)])
    good_relay = _json(change_event(["0068d00000CHAOS1AAA"]))
    for label, body, path in (("hubspot", good_hubspot, HUBSPOT), ("salesforce", good_relay, SALESFORCE)):
        headers = signer.hubspot(body) if path == HUBSPOT else signer.relay(body)
        for missing in headers:
            if missing != b"Content-Type":
                kept = {k: v for k, v in headers.items() if k != missing}
                cases.append(WebhookCase(f"{label}: no {missing.decode()}", path, body, kept))
    hubspot("wrong secret", good_hubspot, secret="not-the-secret")
    hubspot("stale by 6 minutes", good_hubspot, age_s=360)
    hubspot("10 minutes in the future", good_hubspot, age_s=-600)
    relay("wrong secret", good_relay, secret="not-the-relay-secret")
    relay("stale by 10 minutes", good_relay, age_s=600)
    relay("10 minutes in the future", good_relay, age_s=-600)
    changed = good_hubspot + b" "
    cases.append(WebhookCase("hubspot: body changed after signing", HUBSPOT, changed, signer.hubspot(good_hubspot)))
    changed = good_relay + b" "
    cases.append(WebhookCase("salesforce: body changed after signing", SALESFORCE, changed, signer.relay(good_relay)))
    md5 = {**signer.relay(good_relay), b"X-PSFlow-Relay-Signature": b"md5=00"}
    cases.append(WebhookCase("salesforce: md5 scheme", SALESFORCE, good_relay, md5))
    for label, stamp in (
        ("superscript-two timestamp", "\xb2"), ("superscript digits", "\xb9\xb2\xb3"),
        ("400-digit timestamp", "9" * 400), ("negative timestamp", "-1"), ("exponent timestamp", "1e12"),
        ("fractional timestamp", "1733350000.5"),
        ("timestamp with a plus sign", "+1733350000"), ("zero timestamp", "0"),
    ):  # fmt: skip
        hubspot(label, good_hubspot, timestamp=stamp)
        relay(label, good_relay, timestamp=stamp)
    no_subscription = [{k: v for k, v in hubspot_event(deal).items() if k != "subscriptionId"}]
    for label, body in (
        ("invalid JSON", b"{not json"), ("an object, not an array", _json({"objectId": deal})), ("empty body", b""),
        ("array of numbers", _json([1, 2])), ("missing subscriptionId", _json(no_subscription)),
        ("not UTF-8", b"[\xff\xfe]"), ("nesting 5000 deep", b"[" * 5000 + b"]" * 5000),
        ("number 1e400", b'[{"objectId": 1e400}]'),
    ):  # fmt: skip
        hubspot(label, body)
    object_ids: tuple[tuple[str, Any], ...] = (
        ("objectId -5", -5), ("objectId 0", 0), ("objectId 10**30", 10**30), ("objectId 'abc'", "abc"),
        ("objectId 1.5", 1.5), ("objectId null", None), ("objectId 300 characters", "9" * 300),
    )  # fmt: skip
    for label, object_id in object_ids:
        hubspot(label, _json([hubspot_event(object_id)]))
    for label, body in (
        ("invalid JSON", b"{not json"), ("no payload", _json({"schema": "x"})), ("an array", _json([1])),
        ("not UTF-8", b"{\xff}"), ("nesting 5000 deep", b"[" * 5000 + b"]" * 5000),
    ):  # fmt: skip
        relay(label, body)
    record_ids: tuple[tuple[str, list[Any]], ...] = (
        ("300-character unicode id", ["\xe9" * 300]), ("id with a slash", ["006/../x"]),
        ("id with spaces", ["006 8d 000"]), ("id with a colon", ["salesforce:006"]), ("empty id", [""]),
        ("numeric id", [5]),
    )  # fmt: skip
    for label, ids in record_ids:
        relay(label, _json(change_event(ids)))
    relay("no record ids", _json(change_event([])), refuse=None)
    big = b"[" + b" " * (1024 * 1024 + 10) + b"]"
    hubspot("body over 1 MiB", big)
    for won in replay:
        if won.crm == "hubspot":
            body = _json([hubspot_event(int(won.id), event_id=rng.randrange(10**8, 10**9))])
            hubspot(f"replayed event of {won.key} (first)", body, refuse=False)
            hubspot(f"replayed event of {won.key} (again)", body, refuse=False)
        else:
            body = _json(change_event([won.id]))
            relay(f"replayed event of {won.key} (first)", body, refuse=False)
            relay(f"replayed event of {won.key} (again)", body, refuse=False)
    return cases


async def send(http: httpx.AsyncClient, case: WebhookCase) -> WebhookOutcome:
    """POST one case; a dropped connection is an outcome, not an error."""
    try:
        response = await http.post(case.path, content=case.body, headers=case.headers)
    except httpx.HTTPError as exc:
        return WebhookOutcome(case.name, None, case.refuse, f"{type(exc).__name__}: {exc}"[:200])
    return WebhookOutcome(case.name, response.status_code, case.refuse, response.text[:200])


async def send_hostile_webhooks(settings: Settings, rng: random.Random, replay: Sequence[Deal]) -> list[WebhookOutcome]:
    """Every case in turn over one keep-alive connection (a dropped one shows in the next answer too),
    then `CONCURRENT_REPLAYS` concurrent deliveries of one genuine event."""
    signer = Signer(settings)
    outcomes: list[WebhookOutcome] = []
    async with httpx.AsyncClient(base_url=signer.url, timeout=30) as http:
        for case in webhook_cases(signer, rng, replay):
            outcomes.append(await send(http, case))
    if replay:
        won = replay[0]
        if won.crm == "hubspot":
            body = _json([hubspot_event(int(won.id), event_id=rng.randrange(10**8, 10**9))])
            case = WebhookCase(
                f"concurrent delivery of one event of {won.key}", HUBSPOT, body, signer.hubspot(body), False
            )
        else:
            body = _json(change_event([won.id]))
            case = WebhookCase(
                f"concurrent delivery of one event of {won.key}", SALESFORCE, body, signer.relay(body), False
            )
        async with httpx.AsyncClient(
            base_url=signer.url, timeout=30, limits=httpx.Limits(max_connections=CONCURRENT_REPLAYS)
        ) as http:
            outcomes += await asyncio.gather(*(send(http, case) for _ in range(CONCURRENT_REPLAYS)))
    return outcomes
