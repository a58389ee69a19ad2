"""No malformed request reaches a 5xx, and none costs the sender its keep-alive connection.

One real ``python -m gateway`` process for the module; every request goes over one pooled HTTP/1.1
connection, and after each malformed request the next one must travel on the same socket.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from connectors.hubspot.webhooks import sign_v3
from connectors.salesforce.notifications import relay_signature
from stack.settings import Settings, TemporalSettings
from tests.gateway.conftest import (
    HUBSPOT_SECRET,
    RELAY_SECRET,
    Gateway,
    change_event,
    encode,
    gateway_process,
    hubspot_event,
    hubspot_headers,
    unique_deal,
    unique_opportunity,
)
from workflows.provision_engagement import workflow_id

HUBSPOT = "/webhooks/hubspot"
SALESFORCE = "/webhooks/salesforce"
Headers = dict[str, str | bytes]


@dataclass(frozen=True)
class Malformed:
    """One bad request: where it goes, its body, how its headers are made from (url, body), the answer due."""

    path: str
    body: bytes
    headers: Callable[[str, bytes], Headers]
    status: int


def signed_hubspot(**override: str | bytes) -> Callable[[str, bytes], Headers]:
    def make(url: str, body: bytes) -> Headers:
        return {**hubspot_headers(body, url=url), **override}

    return make


def hubspot_signed_with_timestamp(timestamp: str) -> Callable[[str, bytes], Headers]:
    """Headers whose signature matches the (bad) timestamp, so only the timestamp can be refused."""

    def make(url: str, body: bytes) -> Headers:
        signature = sign_v3(method="POST", uri=url, body=body, timestamp_ms=timestamp, client_secret=HUBSPOT_SECRET)
        return {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": timestamp.encode("latin-1")}

    return make


def signed_relay(timestamp: str | None = None, **override: str | bytes) -> Callable[[str, bytes], Headers]:
    def make(_url: str, body: bytes) -> Headers:
        sent = timestamp if timestamp is not None else str(int(time.time()))
        headers: Headers = {
            "Content-Type": "application/json",
            "X-PSFlow-Relay-Timestamp": sent.encode("latin-1"),
            "X-PSFlow-Relay-Signature": relay_signature(body, sent, RELAY_SECRET),
        }
        return {**headers, **override}

    return make


HUBSPOT_DEAL = unique_deal()
SALESFORCE_DEAL = unique_opportunity()


def won(deal: int | str = HUBSPOT_DEAL, **changes: Any) -> bytes:
    return encode([{**hubspot_event("1"), "objectId": deal, **changes}])


def with_huge_number(body: bytes, field: str, digits: int) -> bytes:
    """``body`` with ``field`` set to a JSON integer of ``digits`` digits (too big for Python's int to str)."""
    return body.replace(f'"{field}": '.encode(), f'"{field}": {"9" * digits}, "was": '.encode(), 1)


def relayed(**header: Any) -> bytes:
    event = change_event(SALESFORCE_DEAL)
    event["payload"]["ChangeEventHeader"].update(header)
    return encode(event)


GOOD_HUBSPOT = won()
GOOD_RELAY = relayed()

CASES: dict[str, Malformed] = {
    # Signed headers that are not what they claim to be (finding 4: these were 500s).
    "hs-ts-superscript-two": Malformed(HUBSPOT, GOOD_HUBSPOT, hubspot_signed_with_timestamp("\xb2"), 401),
    "hs-ts-400-digits": Malformed(HUBSPOT, GOOD_HUBSPOT, hubspot_signed_with_timestamp("9" * 400), 401),
    "hs-ts-negative": Malformed(HUBSPOT, GOOD_HUBSPOT, hubspot_signed_with_timestamp("-1700000000000"), 401),
    "hs-ts-exponent": Malformed(HUBSPOT, GOOD_HUBSPOT, hubspot_signed_with_timestamp("1.7e12"), 401),
    "hs-ts-seconds-with-space": Malformed(HUBSPOT, GOOD_HUBSPOT, hubspot_signed_with_timestamp("17 00"), 401),
    "hs-signature-not-ascii": Malformed(
        HUBSPOT, GOOD_HUBSPOT, signed_hubspot(**{"X-HubSpot-Signature-v3": b"\xe9\xff"}), 401
    ),
    "hs-unsigned": Malformed(HUBSPOT, GOOD_HUBSPOT, lambda _url, _body: {"Content-Type": "application/json"}, 401),
    "sf-ts-superscript-two": Malformed(SALESFORCE, GOOD_RELAY, signed_relay("\xb2"), 401),
    "sf-ts-exponent": Malformed(SALESFORCE, GOOD_RELAY, signed_relay("1.7e9"), 401),
    "sf-ts-nan": Malformed(SALESFORCE, GOOD_RELAY, signed_relay("nan"), 401),
    "sf-ts-fraction": Malformed(SALESFORCE, GOOD_RELAY, signed_relay(f"{int(time.time())}.5"), 401),
    "sf-ts-400-digits": Malformed(SALESFORCE, GOOD_RELAY, signed_relay("9" * 400), 401),
    "sf-signature-not-ascii": Malformed(
        SALESFORCE, GOOD_RELAY, signed_relay(**{"X-PSFlow-Relay-Signature": "sha256=\xe9".encode("latin-1")}), 401
    ),
    # Bodies that are not what the route reads (signed, so they reach the parser).
    "hs-empty-body": Malformed(HUBSPOT, b"", signed_hubspot(), 400),
    "hs-not-json": Malformed(HUBSPOT, b"[{not json", signed_hubspot(), 400),
    "hs-not-utf8": Malformed(HUBSPOT, b'[{"eventId": "\xff\xfe"}]', signed_hubspot(), 400),
    "hs-object-not-array": Malformed(HUBSPOT, b'{"eventId": 1}', signed_hubspot(), 400),
    "hs-array-of-numbers": Malformed(HUBSPOT, b"[1, 2, 3]", signed_hubspot(), 400),
    "hs-json-null": Malformed(HUBSPOT, b"null", signed_hubspot(), 400),
    "hs-wrong-type": Malformed(HUBSPOT, won(eventId="one"), signed_hubspot(), 400),
    "hs-deeply-nested": Malformed(HUBSPOT, b"[" * 50_000 + b"]" * 50_000, signed_hubspot(), 400),
    "hs-event-id-400-digits": Malformed(HUBSPOT, won(eventId=int("9" * 400)), signed_hubspot(), 400),
    "hs-occurred-at-5000-digits": Malformed(
        HUBSPOT, with_huge_number(GOOD_HUBSPOT, "occurredAt", 5000), signed_hubspot(), 400
    ),
    "hs-text-plain": Malformed(HUBSPOT, b"hello", signed_hubspot(**{"Content-Type": "text/plain"}), 400),
    # Record ids that must not become workflow ids (finding 5).
    "hs-deal-id-negative": Malformed(HUBSPOT, won(-5), signed_hubspot(), 400),
    "hs-deal-id-zero": Malformed(HUBSPOT, won(0), signed_hubspot(), 400),
    "hs-deal-id-too-big": Malformed(HUBSPOT, won(10**30), signed_hubspot(), 400),
    "sf-record-id-300-unicode": Malformed(SALESFORCE, relayed(recordIds=["006" + "é" * 297]), signed_relay(), 400),
    "sf-record-id-not-opportunity": Malformed(
        SALESFORCE, relayed(recordIds=["0018d0000000001AAA"]), signed_relay(), 400
    ),
    "sf-record-id-number": Malformed(SALESFORCE, relayed(recordIds=[6]), signed_relay(), 400),
    "sf-transaction-key-huge": Malformed(SALESFORCE, relayed(transactionKey="k" * 10_000), signed_relay(), 400),
    "sf-body-array": Malformed(SALESFORCE, b"[]", signed_relay(), 400),
    "sf-not-utf8": Malformed(SALESFORCE, b"\xff" * 64, signed_relay(), 400),
    "sf-header-not-object": Malformed(
        SALESFORCE,
        encode(
            {"schema": "s", "payload": {"ChangeEventHeader": [], "StageName": "Closed Won"}, "event": {"replayId": 1}}
        ),
        signed_relay(),
        400,
    ),
    # Size and routing.
    "hs-over-limit": Malformed(HUBSPOT, b"[" + b" " * (1024 * 1024) + b"]", signed_hubspot(), 413),
    "get-webhook": Malformed(HUBSPOT, b"", lambda _url, _body: {}, 405),
}


@pytest.fixture(scope="module")
def gateway_url(temporal_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("malformed")
    settings = Settings(
        temporal=TemporalSettings(address=temporal_env.client.service_client.config.target_host),
        task_queue_prefix=f"t-{uuid.uuid4().hex[:10]}-",
        data_dir=data / "psflow-data",
    )
    with gateway_process(settings, Path(data) / "gateway.log") as url:
        yield url


@pytest.fixture(scope="module")
def http(gateway_url: str) -> Iterator[httpx.Client]:
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    with httpx.Client(base_url=gateway_url, limits=limits, timeout=10) as client:
        yield client


def _socket(response: httpx.Response) -> Any:
    return response.extensions["network_stream"].get_extra_info("client_addr")


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_malformed_request_gets_a_4xx_with_one_line_and_keeps_the_connection(
    http: httpx.Client, gateway_url: str, case: Malformed
) -> None:
    before = http.get("/healthz")
    url = f"{gateway_url}{case.path}"
    method = "GET" if case.status == 405 else "POST"
    response = http.request(method, case.path, content=case.body, headers=case.headers(url, case.body))
    after = http.get("/healthz")
    assert response.status_code == case.status, response.text
    if case.status != 405:
        message = response.json()["message"]
        assert "\n" not in message and len(message) < 400, message
    assert response.headers.get("connection") != "close"
    assert after.status_code == 200
    assert _socket(before) == _socket(after), "the gateway dropped the keep-alive connection"


async def test_the_well_formed_twins_of_the_malformed_requests_are_accepted(
    gateway_url: str, temporal_client: Client
) -> None:
    """The cases above differ from these in one thing only, so it is that one thing that is refused."""
    started = [workflow_id("hubspot", HUBSPOT_DEAL), workflow_id("salesforce", SALESFORCE_DEAL)]
    try:
        async with httpx.AsyncClient(base_url=gateway_url, timeout=10) as http:
            hubspot_headers = signed_hubspot()(f"{gateway_url}{HUBSPOT}", GOOD_HUBSPOT)
            hubspot = await http.post(HUBSPOT, content=GOOD_HUBSPOT, headers=hubspot_headers)
            relay = await http.post(SALESFORCE, content=GOOD_RELAY, headers=signed_relay()("", GOOD_RELAY))
        assert (hubspot.status_code, relay.status_code) == (202, 202), (hubspot.text, relay.text)
        assert [hubspot.json()["accepted"], relay.json()["accepted"]] == [[started[0]], [started[1]]]
    finally:
        for run in started:
            with contextlib.suppress(RPCError):
                await temporal_client.get_workflow_handle(run).terminate(reason="gateway test finished")


async def test_what_no_check_names_is_still_a_400_while_reading(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def unforeseen(body: bytes, *_stages: object) -> None:
        raise UnicodeDecodeError("utf-8", body, 0, 1, "a check the gateway lacks")

    monkeypatch.setattr("gateway.app.hubspot_delivery", unforeseen)
    response = await gateway.post(HUBSPOT, GOOD_HUBSPOT, hubspot_headers(GOOD_HUBSPOT))
    assert response.status_code == 400
    assert response.json()["message"] == "the request could not be read (UnicodeDecodeError); nothing was started"
    assert "a check the gateway lacks" in caplog.text  # logged with its traceback, to be given a check of its own


async def test_a_fault_of_the_gateway_itself_is_a_500_that_does_not_escape_the_app(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_args: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr("gateway.app._accept", broken)
    # ASGITransport re-raises what escapes the app, as uvicorn closes the connection on it.
    response = await gateway.post(HUBSPOT, GOOD_HUBSPOT, hubspot_headers(GOOD_HUBSPOT))
    assert response.status_code == 500
    assert response.json()["error"] == "internal"
