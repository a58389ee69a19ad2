"""Engagement provisioning end to end: real dev server, worker wiring, connectors and emulators."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
from temporalio.client import Client

import worker
from stack.connectors import Connectors
from stack.settings import Settings
from stack.triggers import trigger_provisioning
from workflows.provision_engagement import ProvisionEngagementResult


async def sink_events(sandbox_url: str, subject: str) -> list[dict[str, object]]:
    async with httpx.AsyncClient() as http:
        body = (await http.get(f"{sandbox_url}/sink/events", params={"subject": subject, "limit": 100})).json()
    return list(body["events"])


async def test_a_won_salesforce_deal_is_provisioned_everywhere(
    temporal_client: Client,
    flow_settings: Settings,
    connectors: Connectors,
    win_deal: Callable[[str], Awaitable[str]],
) -> None:
    deal = await win_deal("salesforce")
    async with worker.running_workers(temporal_client, flow_settings):
        handle, already = await trigger_provisioning(
            temporal_client, flow_settings, crm="salesforce", opportunity_id=deal, source="cli"
        )
        result: ProvisionEngagementResult = await handle.result()
    assert not already
    assert result.state == "provisioned", result
    engagement_id = f"salesforce:{deal}"
    assert await connectors.kantata.find_project_by_external_id(engagement_id) == result.psa_project_id
    job = await connectors.netsuite.get_job(engagement_id)
    assert job is not None
    events = await sink_events(flow_settings.sandbox_url, engagement_id)
    assert [e["type"] for e in events] == ["com.psflow.project.activated"]
