"""Every flow raises an exception when it fails for good and auto-resolves it when a later run succeeds.

Real dev server, the worker's own wiring, emulators: the failures are emulator faults (an ERP that
answers 500 or 503 past the run's deadline or attempts), the later runs go through once the fault is
cleared, and the store says what was opened, with which values, and which run resolved it.
"""

from __future__ import annotations

import asyncio
import json
import os
from datetime import timedelta
from typing import Any

import httpx
import pytest
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle

import worker
from activities.exceptions import ResolveExceptions
from stack.connectors import Connectors
from stack.flows import start_invoice, submit_amendment, trigger_provisioning
from stack.settings import Settings
from store import Store
from store import exceptions as exc
from store.tables import ExceptionRecord
from tests.flows._kantata import Kantata
from tests.flows.conftest import MakeDeal, WinDeal, inject
from tests.flows.test_amendments_e2e import contract_status, delivery, project, provisioned, settled
from tests.flows.test_amendments_replay import DIRECTORY, _without_stack_traces
from tests.flows.test_invoicing import DAYS, ISSUED, PERIOD, Work, new_project, post_work
from tests.flows.test_provisioning_saga import QUICK_RETRIES
from workflows._exceptions import LOCAL_ATTEMPTS
from workflows.amend_contract import ContractWorkflow, RetryTarget
from workflows.invoice_project import InvoiceProjectInput, InvoiceProjectWorkflow, workflow_id
from workflows.provision_engagement import ProvisionEngagementWorkflow, Resolution

Kind = tuple[str, str, str]
PROVISIONING: Kind = ("provisioning", "salesforce", "engagement")
INVOICING: Kind = ("invoicing", "netsuite", "invoice")
AMENDMENT: Kind = ("amendment", "netsuite", "amendment")


def exceptions_of(settings: Settings, kind: Kind, key: str) -> list[ExceptionRecord]:
    """Every exception of one business key, whatever its state."""
    flow, system, what = kind
    store = Store(settings.store_url)
    try:
        return exc.find(store, states=None, flow=flow, system=system, kind=what, key=key)
    finally:
        store.engine.dispose()


def actions(settings: Settings, exception_id: int) -> list[tuple[str, dict[str, Any]]]:
    store = Store(settings.store_url)
    try:
        return [(event.action, event.detail) for event in exc.history(store, exception_id)]
    finally:
        store.engine.dispose()


async def run_name(handle: WorkflowHandle[Any, Any]) -> str:
    """How an exception names the run: ``{workflow id}/{run id}`` (the latest run of the handle's id)."""
    description = await handle.describe()
    return f"{description.id}/{description.run_id}"


async def clear_faults_now(settings: Settings) -> None:
    async with httpx.AsyncClient() as http:
        (await http.delete(f"{settings.sandbox_url}/_admin/faults")).raise_for_status()


async def keep_history(client: Client, handle: WorkflowHandle[Any, Any], name: str) -> None:
    """With ``PSFLOW_RECORD_HISTORIES=1``, write the history of the run ``handle`` started as
    ``tests/histories/{name}.json`` for the replay tests."""
    if os.environ.get("PSFLOW_RECORD_HISTORIES"):
        started = client.get_workflow_handle(handle.id, run_id=handle.result_run_id)
        history = await started.fetch_history()
        text = json.dumps(_without_stack_traces(history.to_json_dict()), indent=1) + "\n"
        (DIRECTORY / f"{name}.json").write_text(text, encoding="utf-8")


async def activity_types(handle: WorkflowHandle[Any, Any]) -> list[str]:
    history = await handle.fetch_history()
    return [
        event.activity_task_scheduled_event_attributes.activity_type.name
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]


async def test_a_provisioning_that_fails_for_good_opens_an_exception_that_the_next_good_run_resolves(
    temporal_client: Client, flow_settings: Settings, win_deal: WinDeal, clear_faults: None
) -> None:
    deal = await win_deal("salesforce")
    key = f"salesforce:{deal}"
    await inject(flow_settings.sandbox_url, "netsuite", server_error=1.0, methods=["PUT"], path_regex="/record/v1/job/")
    async with worker.running_workers(temporal_client, flow_settings):
        failing, _ = await trigger_provisioning(
            temporal_client, flow_settings, crm="salesforce", opportunity_id=deal, source="cli",
            sla=timedelta(seconds=3), **QUICK_RETRIES,
        )  # fmt: skip
        with pytest.raises(WorkflowFailureError):
            await failing.result()
        failed_run = await run_name(failing)

        [opened] = exceptions_of(flow_settings, PROVISIONING, key)
        assert (opened.state, opened.reason, opened.occurrences, opened.last_run_id) == (
            "open", "DeadlinePassed", 1, failed_run,
        )  # fmt: skip
        assert opened.values == {
            "crm": "salesforce",
            "opportunity_id": deal,
            "step": "erp_job",
            "customer_erp_id": opened.values["customer_erp_id"],
            "psa_project_id": opened.values["psa_project_id"],
            "compensated": ["erp_job", "psa_project"],
        }
        assert opened.values["customer_erp_id"] and opened.values["psa_project_id"]
        assert opened.message.startswith(f"engagement {key} was not provisioned: the provisioning deadline passed")
        assert "HTTP 500" in opened.message
        assert {"system": "salesforce", "type": "opportunity", "id": deal} in opened.records
        assert opened.retry_input is None

        await clear_faults_now(flow_settings)
        again, done_before = await trigger_provisioning(
            temporal_client, flow_settings, crm="salesforce", opportunity_id=deal, source="poll"
        )
        assert not done_before and (await again.result()).state == "provisioned"
        good_run = await run_name(again)

    assert good_run != failed_run
    [resolved] = exceptions_of(flow_settings, PROVISIONING, key)
    assert (resolved.id, resolved.state, resolved.resolved_by) == (opened.id, "resolved", good_run)
    history = actions(flow_settings, opened.id)
    assert [action for action, _ in history] == ["opened", "auto_resolved"]
    assert history[-1] == ("auto_resolved", {"run": good_run})
    # The resolve is a local activity: no activity task, no workflow task added to the good run.
    assert "exceptions.resolve" not in await activity_types(again)
    await keep_history(temporal_client, failing, "provision_engagement_compensated_exceptions")
    await keep_history(temporal_client, again, "provision_engagement_provisioned_exceptions")


async def test_a_provisioning_that_succeeds_first_time_opens_nothing(
    temporal_client: Client, flow_settings: Settings, win_deal: WinDeal
) -> None:
    deal = await win_deal("salesforce")
    async with worker.running_workers(temporal_client, flow_settings):
        handle, _ = await trigger_provisioning(
            temporal_client, flow_settings, crm="salesforce", opportunity_id=deal, source="cli"
        )
        assert (await handle.result()).state == "provisioned"
    assert exceptions_of(flow_settings, PROVISIONING, f"salesforce:{deal}") == []


async def test_a_question_nobody_answers_opens_an_exception_and_an_abandoned_deal_none(
    temporal_client: Client, flow_settings: Settings, make_deal: MakeDeal
) -> None:
    unanswered, abandoned = await make_deal("Nobody answers"), await make_deal("Abandoned by sales")
    async with worker.running_workers(temporal_client, flow_settings):
        waiting, _ = await trigger_provisioning(
            temporal_client, flow_settings, crm="salesforce", opportunity_id=unanswered, source="cli",
            resolution_timeout=timedelta(seconds=1),
        )  # fmt: skip
        dropped, _ = await trigger_provisioning(
            temporal_client, flow_settings, crm="salesforce", opportunity_id=abandoned, source="cli"
        )
        await until_waiting(dropped)
        await dropped.execute_update(
            ProvisionEngagementWorkflow.resolve, Resolution(resolved_by="sales@firm.example", abandon=True)
        )
        for handle in (waiting, dropped):
            with pytest.raises(WorkflowFailureError):
                await handle.result()
    [opened] = exceptions_of(flow_settings, PROVISIONING, f"salesforce:{unanswered}")
    assert (opened.reason, opened.values["step"], opened.values["compensated"]) == (
        "ResolutionTimedOut", "waiting_for_person", [],
    )  # fmt: skip
    assert "nobody answered within 0:00:01" in opened.message
    assert exceptions_of(flow_settings, PROVISIONING, f"salesforce:{abandoned}") == []


async def until_waiting(handle: WorkflowHandle[Any, Any]) -> None:
    for _ in range(100):
        if (await handle.query(ProvisionEngagementWorkflow.progress)).state == "waiting_for_person":
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the run never asked its question")


async def test_when_the_local_resolve_fails_the_events_queue_resolves(
    temporal_client: Client, flow_settings: Settings, win_deal: WinDeal
) -> None:
    deal = await win_deal("salesforce")
    key = f"salesforce:{deal}"
    store = Store(flow_settings.store_url)
    store.upgrade()
    occurrence = exc.Occurrence(*PROVISIONING[:2], PROVISIONING[2], key, reason="BusinessRuleViolation", message="x")
    [opened] = exc.record(store, [occurrence], run_id=f"engagement-provisioning:{key}/earlier")
    connectors = Connectors.build(flow_settings)
    local_attempts = 0

    @activity.defn(name="exceptions.resolve")
    async def unreachable(request: ResolveExceptions) -> int:
        nonlocal local_attempts
        local_attempts += 1
        raise OSError("the store is unreachable from the flows worker")

    by_domain = {**worker.activities(connectors, store), "flows": [unreachable]}
    workers = worker.build_workers(temporal_client, flow_settings, by_domain)
    tasks = [asyncio.create_task(w.run()) for w in workers]
    try:
        handle, _ = await trigger_provisioning(
            temporal_client, flow_settings, crm="salesforce", opportunity_id=deal, source="cli"
        )
        assert (await handle.result()).state == "provisioned"
    finally:
        await asyncio.gather(*(w.shutdown() for w in workers))
        await asyncio.gather(*tasks, return_exceptions=True)
        await connectors.aclose()
        store.engine.dispose()
    assert local_attempts == LOCAL_ATTEMPTS
    assert "exceptions.resolve" in await activity_types(handle)
    [resolved] = exceptions_of(flow_settings, PROVISIONING, key)
    assert (resolved.id, resolved.state, resolved.resolved_by) == (opened, "resolved", await run_name(handle))


async def test_an_invoice_that_fails_for_good_opens_an_exception_that_the_next_good_run_resolves(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors, kantata: Kantata, clear_faults: None
) -> None:
    project_id, _ = await new_project(connectors, kantata, "exceptions")
    key = f"{project_id}:{PERIOD}"
    store = Store(flow_settings.store_url)
    store.upgrade()
    await post_work(connectors, store, project_id, [Work.time(DAYS.start, 240, "150.00")])
    store.engine.dispose()
    await inject(flow_settings.sandbox_url, "netsuite", server_error=1.0, methods=["PUT"],
                 path_regex="/record/v1/invoice/")  # fmt: skip
    async with worker.running_workers(temporal_client, flow_settings):
        failing = await temporal_client.start_workflow(
            InvoiceProjectWorkflow.run,
            InvoiceProjectInput(project_id=project_id, period=PERIOD, issue_date=ISSUED, step_attempts=2),
            id=workflow_id(project_id, PERIOD),
            task_queue=flow_settings.task_queue("flows"),
        )
        with pytest.raises(WorkflowFailureError):
            await failing.result()
        failed_run = await run_name(failing)
        [opened] = exceptions_of(flow_settings, INVOICING, key)
        assert (opened.state, opened.reason, opened.last_run_id) == ("open", "TransientError", failed_run)
        assert opened.values == {"project_id": project_id, "period": PERIOD, "sequence": 1, "step": "erp.post_invoice"}
        assert opened.message.startswith(f"{project_id} was not invoiced for {PERIOD}: ")

        await clear_faults_now(flow_settings)
        again, already = await start_invoice(temporal_client, flow_settings, project_id, PERIOD, issue_date=ISSUED)
        assert not already and (await again.result()).status == "invoiced"
        good_run = await run_name(again)

    [resolved] = exceptions_of(flow_settings, INVOICING, key)
    assert (resolved.id, resolved.state, resolved.resolved_by) == (opened.id, "resolved", good_run)
    assert actions(flow_settings, opened.id)[-1] == ("auto_resolved", {"run": good_run})
    await keep_history(temporal_client, failing, "invoice_project_failed_exceptions")
    await keep_history(temporal_client, again, "invoice_project_resolved_exceptions")


async def test_an_amendment_a_target_fails_for_good_opens_an_exception_that_applying_it_later_resolves(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors, win_deal: WinDeal, clear_faults: None
) -> None:
    async with worker.running_workers(temporal_client, flow_settings):
        deal, engagement_id = await provisioned(temporal_client, flow_settings, win_deal)
        before = await project(connectors, engagement_id)
        await inject(flow_settings.sandbox_url, "netsuite", unavailable=1.0, retry_after_s=0,
                     path_regex="/record/v1/job/")  # fmt: skip
        limits = {"target_deadline": timedelta(seconds=3), "retry_maximum_interval": timedelta(seconds=1)}
        budget = before.budget.model_copy(update={"amount": before.budget.amount + 1000})
        sent = delivery(deal, engagement_id, 1, before.start_date, budget=budget)
        await submit_amendment(temporal_client, flow_settings, sent, wait=True, **limits)
        handle = temporal_client.get_workflow_handle(f"contract:salesforce:{deal}")
        key = f"salesforce:{deal}:v1:erp"
        [opened] = exceptions_of(flow_settings, AMENDMENT, key)
        assert (opened.state, opened.last_run_id) == ("open", await run_name(handle))
        assert opened.values == {
            "crm": "salesforce",
            "contract_id": deal,
            "version": 1,
            "target": "erp",
            "step": "erp.apply_amendment",
            "attempts": 1,
        }
        assert "was not applied in NetSuite" in opened.message
        assert exceptions_of(flow_settings, ("amendment", "kantata", "amendment"), f"salesforce:{deal}:v1:psa") == []

        await clear_faults_now(flow_settings)
        await handle.execute_update(ContractWorkflow.retry, RetryTarget(target="erp"))
        await settled(temporal_client, deal, 1)
        status = await contract_status(temporal_client, deal)
        assert status.versions[0].targets["erp"].state == "applied"
        good_run = await run_name(handle)

    [resolved] = exceptions_of(flow_settings, AMENDMENT, key)
    assert (resolved.id, resolved.state, resolved.resolved_by) == (opened.id, "resolved", good_run)
