"""Where each arrival goes: provisioning for a won deal, the contract's run for a won amendment.

- a won deal: signal-with-start ``engagement-provisioning:{crm}:{opportunity_id}`` (`stack.flows.trigger_provisioning`);
- a Salesforce CPQ amendment opportunity, whose event names its contract: update-with-start on
  ``contract:salesforce:{contract_id}`` (`stack.flows.submit_amendment`), answered once the run accepted it;
- a HubSpot change order, whose webhook names only the deal: start ``amendment-intake:hubspot:{deal_id}``
  (`workflows.amendment_intake`), which finds the contract and delivers the amendment to its run.
"""

from __future__ import annotations

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from gateway._arrivals import Arrival
from stack.flows import submit_amendment, trigger_provisioning
from stack.settings import Settings
from workflows.amend_contract import AmendmentSubmission, contract_workflow_id
from workflows.amendment_intake import AmendmentIntakeInput, AmendmentIntakeWorkflow, intake_workflow_id
from workflows.provision_engagement import workflow_id

__all__ = ["route", "run_id_of"]


def run_id_of(arrival: Arrival) -> str:
    """The id of the workflow the arrival goes to."""
    if not arrival.amendment:
        return workflow_id(arrival.crm, arrival.opportunity_id)
    if arrival.contract_id is not None:
        return contract_workflow_id(arrival.crm, arrival.contract_id)
    return intake_workflow_id(arrival.crm, arrival.opportunity_id)


async def route(client: Client, settings: Settings, arrival: Arrival) -> tuple[str, bool]:
    """Start, signal or update the arrival's workflow; its id, and whether the work was already done."""
    if not arrival.amendment:
        handle, already = await trigger_provisioning(
            client,
            settings,
            crm=arrival.crm,
            opportunity_id=arrival.opportunity_id,
            source="webhook",
            event_id=arrival.event_id,
        )
        return handle.id, already
    if arrival.contract_id is not None:
        submission = AmendmentSubmission(
            crm=arrival.crm,
            contract_id=arrival.contract_id,
            record_id=arrival.opportunity_id,
            source="webhook",
            event_id=arrival.event_id,
        )
        receipt = await submit_amendment(client, settings, submission, wait=False)
        return receipt.workflow_id, False
    return await _start_intake(client, settings, arrival)


async def _start_intake(client: Client, settings: Settings, arrival: Arrival) -> tuple[str, bool]:
    run_id = intake_workflow_id(arrival.crm, arrival.opportunity_id)
    try:
        await client.start_workflow(
            AmendmentIntakeWorkflow.run,
            AmendmentIntakeInput(
                crm=arrival.crm, record_id=arrival.opportunity_id, source="webhook", event_id=arrival.event_id
            ),
            id=run_id,
            task_queue=settings.task_queue("flows"),
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            static_summary=f"Deliver {arrival.crm} amendment {arrival.opportunity_id} to its contract",
        )
    except WorkflowAlreadyStartedError:
        # Its intake completed: the amendment reached its contract, which deduplicates it anyway.
        return run_id, True
    return run_id, False
