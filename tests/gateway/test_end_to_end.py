"""A deal won in the CRM reaches provisioning through real processes: emulator → ``python -m gateway`` → worker.

The session sandbox is shared, so the gateway's subscriptions exist only while a test runs, and the
deals come from the far end of the open-deal list (the flow tests take theirs from the front).
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio
from sqlmodel import select
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

import worker
from canonical import OpportunityStage
from stack.connectors import Connectors
from stack.local.subscriptions import GatewaySecrets, subscribe_sandbox, unsubscribe_sandbox
from stack.settings import Settings
from store import InboundEvent, Store
from tests.gateway.conftest import ROOT, free_port, gateway_environment
from workflows.provision_engagement import ProvisionEngagementResult, workflow_id

KANTATA_TOKEN = "psflow-demo-kantata-token"
_taken: set[str] = set()


@pytest_asyncio.fixture
async def connectors(flow_settings: Settings) -> AsyncIterator[Connectors]:
    built = Connectors.build(flow_settings)
    try:
        yield built
    finally:
        await built.aclose()


@pytest.fixture
def subscribed(served_gateway: str, flow_settings: Settings) -> Iterator[str]:
    """The served gateway, subscribed to the session sandbox for the duration of the test."""
    subscribe_sandbox(flow_settings.sandbox_url, served_gateway, GatewaySecrets.from_settings(flow_settings))
    try:
        yield served_gateway
    finally:
        unsubscribe_sandbox(flow_settings.sandbox_url, served_gateway)


async def open_deal(connectors: Connectors, crm: str) -> str:
    """An open deal no test has used, from the end of the list (new deals, not amendment opportunities)."""
    if crm == "salesforce":
        soql = "SELECT Id FROM Opportunity WHERE IsClosed = false AND SBQQ__AmendedContract__c = null ORDER BY Id"
        ids = [str(row["Id"]) async for row in connectors.salesforce.query(soql)]
    else:
        still_open = {"propertyName": "dealstage", "operator": "NOT_IN", "values": ["closedwon", "closedlost"]}
        # Sales deals only: change orders (another pipeline) are never won as new deals.
        sales = {"propertyName": "pipeline", "operator": "EQ", "value": "default"}
        body = {"filterGroups": [{"filters": [still_open, sales]}], "properties": ["dealstage"], "limit": 100}
        ids = sorted(record.id for record in (await connectors.hubspot.api.search_page("deals", body)).results)
    deal = next(d for d in reversed(ids) if f"{crm}:{d}" not in _taken)
    _taken.add(f"{crm}:{deal}")
    return deal


async def move(connectors: Connectors, crm: str, deal: str, stage: OpportunityStage) -> None:
    if crm == "salesforce":
        await connectors.salesforce.set_opportunity_stage(deal, stage)
    else:
        await connectors.hubspot.set_deal_stage(deal, stage)


async def started_run(client: Client, run_id: str) -> WorkflowHandle[object, ProvisionEngagementResult]:
    """The run, once the gateway has started it (the emulator delivers in the background)."""
    async with asyncio.timeout(20):
        while True:
            handle = client.get_workflow_handle(run_id, result_type=ProvisionEngagementResult)
            try:
                await handle.describe()
                return handle
            except RPCError as exc:
                if exc.status is not RPCStatusCode.NOT_FOUND:
                    raise
            await asyncio.sleep(0.1)


async def accepted_events(store: Store, run_id: str, count: int) -> list[InboundEvent]:
    """The gateway's record of events it acted on for the run, once there are ``count`` of them."""

    def read() -> list[InboundEvent]:
        with store.session() as session:
            return list(session.exec(select(InboundEvent).where(InboundEvent.workflow_id == run_id)).all())

    async with asyncio.timeout(20):
        while True:
            rows = await asyncio.to_thread(read)
            if len(rows) >= count:
                return rows
            await asyncio.sleep(0.1)


async def kantata_workspaces(sandbox_url: str, engagement_id: str) -> int:
    """How many Kantata workspaces carry the engagement's external reference."""
    params = {"subject_type": "Workspace", "service_model_ref": engagement_id}
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {KANTATA_TOKEN}"}) as http:
        response = await http.get(f"{sandbox_url}/kantata/api/v1/external_references.json", params=params)
    response.raise_for_status()
    return int(response.json()["count"])


@pytest.mark.parametrize("crm", ["salesforce", "hubspot"])
async def test_a_deal_won_twice_in_the_crm_is_provisioned_once_through_the_gateway(
    crm: str, temporal_client: Client, flow_settings: Settings, connectors: Connectors, subscribed: str
) -> None:
    deal = await open_deal(connectors, crm)
    run_id = workflow_id(crm, deal)
    engagement_id = f"{crm}:{deal}"
    store = Store(flow_settings.store_url)
    async with worker.running_workers(temporal_client, flow_settings):
        await move(connectors, crm, deal, OpportunityStage.CLOSED_WON)
        handle = await started_run(temporal_client, run_id)
        result = await handle.result()
        # Reopened and won again: a second, different webhook for the same deal.
        await move(connectors, crm, deal, OpportunityStage.NEGOTIATION)
        await move(connectors, crm, deal, OpportunityStage.CLOSED_WON)
        events = await accepted_events(store, run_id, 2)
    store.engine.dispose()
    assert result.state == "provisioned", result
    assert [t.source for t in result.triggers] == ["webhook"]
    assert result.triggers[0].event_id is not None
    assert len({event.event_id for event in events}) == 2
    assert (await handle.describe()).status is WorkflowExecutionStatus.COMPLETED
    runs = [w.run_id async for w in temporal_client.list_workflows(f"WorkflowId = '{run_id}'")]
    assert len(runs) == 1
    assert await connectors.kantata.find_project_by_external_id(engagement_id) == result.psa_project_id
    assert await kantata_workspaces(flow_settings.sandbox_url, engagement_id) == 1
    jobs = [
        row async for row in connectors.netsuite.suiteql(f"SELECT id FROM job WHERE externalid = '{engagement_id}'")
    ]
    assert len(jobs) == 1


@pytest.mark.parametrize(
    ("command", "prefix"),
    [([sys.executable, "-m", "gateway"], ""), ([sys.executable, str(ROOT / "cli.py"), "gateway", "serve"], "error: ")],
    ids=["python-m-gateway", "psflow-gateway-serve"],
)
def test_a_busy_port_is_one_line_and_exit_2(flow_settings: Settings, command: list[str], prefix: str) -> None:
    with socket.socket() as holder:
        port = free_port()
        holder.bind(("127.0.0.1", port))
        holder.listen()
        finished = subprocess.run(
            [*command, "--port", str(port)],
            capture_output=True,
            text=True,
            env=gateway_environment(flow_settings),
            cwd=ROOT,
            timeout=60,
        )
    assert finished.returncode == 2
    assert finished.stderr == f"{prefix}port {port} is in use: stop what holds it or pass --port\n"


async def test_over_a_real_socket_an_oversized_body_is_refused_and_health_answers(served_gateway: str) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(32):  # 2 MiB, chunked
            yield b" " * 65536

    headers = {"X-HubSpot-Signature-v3": "x", "X-HubSpot-Request-Timestamp": "1"}
    async with httpx.AsyncClient(base_url=served_gateway, timeout=10) as http:
        declared = await http.post("/webhooks/hubspot", content=b" " * (2 * 1024 * 1024), headers=headers)
        streamed = await http.post("/webhooks/hubspot", content=chunks(), headers=headers)
        health = await http.get("/healthz")
    assert (declared.status_code, streamed.status_code) == (413, 413)
    assert health.json() == {"status": "ok"}
