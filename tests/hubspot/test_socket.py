"""Over real sockets: the connector against uvicorn, and webhooks delivered to a real receiver."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from canonical import Customer, OpportunityStage
from connectors._core import TransientError
from connectors.hubspot import HubSpotConnector, HubSpotSettings
from connectors.hubspot.webhooks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    parse_webhook_events,
    verify_signature_v3,
    won_deal_ids,
)
from sandbox.systems.hubspot._seed import deal_id
from sandbox.testing import serving
from tests.hubspot.conftest import (
    OPEN_UK_DEALS,
    SIX_ITEM_CLIENT_NAME,
    SIX_ITEM_DEAL,
    WON_UK_DEALS,
    auth_headers,
    make_app,
    wait_for,
)

OTHER_DEAL = next(deal_id(o.id) for o in OPEN_UK_DEALS if deal_id(o.id) != SIX_ITEM_DEAL)

SECRET = "gateway-client-secret"


@dataclass
class Delivery:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A tiny webhook endpoint: records every request, answers with the queued statuses (then 204)."""

    url: str = ""
    deliveries: list[Delivery] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    delay_s: float = 0.0


@contextmanager
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.deliveries.append(Delivery("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            time.sleep(state.delay_s)
            self.send_response(state.statuses.pop(0) if state.statuses else 204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/webhooks/hubspot?source=psflow%3Asandbox"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        thread.join(5)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[FastAPI, str]]:
    app = make_app(tmp_path / "s.db")
    with serving(app) as url:
        yield app, url
    app.state.db.close()


def over_socket(url: str, **overrides: object) -> HubSpotSettings:
    return HubSpotSettings(base_url=f"{url}/hubspot", **overrides)  # type: ignore[arg-type]


async def subscribe(admin: httpx.AsyncClient, target_url: str, **options: object) -> dict[str, object]:
    response = await admin.post(
        "/_admin/hubspot/webhooks", json={"target_url": target_url, "client_secret": SECRET, **options}
    )
    assert response.status_code == 201
    return dict(response.json())


def verify(delivery: Delivery, uri: str, **overrides: object) -> bool:
    arguments: dict[str, object] = {
        "method": delivery.method,
        "uri": uri,
        "body": delivery.body,
        "timestamp_ms": delivery.headers[TIMESTAMP_HEADER.lower()],
        "signature": delivery.headers[SIGNATURE_HEADER.lower()],
        "client_secret": SECRET,
        "now": datetime.now(UTC),
    }
    arguments.update(overrides)
    return verify_signature_v3(**arguments)  # type: ignore[arg-type]


async def test_connector_over_a_real_socket(served: tuple[FastAPI, str]) -> None:
    _, url = served
    async with HubSpotConnector(over_socket(url), transport=None) as hubspot:
        opportunity = await hubspot.get_deal(SIX_ITEM_DEAL)
        customer = await hubspot.get_company(opportunity.account_id)
        won = [deal async for deal in hubspot.closed_won_since(datetime.now(UTC) - timedelta(hours=1))]
    assert len(opportunity.line_items) == 6 and customer.name == SIX_ITEM_CLIENT_NAME and len(won) == len(WON_UK_DEALS)


async def test_won_deal_webhook_is_signed_v3_and_verifies(served: tuple[FastAPI, str]) -> None:
    _, url = served
    with receiver() as hook:
        async with httpx.AsyncClient(base_url=url) as admin:
            subscription = await subscribe(admin, hook.url)
            async with HubSpotConnector(over_socket(url)) as hubspot:
                await hubspot.set_deal_stage(SIX_ITEM_DEAL, OpportunityStage.CLOSED_WON)
            assert await wait_for(lambda: hook.deliveries)
    (delivery,) = hook.deliveries
    assert delivery.path == "/webhooks/hubspot?source=psflow%3Asandbox"
    assert verify(delivery, hook.url)
    (event,) = parse_webhook_events(delivery.body)
    assert (event.subscription_id, event.object_id, event.property_name, event.attempt_number) == (
        int(str(subscription["id"])),
        int(SIX_ITEM_DEAL),
        "dealstage",
        0,
    )
    assert won_deal_ids([event]) == [SIX_ITEM_DEAL]
    assert event.subscription_type == "deal.propertyChange" and event.portal_id and event.app_id


async def test_forged_or_stale_webhooks_do_not_verify(served: tuple[FastAPI, str]) -> None:
    _, url = served
    with receiver() as hook:
        async with httpx.AsyncClient(base_url=url) as admin:
            await subscribe(admin, hook.url)
            async with HubSpotConnector(over_socket(url)) as hubspot:
                await hubspot.set_deal_stage(SIX_ITEM_DEAL, OpportunityStage.CLOSED_WON)
            assert await wait_for(lambda: hook.deliveries)
    delivery = hook.deliveries[0]
    forged_body = delivery.body.replace(SIX_ITEM_DEAL.encode(), OTHER_DEAL.encode())
    assert not verify(delivery, hook.url, body=forged_body)
    assert not verify(delivery, hook.url, client_secret="guessed-secret")
    assert not verify(delivery, hook.url, now=datetime.now(UTC) + timedelta(minutes=6))
    assert not verify(delivery, "http://attacker.example/webhooks/hubspot")


async def test_failed_delivery_is_retried_and_recorded_without_blocking_the_write(
    served: tuple[FastAPI, str],
) -> None:
    _, url = served
    with receiver() as hook:
        hook.statuses = [500]
        hook.delay_s = 0.5
        async with httpx.AsyncClient(base_url=url) as admin:
            subscription = await subscribe(admin, hook.url, retry_delay_s=0.05, max_attempts=3)
            started = time.monotonic()
            patched = await admin.patch(
                f"/hubspot/crm/v3/objects/deals/{SIX_ITEM_DEAL}",
                json={"properties": {"dealstage": "closedwon"}},
                headers=auth_headers(),
            )
            assert patched.status_code == 200 and time.monotonic() - started < 0.4

            async def two_attempts() -> list[dict[str, object]] | None:
                listed = (await admin.get("/_admin/hubspot/webhooks/deliveries")).json()["results"]
                return listed if len(listed) == 2 else None

            attempts = await wait_for(two_attempts)
    assert [(a["attemptNumber"], a["status"], a["delivered"]) for a in attempts] == [(0, 500, False), (1, 204, True)]
    assert all(a["subscriptionId"] == int(str(subscription["id"])) for a in attempts)
    first, second = hook.deliveries
    assert parse_webhook_events(second.body)[0].attempt_number == 1
    assert parse_webhook_events(first.body)[0].event_id == parse_webhook_events(second.body)[0].event_id
    assert verify(second, hook.url)


async def test_dropped_connection_after_commit_is_transient_and_the_retry_does_not_duplicate(
    served: tuple[FastAPI, str],
) -> None:
    _, url = served
    customer = Customer(id="netsuite:777", name="Oakhurst Water", currency="GBP")
    async with httpx.AsyncClient(base_url=url) as admin:
        await admin.put(
            "/_admin/faults/hubspot",
            json={"commit_then_fail": 1.0, "commit_then_fail_mode": "drop", "times": 1, "path_regex": "upsert"},
        )
        async with HubSpotConnector(over_socket(url)) as hubspot:
            (company_id,) = await hubspot.upsert_companies([customer])
            assert await hubspot.upsert_companies([customer]) == [company_id]
        counters = (await admin.get("/_admin/faults")).json()["counters"]["hubspot"]
        search = {
            "filterGroups": [{"filters": [{"propertyName": "psflow_id", "operator": "EQ", "value": "netsuite:777"}]}]
        }
        found = await admin.post("/hubspot/crm/v3/objects/companies/search", json=search, headers=auth_headers())
    assert counters["commit_then_fail"] == 1
    assert found.json()["total"] == 1


async def test_client_timeout_is_transient(served: tuple[FastAPI, str]) -> None:
    _, url = served
    async with httpx.AsyncClient(base_url=url) as admin:
        await admin.put("/_admin/faults/hubspot", json={"timeout": 1.0, "timeout_s": 5})
        async with HubSpotConnector(over_socket(url, timeout_s=0.3, retry_attempts=1)) as hubspot:
            with pytest.raises(TransientError) as raised:
                await hubspot.get_deal(SIX_ITEM_DEAL)
        await admin.delete("/_admin/faults/hubspot")
    assert raised.value.code == "timeout"
