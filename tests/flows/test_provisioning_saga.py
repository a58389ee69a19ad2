"""The provisioning saga's failure paths: what compensates, what does not, and a redo after compensation.

A step fails "for good" only with a non-retryable error (a business refusal) or at the provisioning
deadline; those tests force the refusal with a fake activity registered under the real name, which
calls the real one first, so the step commits and still fails, as a real system can.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

import worker
from activities.events import EventActivities
from canonical.events import CloudEvent
from stack.connectors import Connectors
from stack.settings import Settings
from stack.triggers import trigger_provisioning
from store import Store
from tests.flows.conftest import WinDeal, sink_events
from tests.flows.test_provisioning import erp_state, failure_of, provision, psa_state

REFUSED = "BusinessRuleViolation"


def refusing_activation(real: Callable[[CloudEvent], Awaitable[None]]) -> Callable[[CloudEvent], Awaitable[None]]:
    """``events.publish`` whose staffing tool takes ``project.activated`` and then refuses it for good."""

    @activity.defn(name="events.publish")
    async def publish(event: CloudEvent) -> None:
        await real(event)
        if event.type == "com.psflow.project.activated":
            raise ApplicationError("the staffing tool refused the project", type=REFUSED, non_retryable=True)

    return publish


@asynccontextmanager
async def workers_where_staffing_refuses(client: Client, settings: Settings) -> AsyncIterator[None]:
    """The worker's own wiring, with ``events.publish`` replaced by `refusing_activation`."""
    store = Store(settings.store_url)
    store.upgrade()
    connectors = Connectors.build(settings)
    by_domain = worker.activities(connectors, store)
    by_domain["events"] = [
        refusing_activation(fn) if getattr(fn, "__func__", None) is EventActivities.publish else fn
        for fn in by_domain["events"]
    ]
    workers = worker.build_workers(client, settings, by_domain)
    tasks = [asyncio.create_task(w.run()) for w in workers]
    try:
        yield
    finally:
        await asyncio.gather(*(w.shutdown() for w in workers))
        await asyncio.gather(*tasks, return_exceptions=True)
        await connectors.aclose()
        store.engine.dispose()


async def jobs_in_netsuite(connectors: Connectors, engagement_id: str) -> list[dict[str, Any]]:
    """The NetSuite emulator's own answer: every job with this external id, active or not."""
    query = f"SELECT id, isinactive FROM job WHERE externalid = '{engagement_id}'"
    return [row async for row in connectors.netsuite.suiteql(query)]


async def test_a_deal_triggered_again_after_compensation_ends_with_an_active_job_and_project(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors, win_deal: WinDeal
) -> None:
    deal = await win_deal("salesforce")
    engagement_id = f"salesforce:{deal}"
    async with workers_where_staffing_refuses(temporal_client, flow_settings):
        error, first = await failure_of(await provision(temporal_client, flow_settings, "salesforce", deal))
    assert "the staffing tool refused the project" in str(error), error
    assert first["compensated"] == ["staffing_event", "erp_job", "psa_project"]
    assert [row["isinactive"] for row in await jobs_in_netsuite(connectors, engagement_id)] == ["T"]
    assert await psa_state(connectors, engagement_id) == "closed"

    # The polling schedule finds the deal still won and triggers it again; nothing refuses this time.
    async with worker.running_workers(temporal_client, flow_settings):
        handle, done_before = await trigger_provisioning(
            temporal_client, flow_settings, crm="salesforce", opportunity_id=deal, source="poll"
        )
        again = await handle.result()
    assert not done_before
    assert again.state == "provisioned", again
    assert again.erp_job_id == first["erp_job_id"] and again.psa_project_id == first["psa_project_id"]
    assert await jobs_in_netsuite(connectors, engagement_id) == [{"id": again.erp_job_id, "isinactive": "F"}]
    assert await erp_state(connectors, engagement_id) == "active"
    assert await psa_state(connectors, engagement_id) == "active"
    types = [e["type"] for e in await sink_events(flow_settings.sandbox_url, engagement_id)]
    assert types[-1] == "com.psflow.project.activated"
