"""A webhook that arrives while Temporal is down gets 503 + Retry-After; its redelivery provisions once.

A Temporal dev server of the test's own (a SQLite file, a fixed port) is stopped under a running
``python -m gateway`` and then restarted on the same port and file, as an operator would restart it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest_asyncio
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from stack.local.temporal_cli import ensure_temporal_cli
from stack.settings import Settings, TemporalSettings
from tests.conftest import DATA_CONVERTER
from tests.gateway.conftest import (
    change_event,
    encode,
    free_port,
    gateway_process,
    hubspot_event,
    hubspot_headers,
    relay_headers,
    unique_deal,
    unique_opportunity,
)
from workflows.provision_engagement import workflow_id
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES


class RestartableTemporal:
    """A dev server that can be stopped and started again with its data (port and SQLite file kept)."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.database = directory / "temporal.db"
        self.env: WorkflowEnvironment | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> Client:
        self.env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(ensure_temporal_cli()),
            port=self.port,
            dev_server_database_filename=str(self.database),
            data_converter=DATA_CONVERTER,
            search_attributes=SEARCH_ATTRIBUTES,
            dev_server_startup_timeout=timedelta(seconds=60),
        )
        return self.env.client

    async def stop(self) -> None:
        if self.env is not None:
            await self.env.shutdown()
            self.env = None


@pytest_asyncio.fixture
async def temporal(tmp_path: Path) -> AsyncIterator[RestartableTemporal]:
    server = RestartableTemporal(tmp_path)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_a_webhook_during_a_temporal_outage_is_refused_retryably_and_its_redelivery_provisions_once(
    temporal: RestartableTemporal, tmp_path: Path
) -> None:
    settings = Settings(
        temporal=TemporalSettings(address=temporal.address),
        task_queue_prefix=f"t-{uuid.uuid4().hex[:10]}-",
        data_dir=tmp_path / "psflow-data",
    )
    deal, opportunity = unique_deal(), unique_opportunity()
    event = hubspot_event(deal)
    relayed = encode(change_event(opportunity))
    with gateway_process(settings, tmp_path / "gateway.log") as url:
        hubspot_url = f"{url}/webhooks/hubspot"
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:

            async def deliver(attempt: int) -> tuple[httpx.Response, httpx.Response]:
                body = encode([{**event, "attemptNumber": attempt}])  # HubSpot's retry: same event, next attempt
                hubspot = await http.post(
                    "/webhooks/hubspot", content=body, headers=hubspot_headers(body, url=hubspot_url)
                )
                relay = await http.post("/webhooks/salesforce", content=relayed, headers=relay_headers(relayed))
                return hubspot, relay

            await temporal.stop()
            during = await deliver(0)
            client = await temporal.start()
            after = await deliver(1)
            again = await deliver(2)

    for refused in during:
        assert refused.status_code == 503, refused.text
        assert refused.headers["retry-after"] == "10"
        assert "nothing was recorded, retry the delivery" in refused.json()["message"]
        assert refused.elapsed < timedelta(seconds=5), "HubSpot gives up on an answer after 5 s"
    runs = [workflow_id("hubspot", deal), workflow_id("salesforce", opportunity)]
    assert [r.json() for r in after] == [{"accepted": [run], "duplicates": 0, "ignored": 0} for run in runs]
    assert [r.json() for r in again] == [{"accepted": [], "duplicates": 1, "ignored": 0}] * 2
    for run in runs:
        assert len(await executions(client, run)) == 1
        await client.get_workflow_handle(run).terminate(reason="gateway test finished")


async def executions(client: Client, run: str) -> list[str]:
    """The run ids of a workflow id, once visibility lists at least one."""
    async with asyncio.timeout(10):
        while True:
            found = [w.run_id async for w in client.list_workflows(f"WorkflowId = '{run}'")]
            if found:
                return found
            await asyncio.sleep(0.1)
