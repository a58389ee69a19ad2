"""Opportunity change events pushed, signed, to a real HTTP subscriber."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from canonical import OpportunityStage
from connectors.salesforce import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    ChangeEvent,
    SalesforceConnector,
    opportunity_ids_won,
    verify_relay_signature,
)

SECRET = "gateway-relay-secret"


@dataclass
class Subscriber:
    """A tiny webhook receiver: records each request, fails the first ``failures`` of them."""

    url: str = ""
    failures: int = 0
    delay_s: float = 0.0
    received: list[tuple[dict[str, str], bytes, int]] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def record(self, headers: dict[str, str], body: bytes, status: int) -> None:
        with self.arrived:
            self.received.append((headers, body, status))
            self.arrived.notify_all()

    async def wait_for(self, count: int) -> list[tuple[dict[str, str], bytes, int]]:
        def wait() -> bool:
            with self.arrived:
                return self.arrived.wait_for(lambda: len(self.received) >= count, timeout=10)

        assert await asyncio.to_thread(wait), f"expected {count} deliveries, got {len(self.received)}"
        return self.received


@pytest.fixture
def subscriber() -> Iterator[Subscriber]:
    state = Subscriber()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            time.sleep(state.delay_s)
            status = 500 if len(state.received) < state.failures else 200
            state.record(dict(self.headers), body, status)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/salesforce"
    yield state
    server.shutdown()
    server.server_close()


async def subscribe(http: httpx.AsyncClient, subscriber: Subscriber) -> None:
    response = await http.post("/_admin/salesforce/subscriptions", json={"url": subscriber.url, "secret": SECRET})
    assert response.status_code == 201, response.text


async def settled_deliveries(http: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    """The relay's deliveries once none is still pending or retrying."""
    async with asyncio.timeout(10):
        while True:
            deliveries: list[dict[str, Any]] = (await http.get("/_admin/salesforce/deliveries", params=params)).json()
            if deliveries and all(d["status"] in ("delivered", "failed") for d in deliveries):
                return deliveries
            await asyncio.sleep(0.02)


async def open_opportunity(connector: SalesforceConnector) -> str:
    rows = [r async for r in connector.query("SELECT Id FROM Opportunity WHERE StageName = 'Negotiation' LIMIT 1")]
    return str(rows[0]["Id"])


async def test_winning_a_deal_notifies_the_subscriber_with_a_valid_signature(
    connector: SalesforceConnector, http: httpx.AsyncClient, subscriber: Subscriber
) -> None:
    await subscribe(http, subscriber)
    record_id = await open_opportunity(connector)
    await connector.set_opportunity_stage(record_id, OpportunityStage.CLOSED_WON)
    ((headers, body, _),) = await subscriber.wait_for(1)
    assert verify_relay_signature(
        body, headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], SECRET, now=datetime.now(UTC)
    )
    assert not verify_relay_signature(
        body, headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], "wrong", now=datetime.now(UTC)
    )
    event = ChangeEvent.model_validate_json(body)
    header = event.payload.header
    assert (header.entity_name, header.change_type, header.record_ids) == ("Opportunity", "UPDATE", [record_id])
    assert {"StageName", "IsWon", "IsClosed", "Probability"} <= set(header.changed_fields)
    assert header.change_origin == "com/salesforce/api/rest/62.0;client=psflow"
    assert event.payload.stage_name == "Closed Won" and event.event.replay_id >= 1
    assert opportunity_ids_won(event) == [record_id]
    deliveries = await settled_deliveries(http, record_id=record_id)
    assert [(d["status"], len(d["attempts"])) for d in deliveries] == [("delivered", 1)]


async def test_edits_that_keep_the_stage_send_nothing(
    connector: SalesforceConnector, http: httpx.AsyncClient, subscriber: Subscriber
) -> None:
    await subscribe(http, subscriber)
    record_id = await open_opportunity(connector)
    await connector.set_opportunity_stage(record_id, OpportunityStage.CLOSED_LOST)
    await connector.set_opportunity_stage(record_id, OpportunityStage.CLOSED_LOST)
    await connector.upsert_records(
        "Opportunity", "PSFlow_Id__c", [{"PSFlow_Id__c": "OPP-0001", "Rate_Card__c": "RC-X"}]
    )
    ((_, body, _),) = await subscriber.wait_for(1)
    await asyncio.sleep(0.2)
    assert len(subscriber.received) == 1
    assert ChangeEvent.model_validate_json(body).payload.stage_name == "Closed Lost"


async def test_a_won_deal_created_through_collections_is_announced(
    connector: SalesforceConnector, http: httpx.AsyncClient, subscriber: Subscriber
) -> None:
    await subscribe(http, subscriber)
    deal = {"Name": "Signed on the spot", "StageName": "Closed Won", "CloseDate": "2025-06-30"}
    (result,) = await connector.create_records("Opportunity", [deal])
    ((_, body, _),) = await subscriber.wait_for(1)
    event = ChangeEvent.model_validate_json(body)
    assert event.payload.header.change_type == "CREATE"
    assert opportunity_ids_won(event) == [result.id]


async def test_a_failing_subscriber_is_retried_and_every_attempt_recorded(
    connector: SalesforceConnector, http: httpx.AsyncClient, subscriber: Subscriber
) -> None:
    subscriber.failures = 2
    await subscribe(http, subscriber)
    record_id = await open_opportunity(connector)
    await connector.set_opportunity_stage(record_id, OpportunityStage.CLOSED_WON)
    received = await subscriber.wait_for(3)
    assert [status for _, _, status in received] == [500, 500, 200]
    assert len({body for _, body, _ in received}) == 1  # the same event each time
    deliveries = await settled_deliveries(http)
    assert [a["status_code"] for a in deliveries[0]["attempts"]] == [500, 500, 200]


async def test_a_slow_subscriber_never_holds_up_the_write(
    connector: SalesforceConnector, http: httpx.AsyncClient, subscriber: Subscriber
) -> None:
    subscriber.delay_s = 1.0
    await subscribe(http, subscriber)
    record_id = await open_opportunity(connector)
    started = time.perf_counter()
    await connector.set_opportunity_stage(record_id, OpportunityStage.CLOSED_WON)
    assert time.perf_counter() - started < 0.5
    await subscriber.wait_for(1)


async def test_subscriptions_are_listed_without_secrets_and_can_be_removed(
    http: httpx.AsyncClient, subscriber: Subscriber
) -> None:
    await subscribe(http, subscriber)
    (listed,) = (await http.get("/_admin/salesforce/subscriptions")).json()
    assert listed == {"id": listed["id"], "url": subscriber.url, "channel": "/data/OpportunityChangeEvent"}
    assert (await http.delete(f"/_admin/salesforce/subscriptions/{listed['id']}")).status_code == 204
    assert (await http.get("/_admin/salesforce/subscriptions")).json() == []
    weak = await http.post("/_admin/salesforce/subscriptions", json={"url": subscriber.url, "secret": "short"})
    assert weak.status_code == 422
