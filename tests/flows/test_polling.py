"""The polling fallback starts provisioning for won deals whose webhook never came, exactly once."""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio.client import Client

import worker
from stack.settings import Settings
from tests.flows.conftest import WinDeal
from workflows.poll_closed_won import PollClosedWonInput, PollClosedWonWorkflow
from workflows.provision_engagement import workflow_id


async def test_polling_starts_a_missed_deal_once_and_then_leaves_it_alone(
    temporal_client: Client, flow_settings: Settings, win_deal: WinDeal
) -> None:
    deal = await win_deal("salesforce")
    run_id = workflow_id("salesforce", deal)
    poll = PollClosedWonInput(crms=["salesforce"], lookback=timedelta(seconds=60))
    async with worker.running_workers(temporal_client, flow_settings):
        first = await temporal_client.execute_workflow(
            PollClosedWonWorkflow.run, poll, id=f"poll-{uuid.uuid4()}", task_queue=flow_settings.task_queue("flows")
        )
        assert run_id in first.started
        provisioned = await temporal_client.get_workflow_handle(run_id).result()
        second = await temporal_client.execute_workflow(
            PollClosedWonWorkflow.run, poll, id=f"poll-{uuid.uuid4()}", task_queue=flow_settings.task_queue("flows")
        )
    assert provisioned["state"] == "provisioned"
    assert run_id in second.already_done and run_id not in second.started
