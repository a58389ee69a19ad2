"""The polling fallback: find deals won recently in each CRM and make sure each has its provisioning run.

A Schedule starts this every few minutes, for webhooks that never arrived. It converges on the same
workflow id as the webhook and the CLI: a deal already being provisioned only gets a ``poll``
signal; a deal already provisioned is left alone.

Won amendment records (Salesforce CPQ amendment opportunities, HubSpot change-order deals) are not
new engagements: the CRM activities leave them out of the won deals and list them apart, and each
gets an `AmendmentIntakeWorkflow` (``amendment-intake:{crm}:{record_id}``), which delivers it to its
contract's run. An intake that completed is not started again; one that failed can be. Histories
recorded before this part existed replay without it (``workflow.patched``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from activities.crm import CrmActivities
    from activities.models import ClosedWonQuery
    from workflows import search_attributes as sa
    from workflows._queues import domain_queue
    from workflows.amendment_intake import AmendmentIntakeInput, AmendmentIntakeWorkflow, intake_workflow_id
    from workflows.provision_engagement import (
        ProvisionEngagementInput,
        ProvisionEngagementWorkflow,
        Trigger,
        workflow_id,
    )

Crm = Literal["salesforce", "hubspot"]
CRMS: tuple[Crm, ...] = ("salesforce", "hubspot")
AMENDMENTS_PATCH = "amendment-intake"
"""Marks runs that also route won amendment records (histories from before it replay without)."""


class PollClosedWonInput(BaseModel):
    """Which CRMs to poll and how far back to look (longer than the schedule's interval, so nothing slips)."""

    crms: list[Crm] = Field(default_factory=lambda: list(CRMS))
    lookback: timedelta = timedelta(hours=2)
    sla: timedelta = timedelta(hours=4)


class PollClosedWonResult(BaseModel):
    """What the poll found and did, per deal."""

    started: list[str] = Field(default_factory=list)
    already_running: list[str] = Field(default_factory=list)
    already_done: list[str] = Field(default_factory=list)
    amendments_started: list[str] = Field(default_factory=list)
    """Intake runs started for won amendment records."""
    amendments_already: list[str] = Field(default_factory=list)
    """Amendment records whose intake already ran or runs."""


@workflow.defn(name="PollClosedWon")
class PollClosedWonWorkflow:
    """Starts provisioning for every recently won deal that has no run yet."""

    @workflow.run
    async def run(self, input: PollClosedWonInput) -> PollClosedWonResult:
        result = PollClosedWonResult()
        since = workflow.now() - input.lookback
        for crm in input.crms:
            deals = await workflow.execute_activity_method(
                CrmActivities.closed_won_since,
                ClosedWonQuery(crm=crm, since=since),
                task_queue=domain_queue("crm"),
                start_to_close_timeout=timedelta(minutes=2),
                heartbeat_timeout=timedelta(seconds=10),
                retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30), maximum_attempts=5),
            )
            for deal in deals:
                await self._ensure_run(crm, deal.removeprefix(f"{crm}:"), input, result)
            if workflow.patched(AMENDMENTS_PATCH):
                amendments = await workflow.execute_activity_method(
                    CrmActivities.amendments_won_since,
                    ClosedWonQuery(crm=crm, since=since),
                    task_queue=domain_queue("crm"),
                    start_to_close_timeout=timedelta(minutes=2),
                    heartbeat_timeout=timedelta(seconds=10),
                    retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30), maximum_attempts=5),
                )
                for record in amendments:
                    await self._ensure_intake(crm, record.removeprefix(f"{crm}:"), result)
        return result

    async def _ensure_intake(self, crm: Crm, record: str, result: PollClosedWonResult) -> None:
        run_id = intake_workflow_id(crm, record)
        try:
            await workflow.start_child_workflow(
                AmendmentIntakeWorkflow.run,
                AmendmentIntakeInput(crm=crm, record_id=record, source="poll"),
                id=run_id,
                task_queue=workflow.info().task_queue,
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            )
            result.amendments_started.append(run_id)
        except WorkflowAlreadyStartedError:
            result.amendments_already.append(run_id)

    async def _ensure_run(self, crm: Crm, deal: str, input: PollClosedWonInput, result: PollClosedWonResult) -> None:
        run_id = workflow_id(crm, deal)
        trigger = Trigger(source="poll", received_at=workflow.now())
        try:
            await workflow.start_child_workflow(
                ProvisionEngagementWorkflow.run,
                ProvisionEngagementInput(crm=crm, opportunity_id=deal, sla=input.sla),
                id=run_id,
                task_queue=workflow.info().task_queue,
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
                search_attributes=TypedSearchAttributes(
                    [SearchAttributePair(sa.CRM_OPPORTUNITY_ID, deal), SearchAttributePair(sa.FLOW_STATE, "reading")]
                ),
            )
            result.started.append(run_id)
        except WorkflowAlreadyStartedError:
            try:
                running = workflow.get_external_workflow_handle(run_id)
                await running.signal(ProvisionEngagementWorkflow.triggered, trigger)
                result.already_running.append(run_id)
            except Exception:  # the run is closed: the deal was provisioned (or a person abandoned it)
                result.already_done.append(run_id)
