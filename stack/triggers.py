"""Starting provisioning: webhooks, the polling schedule and the CLI all converge on one workflow per deal.

Signal-with-start on ``engagement-provisioning:{crm}:{opportunity_id}``: the first arrival starts the
run, later arrivals only add a ``triggered`` signal to it. A deal whose run completed is never
provisioned again; one whose run failed (and was compensated) can be triggered again once fixed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from temporalio.client import Client, WorkflowHandle
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from canonical.record_ids import opportunity_id as canonical_opportunity_id
from stack.settings import Settings
from workflows import search_attributes as sa
from workflows.provision_engagement import (
    ProvisionEngagementInput,
    ProvisionEngagementWorkflow,
    Trigger,
    workflow_id,
)

Source = Literal["webhook", "poll", "cli"]


async def trigger_provisioning(
    client: Client,
    settings: Settings,
    *,
    crm: Literal["salesforce", "hubspot"],
    opportunity_id: str,
    source: Source,
    event_id: str | None = None,
    **limits: Any,
) -> tuple[WorkflowHandle[Any, Any], bool]:
    """Start or signal the deal's provisioning run; returns its handle and whether the deal was already done.

    Args:
        opportunity_id: The deal's id in its CRM; a Salesforce id in either length, it runs under its 18-character form.
        limits: Overrides of ``ProvisionEngagementInput`` (``sla``, ``resolution_timeout``, retry intervals).

    Raises:
        canonical.record_ids.InvalidRecordId: ``opportunity_id`` is no opportunity id of ``crm``; nothing is started.
    """
    opportunity_id = canonical_opportunity_id(crm, opportunity_id)
    trigger = Trigger(source=source, event_id=event_id, received_at=datetime.now(UTC))
    run_id = workflow_id(crm, opportunity_id)
    defaults: dict[str, Any] = {
        "sla": timedelta(minutes=settings.provisioning_sla_minutes),
        "resolution_timeout": timedelta(hours=settings.provisioning_resolution_hours),
    }
    try:
        handle = await client.start_workflow(
            ProvisionEngagementWorkflow.run,
            ProvisionEngagementInput(crm=crm, opportunity_id=opportunity_id, **{**defaults, **limits}),
            id=run_id,
            task_queue=settings.task_queue("flows"),
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            start_signal="triggered",
            start_signal_args=[trigger],
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.CRM_OPPORTUNITY_ID, opportunity_id),
                    SearchAttributePair(sa.FLOW_STATE, "reading"),
                ]
            ),
            static_summary=f"Provision {crm} opportunity {opportunity_id}",
        )
    except WorkflowAlreadyStartedError:
        # The deal's run already completed: it was provisioned, so this arrival changes nothing.
        return client.get_workflow_handle(run_id), True
    return handle, False
