"""Amendment intake: find the contract a won amendment record amends, and deliver it to the contract's run.

A HubSpot webhook says only that a deal moved to a stage, and the polling fallback only lists won
records, so neither knows the contract. This workflow (id ``amendment-intake:{crm}:{record_id}``)
asks the CRM (``crm.locate_amendment``: a CPQ amendment opportunity's ``SBQQ__AmendedContract__c``,
a change-order deal's original deal), starts the contract's `ContractWorkflow` as a child that
outlives it (``ParentClosePolicy.ABANDON``; a run already going is fine) and signals it
``delivered``. A workflow cannot send an update, so the signal is its way in; the contract
workflow reads the amendment itself and deduplicates it by the record, as it does for updates.
Salesforce change events already name the contract, so the gateway submits those directly.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from activities.crm import CrmActivities
    from activities.models import OpportunityRef
    from workflows import search_attributes as sa
    from workflows._queues import domain_queue
    from workflows.amend_contract import AmendmentSubmission, ContractInput, ContractWorkflow, contract_workflow_id

__all__ = ["AmendmentIntakeInput", "AmendmentIntakeResult", "AmendmentIntakeWorkflow", "intake_workflow_id"]

Crm = Literal["salesforce", "hubspot"]


def intake_workflow_id(crm: str, record_id: str) -> str:
    """``amendment-intake:{crm}:{record_id}``: one intake per amendment record."""
    return f"amendment-intake:{crm}:{record_id}"


class AmendmentIntakeInput(BaseModel):
    """The won amendment record and how psflow heard of it."""

    crm: Crm
    record_id: str
    source: Literal["webhook", "poll"]
    event_id: str | None = None


class AmendmentIntakeResult(BaseModel):
    """Where the amendment went: its contract, the contract's run, and whether this intake started that run."""

    contract_id: str
    contract_workflow_id: str
    started_contract_run: bool


@workflow.defn(name="AmendmentIntake")
class AmendmentIntakeWorkflow:
    """Locate the amendment's contract, start its run if needed, and deliver the amendment to it."""

    @workflow.run
    async def run(self, input: AmendmentIntakeInput) -> AmendmentIntakeResult:
        ref = await workflow.execute_activity_method(
            CrmActivities.locate_amendment,
            OpportunityRef(crm=input.crm, opportunity_id=input.record_id),
            task_queue=domain_queue("crm"),
            start_to_close_timeout=timedelta(minutes=1),
            heartbeat_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30), maximum_attempts=10),
        )
        run_id = contract_workflow_id(input.crm, ref.contract_id)
        started = True
        try:
            await workflow.start_child_workflow(
                ContractWorkflow.run,
                ContractInput(crm=input.crm, contract_id=ref.contract_id),
                id=run_id,
                task_queue=workflow.info().task_queue,
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                search_attributes=TypedSearchAttributes([SearchAttributePair(sa.CONTRACT_ID, ref.contract_id)]),
                static_summary=f"Amendments of {input.crm} contract {ref.contract_id}",
            )
        except WorkflowAlreadyStartedError:
            started = False
        submission = AmendmentSubmission(
            crm=input.crm,
            contract_id=ref.contract_id,
            record_id=input.record_id,
            source=input.source,
            event_id=input.event_id,
        )
        await workflow.get_external_workflow_handle(run_id).signal(ContractWorkflow.delivered, submission)
        return AmendmentIntakeResult(
            contract_id=ref.contract_id, contract_workflow_id=run_id, started_contract_run=started
        )
