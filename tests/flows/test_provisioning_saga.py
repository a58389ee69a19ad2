"""The provisioning saga's failure paths: what compensates, what does not, and a redo after compensation.

A step fails "for good" only with a non-retryable error (a business refusal) or at the provisioning
deadline; those tests force the refusal with a fake activity registered under the real name, which
calls the real one first, so the step commits and still fails, as a real system can.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.exceptions import ApplicationError

import worker
from canonical.events import CloudEvent
from stack.connectors import Connectors
from stack.flows import trigger_provisioning
from stack.settings import Settings
from store import Store
from tests.flows.conftest import WinDeal, inject, sink_events
from tests.flows.test_provisioning import erp_state, failure_of, provision, psa_state

REFUSED = "BusinessRuleViolation"
QUICK_RETRIES = {
    "retry_initial_interval": timedelta(milliseconds=100),
    "retry_maximum_interval": timedelta(seconds=0.2),
}
"""Retry intervals short enough to outlast an outage of a dozen attempts in seconds."""


def refusing(real: Callable[..., Awaitable[Any]], name: str, when: Callable[[Any], bool]) -> Callable[..., Any]:
    """The activity ``name`` that does its real work, then refuses for good when ``when(argument)``."""

    @activity.defn(name=name)
    @functools.wraps(real, updated=())  # its parameter types, not its activity definition
    async def refuse(argument: Any) -> Any:
        result = await real(argument)
        if when(argument):
            raise ApplicationError(f"{name} was refused by the target system", type=REFUSED, non_retryable=True)
        return result

    return refuse


def _activation(event: CloudEvent) -> bool:
    return event.type == "com.psflow.project.activated"


REFUSALS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "psa_project": ("psa.create_project", lambda _: True),
    "erp_job": ("erp.create_job", lambda _: True),
    "staffing_event": ("events.publish", _activation),
}


@asynccontextmanager
async def workers_where_refused(client: Client, settings: Settings, step: str) -> AsyncIterator[None]:
    """The worker's own wiring, with the activity behind ``step`` refusing for good after its real work."""
    name, when = REFUSALS[step]
    store = Store(settings.store_url)
    store.upgrade()
    connectors = Connectors.build(settings)
    by_domain = {
        domain: [refusing(fn, name, when) if activity_name(fn) == name else fn for fn in registered]
        for domain, registered in worker.activities(connectors, store).items()
    }
    workers = worker.build_workers(client, settings, by_domain)
    tasks = [asyncio.create_task(w.run()) for w in workers]
    try:
        yield
    finally:
        await asyncio.gather(*(w.shutdown() for w in workers))
        await asyncio.gather(*tasks, return_exceptions=True)
        await connectors.aclose()
        store.engine.dispose()


def activity_name(fn: Callable[..., Any]) -> str | None:
    definition = getattr(fn, "__temporal_activity_definition", None)
    return None if definition is None else str(definition.name)


async def attempts(handle: WorkflowHandle[Any, Any]) -> dict[str, int]:
    """The most attempts any call of each activity took, from the run's history."""
    history = await handle.fetch_history()
    names = {
        e.event_id: e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    }
    most: dict[str, int] = {}
    for e in history.events:
        if e.HasField("activity_task_started_event_attributes"):
            started = e.activity_task_started_event_attributes
            name = names[started.scheduled_event_id]
            most[name] = max(most.get(name, 0), started.attempt)
    return most


async def jobs_in_netsuite(connectors: Connectors, engagement_id: str) -> list[dict[str, Any]]:
    """The NetSuite emulator's own answer: every job with this external id, active or not."""
    query = f"SELECT id, isinactive FROM job WHERE externalid = '{engagement_id}'"
    return [row async for row in connectors.netsuite.suiteql(query)]


async def test_a_deal_triggered_again_after_compensation_ends_with_an_active_job_and_project(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors, win_deal: WinDeal
) -> None:
    deal = await win_deal("salesforce")
    engagement_id = f"salesforce:{deal}"
    async with workers_where_refused(temporal_client, flow_settings, "staffing_event"):
        error, first = await failure_of(await provision(temporal_client, flow_settings, "salesforce", deal))
    assert "events.publish was refused" in str(error), error
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


@pytest.mark.parametrize(
    ("step", "undone"),
    [
        ("psa_project", ["psa_project"]),
        ("erp_job", ["erp_job", "psa_project"]),
        ("staffing_event", ["staffing_event", "erp_job", "psa_project"]),
    ],
)
async def test_a_step_refused_for_good_is_compensated_in_reverse_at_once_leaving_no_orphans(
    temporal_client: Client,
    flow_settings: Settings,
    connectors: Connectors,
    win_deal: WinDeal,
    step: str,
    undone: list[str],
) -> None:
    deal = await win_deal("salesforce")
    engagement_id = f"salesforce:{deal}"
    async with workers_where_refused(temporal_client, flow_settings, step):
        handle = await provision(temporal_client, flow_settings, "salesforce", deal)
        error, result = await failure_of(handle)
    assert error.type == "EngagementNotProvisioned"
    assert result["state"] == "compensated" and result["compensated"] == undone
    assert (await attempts(handle))[REFUSALS[step][0]] == 1, "a refusal is not retried"
    # Each step committed before it was refused: its undo found something to undo.
    assert await psa_state(connectors, engagement_id) == "closed"
    assert await erp_state(connectors, engagement_id) == ("absent" if step == "psa_project" else "inactive")
    types = [e["type"] for e in await sink_events(flow_settings.sandbox_url, engagement_id)]
    expected = ["com.psflow.project.activated", "com.psflow.project.retracted"] if step == "staffing_event" else []
    assert types == expected


async def test_an_outage_longer_than_eight_attempts_is_outlasted_and_nothing_is_compensated(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors, win_deal: WinDeal, clear_faults: None
) -> None:
    deal = await win_deal("salesforce")
    engagement_id = f"salesforce:{deal}"
    url = flow_settings.sandbox_url
    # The ERP answers 500 to the job's first nine attempts; the staffing tool 429 to the event's first
    # nine (27 requests: the connector retries a 429 in-process three times per attempt). Provisioning
    # used to roll back after 8 attempts.
    await inject(url, "netsuite", server_error=1.0, methods=["PUT"], path_regex="/record/v1/job/", times=9)
    await inject(url, "sink", rate_limit=1.0, retry_after_s=0, path_regex="/sink/events", times=27)
    async with worker.running_workers(temporal_client, flow_settings):
        handle = await provision(temporal_client, flow_settings, "salesforce", deal, **QUICK_RETRIES)
        result = await handle.result()
    assert result.state == "provisioned" and result.compensated == [], result
    tried = await attempts(handle)
    assert (tried["erp.create_job"], tried["events.publish"]) == (10, 10), tried
    assert await jobs_in_netsuite(connectors, engagement_id) == [{"id": result.erp_job_id, "isinactive": "F"}]
    assert await psa_state(connectors, engagement_id) == "active"
    types = [e["type"] for e in await sink_events(url, engagement_id)]
    assert types == ["com.psflow.project.activated"]


async def test_a_step_reached_at_the_deadline_that_still_succeeds_is_a_late_engagement(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors, win_deal: WinDeal, clear_faults: None
) -> None:
    # Kantata takes 3.3 s of the 4 s SLA to create the workspace, so the ERP job step is scheduled with the
    # deadline under a second away and gets LAST_CHANCE (1 s); NetSuite answers in 0.7 s, after the SLA.
    deal = await win_deal("salesforce")
    await inject(
        flow_settings.sandbox_url, "kantata", latency_ms=3300, methods=["POST"], path_regex="/workspaces.json$"
    )
    await inject(flow_settings.sandbox_url, "netsuite", latency_ms=700, methods=["PUT"], path_regex="/record/v1/job/")
    async with worker.running_workers(temporal_client, flow_settings):
        handle = await provision(temporal_client, flow_settings, "salesforce", deal, sla=timedelta(seconds=4))
        result = await handle.result()
    assert result.state == "provisioned" and result.erp_job_id is not None, result
    assert result.sla_breached is True
    assert [event["type"] for event in await sink_events(flow_settings.sandbox_url, f"salesforce:{deal}")].count(
        "com.psflow.engagement.sla_breached"
    ) == 1


async def test_an_outage_past_the_provisioning_deadline_is_compensated(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors, win_deal: WinDeal, clear_faults: None
) -> None:
    deal = await win_deal("salesforce")
    engagement_id = f"salesforce:{deal}"
    await inject(flow_settings.sandbox_url, "netsuite", server_error=1.0, methods=["PUT"], path_regex="/record/v1/job/")
    async with worker.running_workers(temporal_client, flow_settings):
        handle = await provision(
            temporal_client, flow_settings, "salesforce", deal, sla=timedelta(seconds=3), **QUICK_RETRIES
        )
        error, result = await failure_of(handle)
    assert error.type == "EngagementNotProvisioned"
    assert result["state"] == "compensated" and result["compensated"] == ["erp_job", "psa_project"]
    assert result["sla_breached"] is True
    assert "deadline passed" in result["error"] and "HTTP 500" in result["error"], result["error"]
    assert await erp_state(connectors, engagement_id) == "absent"
    assert await psa_state(connectors, engagement_id) == "closed"
