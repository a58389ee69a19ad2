"""Engagement provisioning end to end: real dev server, the worker's own wiring, connectors and emulators."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import Client, WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

import worker
from bench._requests import RequestMeter
from canonical import ProjectStatus
from stack.connectors import Connectors
from stack.flows import trigger_provisioning
from stack.settings import Settings
from tests.flows.conftest import BILLABLE_ACCOUNT, MakeDeal, WinDeal, inject, sink_events
from workflows.provision_engagement import (
    ProvisionEngagementResult,
    ProvisionEngagementWorkflow,
    Resolution,
)


async def provision(client: Client, settings: Settings, crm: str, deal: str, **limits: Any) -> Any:
    handle, _ = await trigger_provisioning(
        client,
        settings,
        crm=crm,
        opportunity_id=deal,
        source="cli",
        **limits,  # type: ignore[arg-type]
    )
    return handle


async def failure_of(handle: Any) -> tuple[ApplicationError, dict[str, Any]]:
    """The run's ApplicationError and the result it carries (what was done and compensated)."""
    with pytest.raises(WorkflowFailureError) as caught:
        await handle.result()
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError), cause
    return cause, (cause.details[0] if cause.details else {})


async def psa_state(connectors: Connectors, engagement_id: str) -> str:
    """'absent', or the PSA project's status; an archived workspace reads as closed."""
    workspace = await connectors.kantata.find_project_by_external_id(engagement_id)
    if workspace is None:
        return "absent"
    try:
        project = await connectors.kantata.get_project(workspace)
    except Exception:
        return ProjectStatus.CLOSED.value
    return project.status.value


async def erp_state(connectors: Connectors, engagement_id: str) -> str:
    job = await connectors.netsuite.get_job(engagement_id)
    return "absent" if job is None else "inactive" if job.inactive else "active"


@pytest.mark.parametrize("crm", ["salesforce", "hubspot"])
async def test_a_won_deal_is_provisioned_in_psa_erp_and_staffing(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors, win_deal: WinDeal, crm: str
) -> None:
    deal = await win_deal(crm)
    async with worker.running_workers(temporal_client, flow_settings):
        result: ProvisionEngagementResult = await (await provision(temporal_client, flow_settings, crm, deal)).result()
    engagement_id = f"{crm}:{deal}"
    assert result.state == "provisioned", result
    assert result.done == ["read_deal", "erp_customer", "psa_project", "erp_job", "staffing_event", "analytics_event"]
    assert await connectors.kantata.find_project_by_external_id(engagement_id) == result.psa_project_id
    assert await erp_state(connectors, engagement_id) == "active"
    assert [e["type"] for e in await sink_events(flow_settings.sandbox_url, engagement_id)] == [
        "com.psflow.project.activated"
    ]
    # The Web UI (and `temporal workflow list`) finds the run by the CRM opportunity id.
    found = [w.id async for w in temporal_client.list_workflows(f"CrmOpportunityId = '{deal}'")]
    assert found == [f"engagement-provisioning:{crm}:{deal}"]


async def test_webhook_twice_polling_and_cli_converge_on_one_run(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors, win_deal: WinDeal
) -> None:
    deal = await win_deal("salesforce")
    async with worker.running_workers(temporal_client, flow_settings):
        triggers = [("webhook", "evt-1"), ("webhook", "evt-1"), ("poll", None), ("cli", None)]
        handles = await asyncio.gather(
            *(
                trigger_provisioning(
                    temporal_client, flow_settings, crm="salesforce", opportunity_id=deal, source=s, event_id=e
                )
                for s, e in triggers
            )
        )
        assert len({handle.id for handle, _ in handles}) == 1
        result = await handles[0][0].result()
        again, already = await trigger_provisioning(
            temporal_client, flow_settings, crm="salesforce", opportunity_id=deal, source="cli"
        )
    assert result.state == "provisioned"
    assert already and again.id == handles[0][0].id
    assert {t.source for t in result.triggers} == {"webhook", "poll", "cli"}
    assert sum(t.event_id == "evt-1" for t in result.triggers) == 1
    events = await sink_events(flow_settings.sandbox_url, f"salesforce:{deal}")
    assert len(events) == 1


async def test_transient_faults_and_lost_commits_still_leave_exactly_one_record_each(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors, win_deal: WinDeal, clear_faults: None
) -> None:
    deal = await win_deal("salesforce")
    engagement_id = f"salesforce:{deal}"
    url = flow_settings.sandbox_url
    # The workspace's create and then the bulk create of its tasks commit and lose their answers.
    lost = r"/(workspaces|stories)\.json$"
    await inject(url, "kantata", commit_then_fail=1.0, times=2, methods=["POST"], path_regex=lost)
    await inject(url, "netsuite", commit_then_fail=1.0, commit_then_fail_mode="drop", times=2, methods=["PUT"])
    await inject(url, "sink", rate_limit=1.0, retry_after_s=1, times=2)
    await inject(url, "salesforce", unavailable=1.0, retry_after_s=0, times=2)
    async with worker.running_workers(temporal_client, flow_settings):
        result = await (await provision(temporal_client, flow_settings, "salesforce", deal)).result()
    assert result.state == "provisioned"
    workspaces = [
        row async for row in connectors.netsuite.suiteql(f"SELECT id FROM job WHERE externalid = '{engagement_id}'")
    ]
    assert len(workspaces) == 1
    assert await connectors.kantata.find_project_by_external_id(engagement_id) == result.psa_project_id
    assert result.psa_project_id is not None
    tasks = [task.id for task in (await connectors.kantata.get_project(result.psa_project_id)).tasks]
    assert tasks and len(tasks) == len(set(tasks)), tasks
    assert len(await sink_events(url, engagement_id)) == 1


async def test_a_provisioned_deal_makes_at_most_twenty_requests(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors, win_deal: WinDeal
) -> None:
    warm_up, deal = await win_deal("salesforce"), await win_deal("salesforce")
    requests = RequestMeter(flow_settings.sandbox_url)
    async with worker.running_workers(temporal_client, flow_settings):
        # The first deal pays what a worker reads once: tokens, the custom field list.
        assert (await (await provision(temporal_client, flow_settings, "salesforce", warm_up)).result()).state == (
            "provisioned"
        )
        await requests.start()
        result = await (await provision(temporal_client, flow_settings, "salesforce", deal)).result()
        calls = await requests.per_item(1, own={})
    assert result.state == "provisioned" and result.psa_project_id is not None
    tasks = len((await connectors.kantata.get_project(result.psa_project_id)).tasks)
    assert (calls["salesforce"], calls["sink"]) == (2, 2), calls
    # Kantata: workspace and group look-ups, the group if the client has none yet, workspace, project code,
    # all tasks at once.
    assert calls["kantata"] <= 6, calls
    assert calls["netsuite"] == 2 + tasks, calls  # customer, job, one per task
    assert calls["total"] <= 20, calls


@pytest.mark.parametrize(
    ("shape", "words"),
    [
        ({"unit_price": -5.0}, ["unit_price must not be negative", "-5"]),
        ({"with_account": False}, ["has no AccountId"]),
        ({"line_items": 0}, ["has no line items"]),
    ],
)
async def test_a_deal_that_cannot_become_an_engagement_fails_fast_and_writes_nothing(
    temporal_client: Client,
    flow_settings: Settings,
    connectors: Connectors,
    make_deal: MakeDeal,
    shape: dict[str, Any],
    words: list[str],
) -> None:
    deal = await make_deal(f"Bad deal {sorted(shape)}", account=BILLABLE_ACCOUNT, **shape)
    async with worker.running_workers(temporal_client, flow_settings):
        handle = await provision(temporal_client, flow_settings, "salesforce", deal)
        error, result = await failure_of(handle)
        history = await handle.fetch_history()
    assert result["done"] == [] and result["compensated"] == []
    for word in words:
        assert word in str(error), error
    reads = {
        e.event_id
        for e in history.events
        if e.activity_task_scheduled_event_attributes.activity_type.name == "crm.read_engagement"
    }
    attempts = [e for e in history.events if e.activity_task_started_event_attributes.scheduled_event_id in reads]
    assert len(attempts) == 1, "a non-retryable error must not be retried"
    assert await psa_state(connectors, f"salesforce:{deal}") == "absent"
    assert await erp_state(connectors, f"salesforce:{deal}") == "absent"


async def test_missing_billing_data_waits_for_a_person_then_provisions(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors, make_deal: MakeDeal
) -> None:
    deal = await make_deal("Needs billing data")
    async with worker.running_workers(temporal_client, flow_settings):
        handle = await provision(temporal_client, flow_settings, "salesforce", deal)
        for _ in range(100):
            progress = await handle.query(ProvisionEngagementWorkflow.progress)
            if progress.state == "waiting_for_person":
                break
            await asyncio.sleep(0.1)
        assert progress.question and "payment_terms" in progress.question
        assert await erp_state(connectors, f"salesforce:{deal}") == "absent"
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(ProvisionEngagementWorkflow.resolve, Resolution(resolved_by="ops@firm.example"))
        assert "give --billing-address" in str(refused.value.cause)
        answer = Resolution.model_validate(
            {
                "resolved_by": "ops@firm.example",
                "payment_terms": "Net 30",
                "billing_address": {"line1": "9 Quay St", "city": "Leeds", "country": "GB"},
            }
        )
        await handle.execute_update(ProvisionEngagementWorkflow.resolve, answer)
        result = await handle.result()
    assert result.state == "provisioned"
    customer = await connectors.netsuite.get_customer(
        result.engagement_id
        and f"salesforce:{(await connectors.salesforce.get_opportunity(deal)).account_id.split(':')[1]}"
    )
    assert customer is not None and customer.payment_terms == "Net 30"


async def test_an_sla_breach_is_marked_and_alerted(
    temporal_client: Client, flow_settings: Settings, make_deal: MakeDeal
) -> None:
    deal = await make_deal("Slow to answer")
    async with worker.running_workers(temporal_client, flow_settings):
        handle = await provision(
            temporal_client,
            flow_settings,
            "salesforce",
            deal,
            sla=timedelta(seconds=1),
            resolution_timeout=timedelta(seconds=4),
        )
        error, result = await failure_of(handle)
    assert error.type == "EngagementNotProvisioned" and "nobody answered" in str(error)
    assert result["sla_breached"] is True
    breached = [
        w.id async for w in temporal_client.list_workflows(f"SlaBreached = true AND CrmOpportunityId = '{deal}'")
    ]
    assert breached == [handle.id]
    types = [e["type"] for e in await sink_events(flow_settings.sandbox_url, f"salesforce:{deal}")]
    assert "com.psflow.engagement.sla_breached" in types
