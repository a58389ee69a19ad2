"""The gateway app over ``httpx.ASGITransport`` with the session's real Temporal client, and signed senders."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from canonical.record_ids import opportunity_id
from connectors.hubspot.webhooks import sign_v3
from connectors.salesforce.notifications import relay_signature
from gateway.app import create_app
from stack.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
BASE_URL = "http://gateway.test"
HUBSPOT_SECRET = "psflow-demo-secret"
RELAY_SECRET = "psflow-demo-relay-secret"


def unique_deal() -> str:
    """A HubSpot-style numeric deal id no other test (or CRM record) uses."""
    return str(8_000_000_000 + uuid.uuid4().int % 1_000_000_000)


def unique_opportunity() -> str:
    """A Salesforce Opportunity id (18 characters, valid checksum) no other test (or CRM record) uses."""
    return opportunity_id("salesforce", f"0068T{uuid.uuid4().int % 10**10:010d}")


def hubspot_event(
    deal: str, *, event_id: int | None = None, stage: str = "closedwon", **changes: Any
) -> dict[str, Any]:
    """One ``deal.propertyChange`` event as HubSpot sends it."""
    event = {
        "eventId": event_id if event_id is not None else uuid.uuid4().int % 1_000_000_000,
        "subscriptionId": 7,
        "portalId": 62515,
        "appId": 1160452,
        "occurredAt": int(time.time() * 1000),
        "subscriptionType": "deal.propertyChange",
        "attemptNumber": 0,
        "objectId": int(deal),
        "propertyName": "dealstage",
        "propertyValue": stage,
        "changeSource": "CRM_UI",
    }
    return {**event, **changes}


def change_event(opportunity_id: str, *, stage: str = "Closed Won", change_type: str = "UPDATE") -> dict[str, Any]:
    """One Opportunity change event as the CDC relay forwards it."""
    header = {
        "entityName": "Opportunity",
        "recordIds": [opportunity_id],
        "changeType": change_type,
        "changeOrigin": "com/salesforce/api/rest/62.0",
        "transactionKey": str(uuid.uuid4()),
        "sequenceNumber": 1,
        "commitTimestamp": int(time.time() * 1000),
        "commitUser": "0058d0000000001AAA",
        "changedFields": ["StageName", "IsWon", "IsClosed"],
    }
    return {"schema": "test", "payload": {"ChangeEventHeader": header, "StageName": stage}, "event": {"replayId": 41}}


def hubspot_headers(
    body: bytes, *, url: str = f"{BASE_URL}/webhooks/hubspot", secret: str = HUBSPOT_SECRET, age_s: float = 0
) -> dict[str, str]:
    """Signature v3 headers for a POST of ``body`` to ``url``, signed ``age_s`` seconds ago."""
    timestamp = str(int((time.time() - age_s) * 1000))
    signature = sign_v3(method="POST", uri=url, body=body, timestamp_ms=timestamp, client_secret=secret)
    return {
        "Content-Type": "application/json",
        "X-HubSpot-Signature-v3": signature,
        "X-HubSpot-Request-Timestamp": timestamp,
    }


def relay_headers(body: bytes, *, secret: str = RELAY_SECRET, age_s: float = 0) -> dict[str, str]:
    """CDC relay signature headers for ``body``, signed ``age_s`` seconds ago."""
    timestamp = str(int(time.time() - age_s))
    return {
        "Content-Type": "application/json",
        "X-PSFlow-Relay-Timestamp": timestamp,
        "X-PSFlow-Relay-Signature": relay_signature(body, timestamp, secret),
    }


def encode(payload: Any) -> bytes:
    return json.dumps(payload).encode()


@dataclass
class Gateway:
    """The app under test, an HTTP client onto it, and the workflows it started (terminated afterwards)."""

    http: httpx.AsyncClient
    settings: Settings
    temporal: Client
    started: set[str] = field(default_factory=set)

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        response = await self.http.post(path, content=body, headers=headers)
        if response.status_code == 202:
            self.started.update(response.json()["accepted"])
        return response

    async def exists(self, workflow_id: str) -> bool:
        try:
            await self.temporal.get_workflow_handle(workflow_id).describe()
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                return False
            raise
        return True


async def open_gateway(settings: Settings, temporal: Client, **options: Any) -> AsyncIterator[Gateway]:
    """The app over ASGI; ``options`` go to `create_app` (``change_order_stages``)."""

    async def connected(_settings: Settings) -> Client:
        return temporal

    app = create_app(settings, connected, **options)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
            gateway = Gateway(http, settings, temporal)
            try:
                yield gateway
            finally:
                for workflow_id in gateway.started:
                    handle = temporal.get_workflow_handle(workflow_id)
                    if (await handle.describe()).status is WorkflowExecutionStatus.RUNNING:
                        await handle.terminate(reason="gateway test finished")


@pytest_asyncio.fixture
async def gateway(settings: Settings, temporal_client: Client) -> AsyncIterator[Gateway]:
    """The gateway app with the test's settings (no worker: started runs wait on an idle queue)."""
    async for opened in open_gateway(settings, temporal_client):
        yield opened


@pytest.fixture
def deal() -> str:
    return unique_deal()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def gateway_environment(settings: Settings) -> dict[str, str]:
    """The environment that makes ``python -m gateway`` use these settings (and no settings file)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PSFLOW_")}
    return env | {
        "PSFLOW_TEMPORAL__ADDRESS": settings.temporal.address,
        "PSFLOW_TASK_QUEUE_PREFIX": settings.task_queue_prefix,
        "PSFLOW_DATA_DIR": str(settings.data_dir),
        "PSFLOW_SANDBOX_URL": settings.sandbox_url,
        # The test run's key ring, shared with its workers (tests/conftest.py).
        "PSFLOW_ENCRYPTION_KEYS": json.dumps(
            {key: v.get_secret_value() for key, v in settings.encryption_keys.items()}
        ),
    }


@contextmanager
def gateway_process(settings: Settings, log_path: Path, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """``python -m gateway`` as a real process on a free port, with ``settings`` (and ``extra_env``); yields its URL."""
    port = free_port()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=gateway_environment(settings) | (extra_env or {}),
            cwd=ROOT,
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"the gateway did not start:\n{log_path.read_text()}")
            time.sleep(0.1)
        try:
            yield url
        finally:
            process.terminate()
            process.wait(timeout=15)


@pytest.fixture
def served_gateway(flow_settings: Settings, tmp_path: Path) -> Iterator[str]:
    """``python -m gateway`` as a real process on a free port, with the test's settings; yields its URL."""
    with gateway_process(flow_settings, tmp_path / "gateway.log") as url:
        yield url
