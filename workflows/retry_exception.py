"""A person's retry of one exception: the failed item re-run once, with their edits, and written down.

``psflow exceptions retry ID [--set field=value ...]`` starts it (`stack.flows.retry_exception`, which
checks the edits first) as ``exception-retry:{exception id}:{n}``, n counting the exception's retries.
The run first notes the retry in the exception's history ("retried": the edits, the person, this
workflow id), then re-runs the item the way its flow does:

- posting: ``erp.retry_posting`` posts the record as edited, through the daily run's rules and write
  path (same external id, same ledger), and resolves the exception or counts it failed again;
- provisioning: the deal's `ProvisionEngagementWorkflow` again, as a child under the deal's one id
  (a failed run's id may be reused, a completed one's not);
- invoicing: the project's `InvoiceProjectWorkflow` for the period again, under the invoice's id;
- reconciliation: the period's `ReconcileWorkflow` again (the project's, when the difference names
  one), under its id;
- resources: the worker's `ResourceSyncWorkflow` again, for that one worker (``worker_ids``), under
  ``{prefix}resource-sync:{worker id}`` so the scheduled sync's id stays free.

A re-run provisioning or invoice that succeeds resolves the exception naming this retry (unless the
flow's own run resolved it first); one that fails leaves it open, and the re-run records the failure as
the flow does. A re-run reconciliation or resource sync resolves the exception itself when it no longer finds (or
now applies) it; the retry then reports whether it did.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import ActivityError, ChildWorkflowError, WorkflowAlreadyStartedError
from temporalio.workflow import ChildWorkflowHandle

with workflow.unsafe.imports_passed_through():
    from activities._errors import NON_RETRYABLE_TYPES
    from activities.exception_retry import ExceptionRetryActivities, NoteRetry, ResolveRetried, RetryResult
    from activities.posting import PostingRetryActivities, RetryPostingRequest
    from workflows import invoice_project, provision_engagement, reconcile, sync_resources
    from workflows import search_attributes as sa
    from workflows._queues import domain_queue
    from workflows.invoice_project import InvoiceProjectInput, InvoiceProjectWorkflow, describe
    from workflows.provision_engagement import ProvisionEngagementInput, ProvisionEngagementWorkflow, Trigger
    from workflows.reconcile import ReconcileInput, ReconcileWorkflow
    from workflows.sync_resources import ResourceSyncInput, ResourceSyncWorkflow

Flow = Literal["posting", "provisioning", "invoicing", "reconciliation", "resources"]


def workflow_id(exception_id: int, attempt: int, prefix: str = "") -> str:
    """The retry's workflow id: the exception and which of its retries this is (1, 2, ...).

    Args:
        prefix: The task queue prefix, so stacks sharing a namespace (each with its own store) keep apart.
    """
    return f"{prefix}exception-retry:{exception_id}:{attempt}"


class RetryExceptionInput(BaseModel):
    """Which exception to retry, by whom, with which edits, and what its flow re-runs.

    Attributes:
        provisioning: The deal's provisioning input (flow ``provisioning``).
        invoicing: The project's invoicing input for the period (flow ``invoicing``).
        reconciliation: The period's (or project's) reconciliation input (flow ``reconciliation``).
        resources: The sync of the exception's one worker (flow ``resources``).
    """

    exception_id: int = Field(ge=1)
    flow: Flow
    actor: str = Field(min_length=1)
    edits: dict[str, str] = Field(default_factory=dict)
    provisioning: ProvisionEngagementInput | None = None
    invoicing: InvoiceProjectInput | None = None
    reconciliation: ReconcileInput | None = None
    resources: ResourceSyncInput | None = None


def _options(domain: str, timeout: timedelta) -> dict[str, Any]:
    return {
        "task_queue": domain_queue(domain),
        "start_to_close_timeout": timeout,
        "retry_policy": RetryPolicy(
            initial_interval=timedelta(milliseconds=500),
            maximum_interval=timedelta(seconds=30),
            maximum_attempts=8,
            non_retryable_error_types=NON_RETRYABLE_TYPES,
        ),
    }


async def _rerun(
    start: Awaitable[ChildWorkflowHandle[Any, Any]],
    busy: str,
    *,
    then: Callable[[ChildWorkflowHandle[Any, Any]], Awaitable[None]] | None = None,
) -> str | None:
    """Start the failed item's own workflow again and wait for it; None when it succeeded, else why not.

    Args:
        start: The child's start (not awaited yet).
        busy: What to say when a run under that id is running, or done when done ones may not run again.
        then: What to do once it started, before waiting for it.
    """
    try:
        handle = await start
    except WorkflowAlreadyStartedError:
        return busy
    if then is not None:
        await then(handle)
    try:
        await handle
    except ChildWorkflowError as failure:
        return describe(failure.cause or failure)
    return None


@workflow.defn(name="RetryException")
class RetryExceptionWorkflow:
    """Re-run one exception's failed item once, as edited, and say whether that resolved it."""

    @workflow.run
    async def run(self, input: RetryExceptionInput) -> RetryResult:
        me = workflow.info().workflow_id
        await workflow.execute_activity_method(
            ExceptionRetryActivities.note_retry,
            NoteRetry(exception_id=input.exception_id, actor=input.actor, edits=input.edits, workflow_id=me),
            **_options("events", timedelta(seconds=30)),
        )
        if input.flow == "posting":
            try:
                return await workflow.execute_activity_method(
                    PostingRetryActivities.retry_posting,
                    RetryPostingRequest(exception_id=input.exception_id, edits=input.edits, workflow_id=me),
                    **_options("erp", timedelta(minutes=2)),
                )
            except ActivityError as failure:  # the ERP stayed away, or the record no longer makes sense
                return RetryResult(outcome="failed again", message=describe(failure))
        if input.flow in ("reconciliation", "resources"):
            failed = await (self._reconcile(input) if input.flow == "reconciliation" else self._resync(input))
            if failed is not None:
                return RetryResult(outcome="failed again", message=failed)
            return await workflow.execute_activity_method(
                ExceptionRetryActivities.verdict,
                ResolveRetried(exception_id=input.exception_id, workflow_id=me),
                **_options("events", timedelta(seconds=30)),
            )
        failed = await (self._provision(input) if input.flow == "provisioning" else self._invoice(input))
        if failed is not None:
            return RetryResult(outcome="failed again", message=failed)
        return await workflow.execute_activity_method(
            ExceptionRetryActivities.resolve_retried,
            ResolveRetried(exception_id=input.exception_id, workflow_id=me),
            **_options("events", timedelta(seconds=30)),
        )

    @staticmethod
    async def _provision(input: RetryExceptionInput) -> str | None:
        """Provision the deal again; None when it was provisioned, else why not."""
        deal = input.provisioning
        assert deal is not None
        child_id = provision_engagement.workflow_id(deal.crm, deal.opportunity_id)
        start = workflow.start_child_workflow(
            ProvisionEngagementWorkflow.run,
            deal,
            id=child_id,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.CRM_OPPORTUNITY_ID, deal.opportunity_id),
                    SearchAttributePair(sa.FLOW_STATE, "reading"),
                ]
            ),
            static_summary=f"Provision {deal.crm} opportunity {deal.opportunity_id} (retry)",
        )

        async def trigger(handle: ChildWorkflowHandle[Any, Any]) -> None:
            try:  # the run lists its triggers: this retry is one
                await handle.signal(
                    ProvisionEngagementWorkflow.triggered,
                    Trigger(source="cli", event_id=workflow.info().workflow_id, received_at=workflow.now()),
                )
            except Exception as unsent:  # a run already over needs no trigger; its outcome is what counts
                workflow.logger.info("provisioning %s: the retry's trigger was not delivered: %s", child_id, unsent)

        busy = f"the provisioning of {deal.crm}:{deal.opportunity_id} is running or done ({child_id}): nothing re-run"
        return await _rerun(start, busy, then=trigger)

    @staticmethod
    async def _invoice(input: RetryExceptionInput) -> str | None:
        """Invoice the project's period again; None when that worked (or there was nothing to bill), else why not."""
        invoice = input.invoicing
        assert invoice is not None
        child_id = invoice_project.workflow_id(invoice.project_id, invoice.period, invoice.sequence)
        start = workflow.start_child_workflow(
            InvoiceProjectWorkflow.run,
            invoice,
            id=child_id,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            static_summary=f"Invoice {invoice.project_id} for {invoice.period} (retry)",
        )
        return await _rerun(
            start, f"the invoice of {invoice.project_id} for {invoice.period} is running or done ({child_id})"
        )

    @staticmethod
    async def _reconcile(input: RetryExceptionInput) -> str | None:
        """Reconcile the period (or the project in it) again; None when the run finished, else why not."""
        recon = input.reconciliation
        assert recon is not None and recon.period is not None
        child_id = reconcile.workflow_id(recon.period, recon.project_id, prefix=recon.prefix)
        start = workflow.start_child_workflow(
            ReconcileWorkflow.run,
            recon,
            id=child_id,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            search_attributes=TypedSearchAttributes([SearchAttributePair(sa.RECON_PERIOD, recon.period)]),
            static_summary=f"Reconcile {recon.period}"
            + (f" for {recon.project_id}" if recon.project_id else "")
            + " (retry)",
        )
        return await _rerun(start, f"the reconciliation {child_id} is running: retry once it is done")

    @staticmethod
    async def _resync(input: RetryExceptionInput) -> str | None:
        """Sync the exception's worker again; None when the run finished, else why not."""
        sync = input.resources
        assert sync is not None and sync.worker_ids
        prefix = workflow.info().task_queue.removesuffix("flows")
        child_id = f"{sync_resources.workflow_id(prefix)}:{sync.worker_ids[0]}"
        start = workflow.start_child_workflow(
            ResourceSyncWorkflow.run,
            sync,
            id=child_id,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            static_summary=f"Sync {', '.join(sync.worker_ids)} from HR (retry)",
        )
        return await _rerun(start, f"the sync of {sync.worker_ids[0]} ({child_id}) is running: retry once it is done")
