"""The polling fallback sends won amendments to their contract's run, never to provisioning."""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio.client import Client

from stack.settings import Settings
from tests.flows._amendment_targets import UK_CONTRACTS, HubSpotSandbox, SalesforceSandbox, amendment_workers
from workflows.amend_contract import contract_workflow_id
from workflows.amendment_intake import AmendmentIntakeResult, intake_workflow_id
from workflows.poll_closed_won import PollClosedWonInput, PollClosedWonWorkflow
from workflows.provision_engagement import workflow_id


async def test_polling_delivers_a_won_amendment_to_its_contract_once(
    temporal_client: Client, flow_settings: Settings
) -> None:
    salesforce = SalesforceSandbox(flow_settings.sandbox_url)
    contract = await salesforce.unused_contract()
    amendment = await salesforce.won_amendment(contract, hours=24, close_date="2026-12-14")
    poll = PollClosedWonInput(crms=["salesforce"], lookback=timedelta(seconds=60))
    intake = intake_workflow_id("salesforce", amendment)
    async with amendment_workers(temporal_client, flow_settings) as targets:
        first = await temporal_client.execute_workflow(
            PollClosedWonWorkflow.run, poll, id=f"poll-{uuid.uuid4()}", task_queue=flow_settings.task_queue("flows")
        )
        assert intake in first.amendments_started
        assert workflow_id("salesforce", amendment) not in first.started  # not provisioned as a new engagement
        located = await temporal_client.get_workflow_handle(intake, result_type=AmendmentIntakeResult).result()
        (applied,) = await targets.applied_to(contract["contract_id"])
        second = await temporal_client.execute_workflow(
            PollClosedWonWorkflow.run, poll, id=f"poll-{uuid.uuid4()}", task_queue=flow_settings.task_queue("flows")
        )
    assert located.contract_workflow_id == contract_workflow_id("salesforce", contract["contract_id"])
    assert located.started_contract_run
    assert (applied.id, applied.version, applied.engagement_id) == (
        f"salesforce:{amendment}",
        1,
        f"salesforce:{contract['deal_id']}",
    )
    assert intake in second.amendments_already and intake not in second.amendments_started
    assert len(targets.applied[contract["contract_id"]]) == 1


async def test_polling_delivers_a_signed_hubspot_change_order_to_its_original_deal(
    temporal_client: Client, flow_settings: Settings
) -> None:
    contract = UK_CONTRACTS[0]
    change_order = await HubSpotSandbox(flow_settings.sandbox_url).won_change_order(
        contract, amount="1200", close_date="2026-12-14"
    )
    poll = PollClosedWonInput(crms=["hubspot"], lookback=timedelta(seconds=60))
    intake = intake_workflow_id("hubspot", change_order)
    async with amendment_workers(temporal_client, flow_settings) as targets:
        result = await temporal_client.execute_workflow(
            PollClosedWonWorkflow.run, poll, id=f"poll-{uuid.uuid4()}", task_queue=flow_settings.task_queue("flows")
        )
        located = await temporal_client.get_workflow_handle(intake, result_type=AmendmentIntakeResult).result()
        (applied,) = await targets.applied_to(contract)
    assert intake in result.amendments_started
    assert workflow_id("hubspot", change_order) not in result.started
    assert located.contract_workflow_id == contract_workflow_id("hubspot", contract)
    assert (applied.id, applied.version, applied.engagement_id) == (
        f"hubspot:{change_order}",
        1,
        f"hubspot:{contract}",
    )
