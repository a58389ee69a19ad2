"""The gateway's routes over ASGI with the real dev server: what starts a workflow, and what is turned away."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from temporalio.client import Client

from canonical.record_ids import InvalidRecordId
from stack.flows import trigger_provisioning
from stack.settings import Settings
from tests.conftest import DATA_CONVERTER
from tests.gateway.conftest import (
    HUBSPOT_SECRET,
    RELAY_SECRET,
    Gateway,
    change_event,
    encode,
    hubspot_event,
    hubspot_headers,
    open_gateway,
    relay_headers,
    unique_deal,
    unique_opportunity,
)
from workflows.provision_engagement import workflow_id

HUBSPOT = "/webhooks/hubspot"
SALESFORCE = "/webhooks/salesforce"


async def triggers_of(temporal: Client, run_id: str) -> list[dict[str, Any]]:
    """The ``triggered`` signals a run received, decoded (the start signal included)."""
    history = await temporal.get_workflow_handle(run_id).fetch_history()
    signals = [
        event.workflow_execution_signaled_event_attributes
        for event in history.events
        if event.HasField("workflow_execution_signaled_event_attributes")
    ]
    triggered = [s.input.payloads[0] for s in signals if s.signal_name == "triggered"]
    codec = temporal.data_converter.payload_codec
    decoded = await codec.decode(triggered) if codec else triggered
    return [json.loads(payload.data) for payload in decoded]


async def test_healthz_answers(gateway: Gateway) -> None:
    response = await gateway.http.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_a_signed_hubspot_win_starts_the_deals_provisioning_run(gateway: Gateway, deal: str) -> None:
    event = hubspot_event(deal, event_id=1001)
    body = encode([event])
    response = await gateway.post(HUBSPOT, body, hubspot_headers(body))
    run_id = workflow_id("hubspot", deal)
    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": [run_id], "duplicates": 0, "ignored": 0}
    description = await gateway.temporal.get_workflow_handle(run_id).describe()
    assert description.workflow_type == "ProvisionEngagement"
    assert description.task_queue == gateway.settings.task_queue("flows")
    [trigger] = await triggers_of(gateway.temporal, run_id)
    assert (trigger["source"], trigger["event_id"]) == ("webhook", "1001")


async def test_the_same_event_delivered_twice_signals_once_and_counts_a_duplicate(
    gateway: Gateway, deal: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="psflow.gateway")
    event = hubspot_event(deal)
    first = encode([event])
    retry = encode([{**event, "attemptNumber": 1}])  # HubSpot's retry: same event, next attempt, new signature
    assert (await gateway.post(HUBSPOT, first, hubspot_headers(first))).status_code == 202
    response = await gateway.post(HUBSPOT, retry, hubspot_headers(retry))
    run_id = workflow_id("hubspot", deal)
    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": [], "duplicates": 1, "ignored": 0}
    assert len(await triggers_of(gateway.temporal, run_id)) == 1
    decisions = [r.gateway["decision"] for r in caplog.records if hasattr(r, "gateway")]
    assert decisions == ["accepted", "duplicate"]


async def test_a_second_event_for_the_same_deal_converges_on_its_one_run(gateway: Gateway, deal: str) -> None:
    bodies = [encode([hubspot_event(deal)]), encode([hubspot_event(deal)])]
    responses = [await gateway.post(HUBSPOT, body, hubspot_headers(body)) for body in bodies]
    run_id = workflow_id("hubspot", deal)
    assert [r.json()["accepted"] for r in responses] == [[run_id], [run_id]]
    assert len(await triggers_of(gateway.temporal, run_id)) == 2


async def test_events_that_win_nothing_are_acknowledged_and_ignored(gateway: Gateway, deal: str) -> None:
    events = [
        hubspot_event(deal, stage="contractsent"),
        hubspot_event(deal, propertyName="amount", propertyValue="120000"),
        hubspot_event(deal, subscriptionType="deal.creation", propertyName=None, propertyValue=None),
    ]
    body = encode(events)
    response = await gateway.post(HUBSPOT, body, hubspot_headers(body))
    assert response.status_code == 202
    assert response.json() == {"accepted": [], "duplicates": 0, "ignored": 3}
    assert not await gateway.exists(workflow_id("hubspot", deal))


def _forged(body: bytes) -> dict[str, str]:
    headers = hubspot_headers(body)
    headers["X-HubSpot-Signature-v3"] = headers["X-HubSpot-Signature-v3"][::-1]
    return headers


def _without(name: str) -> Any:
    def headers(body: bytes) -> dict[str, str]:
        return {k: v for k, v in hubspot_headers(body).items() if k != name}

    return headers


@pytest.mark.parametrize(
    ("make_headers", "words"),
    [
        (_forged, "signature does not match"),
        (lambda body: hubspot_headers(body, secret="not-the-app-secret"), "signature does not match"),
        (lambda body: hubspot_headers(body, url="http://elsewhere.test/webhooks/hubspot"), "signature does not match"),
        (lambda body: hubspot_headers(body, age_s=360), "s old; requests are accepted within 300 s"),
        (lambda body: hubspot_headers(body, age_s=-360), "in the future"),
        (_without("X-HubSpot-Signature-v3"), "missing X-HubSpot-Signature-v3"),
        (_without("X-HubSpot-Request-Timestamp"), "missing X-HubSpot-Request-Timestamp"),
        (lambda body: {**hubspot_headers(body), "X-HubSpot-Request-Timestamp": "yesterday"}, "not epoch milliseconds"),
    ],
    ids=[
        "forged",
        "wrong-secret",
        "other-url",
        "stale-6-min",
        "future-6-min",
        "no-signature",
        "no-timestamp",
        "bad-ts",
    ],
)
async def test_unsigned_forged_or_stale_hubspot_webhooks_get_401_and_start_nothing(
    gateway: Gateway, deal: str, make_headers: Any, words: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="psflow.gateway")
    body = encode([hubspot_event(deal, propertyValue="closedwon", changeSource="marker-not-logged")])
    response = await gateway.post(HUBSPOT, body, make_headers(body))
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "unauthorized"
    assert words in response.json()["message"]
    assert not await gateway.exists(workflow_id("hubspot", deal))
    [record] = [r for r in caplog.records if hasattr(r, "gateway")]
    assert record.gateway["decision"] == "rejected" and words in record.gateway["reason"]
    assert HUBSPOT_SECRET not in caplog.text and "marker-not-logged" not in caplog.text


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"[{not json", "body is not a HubSpot webhook delivery"),
        (b'{"eventId": 1}', "body: Input should be a valid array"),
        (encode([{"eventId": 1, "objectId": 2}]), "[0].subscriptionId: Field required"),
        (encode([hubspot_event("1", eventId="one")]), "[0].eventId: Input should be a valid integer"),
    ],
    ids=["not-json", "object-not-array", "missing-fields", "wrong-type"],
)
async def test_malformed_hubspot_bodies_get_400_naming_the_problem(gateway: Gateway, body: bytes, words: str) -> None:
    response = await gateway.post(HUBSPOT, body, hubspot_headers(body))
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "bad_request"
    assert words in response.json()["message"]


async def test_an_oversized_body_is_refused_by_its_declared_length(gateway: Gateway) -> None:
    body = b"[" + b" " * gateway.settings.gateway_max_body_bytes + b"]"
    response = await gateway.post(HUBSPOT, body, hubspot_headers(body))
    assert response.status_code == 413
    assert "exceeds the gateway's limit of 1048576" in response.json()["message"]


async def test_an_oversized_streamed_body_is_cut_off_while_reading(gateway: Gateway) -> None:
    chunks_sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal chunks_sent
        for _ in range(64):  # 4 MiB in all, with no Content-Length
            chunks_sent += 1
            yield b" " * 65536

    headers = hubspot_headers(b"")
    response = await gateway.http.post(HUBSPOT, content=chunks(), headers=headers)
    assert response.status_code == 413
    assert "Content-Length" not in response.request.headers
    assert chunks_sent < 64


async def test_a_proxied_gateway_verifies_against_its_public_url(settings: Settings, temporal_client: Client) -> None:
    public = "https://hooks.example.com/psflow"
    deal = unique_deal()
    proxied = settings.model_copy(update={"gateway_public_url": public})
    async for gateway in open_gateway(proxied, temporal_client):
        body = encode([hubspot_event(deal)])
        internal = await gateway.post(HUBSPOT, body, hubspot_headers(body))
        assert internal.status_code == 401
        assert "https://hooks.example.com/psflow/webhooks/hubspot" in internal.json()["message"]
        signed = await gateway.post(HUBSPOT, body, hubspot_headers(body, url=f"{public}{HUBSPOT}"))
        assert signed.status_code == 202, signed.text
        assert signed.json()["accepted"] == [workflow_id("hubspot", deal)]


async def test_a_relayed_salesforce_win_starts_the_opportunitys_run(gateway: Gateway) -> None:
    opportunity = unique_opportunity()
    event = change_event(opportunity)
    body = encode(event)
    response = await gateway.post(SALESFORCE, body, relay_headers(body))
    run_id = workflow_id("salesforce", opportunity)
    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": [run_id], "duplicates": 0, "ignored": 0}
    [trigger] = await triggers_of(gateway.temporal, run_id)
    assert trigger["event_id"] == event["payload"]["ChangeEventHeader"]["transactionKey"]
    again = await gateway.post(SALESFORCE, body, relay_headers(body))
    assert again.json() == {"accepted": [], "duplicates": 1, "ignored": 0}


async def test_a_relayed_stage_change_that_is_not_a_win_starts_nothing(gateway: Gateway) -> None:
    opportunity = unique_opportunity()
    body = encode(change_event(opportunity, stage="Closed Lost"))
    response = await gateway.post(SALESFORCE, body, relay_headers(body))
    assert response.json() == {"accepted": [], "duplicates": 0, "ignored": 1}
    assert not await gateway.exists(workflow_id("salesforce", opportunity))


@pytest.mark.parametrize(
    ("make_headers", "status", "words"),
    [
        (lambda body: relay_headers(body, secret="another-relay-secret"), 401, "signature does not match"),
        (lambda body: relay_headers(body, age_s=360), 401, "s old; requests are accepted within 300 s"),
        (lambda body: {"X-PSFlow-Relay-Timestamp": relay_headers(body)["X-PSFlow-Relay-Timestamp"]}, 401, "missing"),
        (lambda body: {**relay_headers(body), "X-PSFlow-Relay-Timestamp": "soon"}, 401, "not Unix seconds"),
    ],
    ids=["wrong-secret", "stale-6-min", "no-signature", "bad-timestamp"],
)
async def test_forged_stale_or_unsigned_relay_events_get_401_and_start_nothing(
    gateway: Gateway, make_headers: Any, status: int, words: str
) -> None:
    opportunity = unique_opportunity()
    body = encode(change_event(opportunity))
    response = await gateway.post(SALESFORCE, body, make_headers(body))
    assert response.status_code == status, response.text
    assert words in response.json()["message"]
    assert not await gateway.exists(workflow_id("salesforce", opportunity))
    assert RELAY_SECRET not in response.text


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"not json", "body is not an Opportunity change event"),
        (encode({"event": {"replayId": 1}}), "payload: Field required"),
        (encode({**change_event("006X"), "event": {}}), "event.replayId: Field required"),
    ],
    ids=["not-json", "no-payload", "no-replay-id"],
)
async def test_malformed_relay_bodies_get_400_naming_the_problem(gateway: Gateway, body: bytes, words: str) -> None:
    response = await gateway.post(SALESFORCE, body, relay_headers(body))
    assert response.status_code == 400, response.text
    assert words in response.json()["message"]


async def test_when_temporal_refuses_the_sender_gets_503_and_its_retry_is_acted_on(
    settings: Settings, temporal_client: Client
) -> None:
    target = temporal_client.service_client.config.target_host
    elsewhere = await Client.connect(target, namespace="psflow-no-such-namespace", data_converter=DATA_CONVERTER)
    deal = unique_deal()
    body = encode([hubspot_event(deal)])
    async for broken in open_gateway(settings, elsewhere):
        response = await broken.post(HUBSPOT, body, hubspot_headers(body))
        assert response.status_code == 503, response.text
        assert "nothing was recorded, retry the delivery" in response.json()["message"]
        assert response.headers["retry-after"] == "10"
    async for gateway in open_gateway(settings, temporal_client):  # same store: the claim was released
        retried = await gateway.post(HUBSPOT, body, hubspot_headers(body))
        assert retried.json() == {"accepted": [workflow_id("hubspot", deal)], "duplicates": 0, "ignored": 0}


async def test_unknown_routes_and_methods_are_not_webhooks(gateway: Gateway) -> None:
    assert (await gateway.http.get(HUBSPOT)).status_code == 405
    assert (await gateway.http.post("/webhooks/pipedrive", content=b"[]")).status_code == 404


async def test_the_trigger_refuses_a_non_id_and_runs_a_salesforce_id_under_its_18_character_form(
    settings: Settings, temporal_client: Client
) -> None:
    with pytest.raises(InvalidRecordId):
        await trigger_provisioning(temporal_client, settings, crm="hubspot", opportunity_id="-5", source="cli")
    gateway_run = workflow_id("hubspot", "-5")
    assert not [w async for w in temporal_client.list_workflows(f"WorkflowId = '{gateway_run}'")]
    opportunity = unique_opportunity()
    handle, _ = await trigger_provisioning(
        temporal_client, settings, crm="salesforce", opportunity_id=opportunity[:15], source="cli"
    )
    try:
        assert handle.id == workflow_id("salesforce", opportunity)
    finally:
        await handle.terminate(reason="gateway test finished")
