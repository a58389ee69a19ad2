"""Contract amendments end to end: real dev server, the worker's own wiring, connectors and emulators.

A deal is provisioned first (the contract's baseline); amendments then reach Kantata, NetSuite and the
event sink through `stack.flows.submit_amendment`, as the CLI sends them. With
``PSFLOW_RECORD_HISTORIES=1`` the first test also writes its history to ``tests/histories/`` for the
replay test (test_amendments_replay.py).
"""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

import worker
from canonical import ContractAmendment, Money, Project, RoleRate
from stack.connectors import Connectors
from stack.flows import submit_amendment, trigger_provisioning
from stack.local.subscriptions import GatewaySecrets, subscribe_sandbox, unsubscribe_sandbox
from stack.settings import Settings
from tests.conftest import anchor_month_day
from tests.flows.conftest import WinDeal, inject, sink_events
from tests.flows.test_amendments_replay import save_history
from tests.flows.test_provisioning_crash import start_worker
from tests.gateway.conftest import gateway_process
from workflows.amend_contract import AmendmentSubmission, ContractStatus, ContractWorkflow, RetryTarget


async def provisioned(client: Client, settings: Settings, win_deal: WinDeal) -> tuple[str, str]:
    """A freshly won and provisioned Salesforce deal: (deal id, engagement id)."""
    deal = await win_deal("salesforce")
    handle, _ = await trigger_provisioning(client, settings, crm="salesforce", opportunity_id=deal, source="cli")
    result = await handle.result()
    assert result.state == "provisioned", result
    return deal, f"salesforce:{deal}"


async def project(connectors: Connectors, engagement_id: str) -> Project:
    workspace = await connectors.kantata.find_project_by_external_id(engagement_id)
    assert workspace is not None
    return await connectors.kantata.get_project(workspace)


def delivery(deal: str, engagement_id: str, version: int, effective: date, **terms: Any) -> AmendmentSubmission:
    amendment = ContractAmendment(
        id=f"cli:{deal}:v{version}",
        contract_id=deal,
        engagement_id=engagement_id,
        version=version,
        effective_date=effective,
        signed_at=datetime(2026, 11, 20, tzinfo=UTC),
        **terms,
    )
    return AmendmentSubmission(crm="salesforce", contract_id=deal, amendment=amendment, source="cli")


async def contract_status(client: Client, deal: str) -> ContractStatus:
    return await client.get_workflow_handle(f"contract:salesforce:{deal}").query(ContractWorkflow.status)


async def settled(client: Client, deal: str, versions: int) -> ContractStatus:
    """The status once ``versions`` versions are applied everywhere (at most 60 s)."""
    for _ in range(600):
        status = await contract_status(client, deal)
        if len(status.versions) == versions and all(
            t.state == "applied" for v in status.versions for t in v.targets.values()
        ):
            return status
        await asyncio.sleep(0.1)
    raise AssertionError(f"not applied everywhere: {status.lines}")


def amended_types(events: list[dict[str, Any]]) -> list[int]:
    return [e["data"]["version"] for e in events if e["type"] == "com.psflow.project.amended"]


async def test_two_amendments_out_of_order_apply_in_order_in_both_targets(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors, win_deal: WinDeal
) -> None:
    async with worker.running_workers(temporal_client, flow_settings):
        deal, engagement_id = await provisioned(temporal_client, flow_settings, win_deal)
        before = await project(connectors, engagement_id)
        sold = await connectors.salesforce.get_opportunity(deal)
        role = next(item.role for item in sold.line_items if item.role)
        currency = before.budget.currency
        budget = Money.of(before.budget.amount + 25000, currency)
        end = before.end_date + timedelta(days=30)
        rate_from = anchor_month_day(1, 15)
        raise_rate = delivery(
            deal, engagement_id, 2, rate_from, rate_changes=(RoleRate(role=role, hourly_rate=Money.of(245, currency)),)
        )
        extend = delivery(deal, engagement_id, 1, before.start_date, budget=budget, end_date=end)

        early = await submit_amendment(temporal_client, flow_settings, raise_rate, wait=True)
        assert early.outcome is not None and early.outcome.state == "waiting", early.outcome
        assert amended_types(await sink_events(flow_settings.sandbox_url, engagement_id)) == []
        first = await submit_amendment(temporal_client, flow_settings, extend, wait=True)
        assert first.outcome is not None and first.outcome.state == "applied", first.outcome
        status = await settled(temporal_client, deal, 2)

        after = await project(connectors, engagement_id)
        assert (after.budget, after.end_date) == (budget, end)
        job = await connectors.netsuite.get_job(engagement_id)
        assert job is not None and job.end_date == end
        workspace = await connectors.kantata.find_project_by_external_id(engagement_id)
        assert workspace is not None and status.engagement_id == engagement_id
        schedule = await connectors.kantata.rate_schedule(workspace)
        assert schedule is not None
        assert schedule.rate_on(role, rate_from) == Money.of(245, currency)
        assert schedule.rate_on(role, rate_from - timedelta(days=1)) != Money.of(245, currency)
        assert amended_types(await sink_events(flow_settings.sandbox_url, engagement_id)) == [1, 2]
        # Nothing of this new project was posted yet: the ERP compared no posted time with the new rate.
        assert str(status.versions[1].targets["erp"].detail).endswith("; 0 posted entries re-rated: 0 adjusted")
        if os.environ.get("PSFLOW_RECORD_HISTORIES"):
            await save_history(temporal_client.get_workflow_handle(f"contract:salesforce:{deal}"), "e2e_repriced")


async def test_a_target_down_past_its_deadline_fails_there_and_recovers_on_retry(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors, win_deal: WinDeal, clear_faults: None
) -> None:
    async with worker.running_workers(temporal_client, flow_settings):
        deal, engagement_id = await provisioned(temporal_client, flow_settings, win_deal)
        before = await project(connectors, engagement_id)
        currency = before.budget.currency
        await inject(flow_settings.sandbox_url, "netsuite", unavailable=1.0, retry_after_s=0,
                     path_regex="/record/v1/job/")  # fmt: skip
        limits = {"target_deadline": timedelta(seconds=4), "retry_maximum_interval": timedelta(seconds=1)}
        for version in (1, 2):
            budget = Money.of(before.budget.amount + 1000 * version, currency)
            sent = delivery(deal, engagement_id, version, before.start_date, budget=budget)
            await submit_amendment(temporal_client, flow_settings, sent, wait=True, **limits)
        status = await contract_status(temporal_client, deal)
        assert status.lines[0].startswith("v1 applied in Kantata, failed in NetSuite (still failing when the target")
        assert status.lines[1] == (
            "v2 applied in Kantata, pending in NetSuite (blocked by v1, failed there), applied in events"
        )
        assert (await project(connectors, engagement_id)).budget == Money.of(before.budget.amount + 2000, currency)

        async with httpx.AsyncClient() as http:
            await http.delete(f"{flow_settings.sandbox_url}/_admin/faults")
        handle = temporal_client.get_workflow_handle(f"contract:salesforce:{deal}")
        assert (
            await handle.execute_update(ContractWorkflow.retry, RetryTarget(target="erp")) == "retrying v1 in NetSuite"
        )
        await settled(temporal_client, deal, 2)
        assert amended_types(await sink_events(flow_settings.sandbox_url, engagement_id)) == [1, 2]


async def test_a_worker_killed_mid_amendment_is_replaced_and_each_version_applies_once(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors, win_deal: WinDeal, clear_faults: None
) -> None:
    async with worker.running_workers(temporal_client, flow_settings):
        deal, engagement_id = await provisioned(temporal_client, flow_settings, win_deal)
    before = await project(connectors, engagement_id)
    # Slow the ERP job's amendment so the first worker is certainly inside it when it dies.
    await inject(flow_settings.sandbox_url, "netsuite", latency_ms=5000, path_regex="/record/v1/job/",
                 methods=["PATCH"], times=1)  # fmt: skip
    first = await start_worker(flow_settings)
    second = None
    try:
        budget = Money.of(before.budget.amount + 500, before.budget.currency)
        sent = delivery(
            deal, engagement_id, 1, before.start_date, budget=budget, end_date=before.end_date + timedelta(days=7)
        )
        await submit_amendment(temporal_client, flow_settings, sent, wait=False)
        async with httpx.AsyncClient() as http:
            for _ in range(600):
                faults = (await http.get(f"{flow_settings.sandbox_url}/_admin/faults")).json()
                if faults["counters"].get("netsuite", {}).get("latency", 0) >= 1:
                    break
                await asyncio.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        await first.wait()
        second = await start_worker(flow_settings)
        await settled(temporal_client, deal, 1)
    finally:
        for process in (first, second):
            if process is not None and process.returncode is None:
                process.kill()
                await process.wait()
    job = await connectors.netsuite.get_job(engagement_id)
    assert job is not None and job.end_date == before.end_date + timedelta(days=7)
    assert (await project(connectors, engagement_id)).budget == budget
    assert amended_types(await sink_events(flow_settings.sandbox_url, engagement_id)) == [1]
    history = await temporal_client.get_workflow_handle(f"contract:salesforce:{deal}").fetch_history()
    started = [e for e in history.events if e.HasField("activity_task_started_event_attributes")]
    assert any(e.activity_task_started_event_attributes.attempt > 1 for e in started), "the ERP step was retried"


async def test_the_demo_amends_a_provisioned_contract_in_both_targets(
    temporal_client: Client,
    flow_settings: Settings,
    connectors: Connectors,
    win_deal: WinDeal,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The demo's step as a firm with Salesforce CPQ does it: Amend twice, win v2 first, the gateway delivers."""
    from commands.demo import EXTRA_HOURS, amend_contract

    async with worker.running_workers(temporal_client, flow_settings):
        deal, engagement_id = await provisioned(temporal_client, flow_settings, win_deal)
        before = await project(connectors, engagement_id)
        with gateway_process(flow_settings, tmp_path / "gateway.log") as gateway:
            subscribe_sandbox(flow_settings.sandbox_url, gateway, GatewaySecrets.from_settings(flow_settings))
            try:
                contract = await amend_contract(temporal_client, flow_settings, connectors, deal, timeout_s=60)
            finally:
                unsubscribe_sandbox(flow_settings.sandbox_url, gateway)
        status = await contract_status(temporal_client, contract)
    printed = capsys.readouterr().out
    assert contract.startswith("800")
    waiting, applied = printed.index("waiting for v1 since"), printed.index("v1 applied in Kantata")
    assert waiting < applied, "v2 was shown waiting for v1 before both applied"
    assert "v1 applied in Kantata, applied in NetSuite, applied in events" in printed
    assert "v2 applied in Kantata, applied in NetSuite, applied in events" in printed
    assert f"psflow amendment status salesforce:{contract}" in printed
    assert f"query=ContractId%3D%27{contract}%27" in printed
    v1, v2 = status.versions
    assert (v1.amendment_id.startswith("salesforce:006"), v2.amendment_id.startswith("salesforce:006")) == (True, True)
    assert v2.summary.endswith(f"/h from {v2.effective_date}") and v1.effective_date < v2.effective_date
    events = await sink_events(flow_settings.sandbox_url, engagement_id)
    assert amended_types(events) == [1, 2]
    sold = await connectors.salesforce.get_opportunity(deal)
    price = next(item.unit_price.amount for item in sold.line_items if item.role)
    after = await project(connectors, engagement_id)
    assert after.end_date is not None and after.end_date > before.end_date
    assert after.budget.amount == before.budget.amount + EXTRA_HOURS * price + EXTRA_HOURS * (
        (price * Decimal("1.1")).quantize(Decimal("0.01")) - price
    )


async def test_the_demo_says_what_it_saw_when_no_webhook_delivers_the_amendment(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors, win_deal: WinDeal
) -> None:
    from commands._common import UserError
    from commands.demo import amend_contract

    async with worker.running_workers(temporal_client, flow_settings):
        deal, _ = await provisioned(temporal_client, flow_settings, win_deal)
        with pytest.raises(UserError) as stuck:  # no gateway subscribed: v2's change event goes nowhere
            await amend_contract(temporal_client, flow_settings, connectors, deal, timeout_s=1)
    message = str(stuck.value)
    assert message.startswith("v2's delivery through the gateway did not happen within 1 s")
    assert "the contract's run has no version yet" in message and "`psflow dev status`" in message


async def test_an_amendment_of_a_contract_never_provisioned_is_refused_and_writes_nothing(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors
) -> None:
    stray = delivery("8008d000000NOPE", "salesforce:0068d000000NOPEAAA", 1, date(2026, 12, 1),
                     budget=Money.of(1000, "USD"))  # fmt: skip
    async with worker.running_workers(temporal_client, flow_settings):
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await submit_amendment(temporal_client, flow_settings, stray, wait=True)
        status = await contract_status(temporal_client, "8008d000000NOPE")
    assert isinstance(refused.value.cause, ApplicationError) and refused.value.cause.type == "UnknownContract"
    assert refused.value.cause.message == (
        "contract 8008d000000NOPE names engagement salesforce:0068d000000NOPEAAA, which has no PSA project: "
        "provision it first (`psflow engagement provision`), then submit the amendment again"
    )
    assert status.versions == [] and status.engagement_id is None
    assert await sink_events(flow_settings.sandbox_url, "salesforce:0068d000000NOPEAAA") == []
