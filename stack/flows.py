"""Starting psflow's flows: the one way the CLI, the gateway, the benchmarks and the tests start each one.

Each start names the flow's one workflow id for its business key and the policy for an id already
used, so a repeated start joins or reports the existing run instead of doing the work twice:

- provisioning: signal-with-start on ``engagement-provisioning:{crm}:{opportunity_id}``. The first
  arrival (webhook, polling schedule or CLI) starts the run, later arrivals only add a ``triggered``
  signal to it. A deal whose run completed is never provisioned again; one whose run failed (and
  was compensated) can be triggered again once fixed.
- posting: one run per business date, joined while it runs (the schedule and backfills start the
  same id through `ScheduledPostingWorkflow`).
- invoicing: one run per project, month and invoice number; the month's run invoices every project.
- exceptions: a person's retry of one, with edits, as ``exception-retry:{id}:{n}`` (`retry_exception`,
  in ``stack._exception_retry``), checked before anything starts.
- contract amendments: update-with-start on ``contract:{crm}:{contract_id}`` (joined while it runs).
  The update id comes from the CRM record, or from the contract, version and content of an amendment
  given by hand, so a re-delivery gets the first delivery's answer from Temporal itself.
- resources: one sync at a time under ``{prefix}resource-sync``; a start while one runs (started by
  hand, or by the schedule under its timestamped id) reports that run instead of starting another.

The schedules that start flows on a clock are in `stack.schedules`.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel
from temporalio.client import (
    Client,
    ScheduleActionExecutionStartWorkflow,
    WithStartWorkflowOperation,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateStage,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from canonical.calendar import billing_period
from canonical.record_ids import opportunity_id as canonical_opportunity_id
from stack._exception_retry import RetryOutcome, RetryRefused, retry_exception
from stack.schedules import RESOURCE_SYNC, resource_sync_input
from stack.schedules import handle as schedule_handle
from stack.settings import Settings
from store import Store
from store.invoicing import invoice_to_run
from workflows import invoice_project, post_time_expenses, provision_engagement, reconcile, sync_resources
from workflows import search_attributes as sa
from workflows.amend_contract import (
    AmendmentOutcome,
    AmendmentSubmission,
    ContractInput,
    ContractWorkflow,
    content_hash,
    contract_workflow_id,
)
from workflows.invoice_project import InvoiceProjectInput, InvoiceProjectResult, InvoiceProjectWorkflow
from workflows.monthly_invoicing import (
    MonthlyInvoicingInput,
    MonthlyInvoicingResult,
    MonthlyInvoicingWorkflow,
    month_workflow_id,
)
from workflows.post_time_expenses import PostTimeExpensesInput, PostTimeExpensesResult, PostTimeExpensesWorkflow
from workflows.provision_engagement import ProvisionEngagementInput, ProvisionEngagementWorkflow, Trigger
from workflows.reconcile import ReconcileInput, ReconcileResult, ReconcileWorkflow
from workflows.stack_check import StackCheckInput, StackCheckResult, StackCheckWorkflow
from workflows.sync_resources import ResourceSyncResult, ResourceSyncWorkflow

__all__ = [
    "AmendmentReceipt",
    "RetryOutcome",
    "RetryRefused",
    "check_stack",
    "resource_sync_input",
    "retry_exception",
    "start_invoice",
    "start_monthly_invoicing",
    "start_posting",
    "start_reconcile",
    "start_resource_sync",
    "submit_amendment",
    "trigger_provisioning",
]

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
    run_id = provision_engagement.workflow_id(crm, opportunity_id)
    defaults: dict[str, Any] = {
        "sla": timedelta(minutes=settings.provisioning_sla_minutes),
        "resolution_timeout": timedelta(hours=settings.provisioning_resolution_hours),
        "client_in_visibility": settings.visibility_client_names,
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


async def start_posting(
    client: Client, settings: Settings, business_date: date, **options: Any
) -> WorkflowHandle[Any, PostTimeExpensesResult]:
    """Start the posting of one business date, or join the date's run while it runs.

    Args:
        options: Fields of ``PostTimeExpensesInput`` besides the date (``page_size``, paging and time limits).
    """
    return await client.start_workflow(
        PostTimeExpensesWorkflow.run,
        PostTimeExpensesInput(business_date=business_date, **options),
        id=post_time_expenses.workflow_id(business_date, prefix=settings.task_queue_prefix),
        task_queue=settings.task_queue("flows"),
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        search_attributes=TypedSearchAttributes([SearchAttributePair(sa.BUSINESS_DATE, business_date.isoformat())]),
        static_summary=f"Post approved time and expenses dated {business_date}",
    )


def _invoice_to_run(settings: Settings, project_id: str, period: str) -> int:
    store = Store(settings.store_url)
    try:
        return invoice_to_run(store, project_id, period, billing_period(period).end)
    finally:
        store.engine.dispose()


async def start_invoice(
    client: Client,
    settings: Settings,
    project_id: str,
    period: str,
    sequence: int | None = None,
    *,
    issue_date: date | None = None,
) -> tuple[WorkflowHandle[Any, InvoiceProjectResult], bool]:
    """Start (or join) the project's invoicing run for the period; True when it had already completed.

    Without ``sequence`` the store says which invoice is due: the first, an unfinished one, or a
    supplementary one for work posted since the last (see `store.invoicing.invoice_to_run`).
    """
    if sequence is None:
        sequence = await asyncio.to_thread(_invoice_to_run, settings, project_id, period)
    run_id = invoice_project.workflow_id(project_id, period, sequence)
    label = "Invoice" if sequence == 1 else f"Supplementary invoice {sequence} of"
    try:
        handle = await client.start_workflow(
            InvoiceProjectWorkflow.run,
            InvoiceProjectInput(
                project_id=project_id,
                period=period,
                time_zone=settings.firm_time_zone,
                sequence=sequence,
                issue_date=issue_date,
            ),
            id=run_id,
            task_queue=settings.task_queue("flows"),
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            static_summary=f"{label} {project_id} for {period}",
        )
    except WorkflowAlreadyStartedError:
        return client.get_workflow_handle(run_id, result_type=InvoiceProjectResult), True
    return handle, False


async def start_monthly_invoicing(
    client: Client, settings: Settings, period: str, *, issue_date: date | None = None
) -> WorkflowHandle[Any, MonthlyInvoicingResult]:
    """Start (or join) the month's invoicing run; a finished one is run again (its children dedupe)."""
    return await client.start_workflow(
        MonthlyInvoicingWorkflow.run,
        MonthlyInvoicingInput(period=period, time_zone=settings.firm_time_zone, issue_date=issue_date),
        id=month_workflow_id(period),
        task_queue=settings.task_queue("flows"),
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        static_summary=f"Monthly invoicing for {period}",
    )


async def start_reconcile(
    client: Client, settings: Settings, period: str, project_id: str | None = None, **options: Any
) -> WorkflowHandle[Any, ReconcileResult]:
    """Start a period's (or a project's) reconciliation, or join it while it runs; a finished one runs again."""
    return await client.start_workflow(
        ReconcileWorkflow.run,
        ReconcileInput(
            period=period,
            project_id=project_id,
            time_zone=settings.firm_time_zone,
            prefix=settings.task_queue_prefix,
            **options,
        ),
        id=reconcile.workflow_id(period, project_id, prefix=settings.task_queue_prefix),
        task_queue=settings.task_queue("flows"),
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        search_attributes=TypedSearchAttributes([SearchAttributePair(sa.RECON_PERIOD, period)]),
        static_summary=f"Reconcile {period}" + (f" for {project_id}" if project_id else ""),
    )


async def running_resource_sync(settings: Settings, client: Client) -> WorkflowHandle[Any, ResourceSyncResult] | None:
    """The resource sync that runs now, if any: started by hand, or by the schedule (under a timestamped id)."""
    run_id = sync_resources.workflow_id(settings.task_queue_prefix)
    try:
        description = await client.get_workflow_handle(run_id).describe()
        if description.status == WorkflowExecutionStatus.RUNNING:
            return client.get_workflow_handle(run_id, result_type=ResourceSyncResult)
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
    try:
        scheduled = await schedule_handle(client, settings, RESOURCE_SYNC).describe()
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        return None
    for action in scheduled.info.running_actions:
        if isinstance(action, ScheduleActionExecutionStartWorkflow):
            return client.get_workflow_handle(
                action.workflow_id, first_execution_run_id=action.first_execution_run_id, result_type=ResourceSyncResult
            )
    return None


async def start_resource_sync(
    settings: Settings, client: Client, *, full: bool = False, wait: bool = False, **options: Any
) -> tuple[WorkflowHandle[Any, ResourceSyncResult], bool]:
    """Start a resource sync now, unless one runs already; its handle, and whether this call started it.

    A sync that runs (started by hand or by the schedule) is returned instead: two syncs at once would
    apply the same workers twice over (harmless, the writes are idempotent, but wasted).

    Args:
        full: Read every worker, not only HR's changes since the mark.
        wait: Return once the run (this one, or the one already running) has finished.
        options: Other ``ResourceSyncInput`` fields: ``today`` (the firm's day it acts as of; default the
            run's own today in ``firm_time_zone``), ``worker_ids``, ``batch_size`` ...

    Raises:
        temporalio.client.WorkflowFailureError: With ``wait``, the run failed.
    """
    handle = await running_resource_sync(settings, client)
    started = handle is None
    if handle is None:
        run_id = sync_resources.workflow_id(settings.task_queue_prefix)
        try:
            handle = await client.start_workflow(
                ResourceSyncWorkflow.run,
                resource_sync_input(settings, full=full, **options),
                id=run_id,
                task_queue=settings.task_queue("flows"),
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                static_summary="Resource sync" + (" (full sweep)" if full else "") + ": HR to the PSA",
            )
        except WorkflowAlreadyStartedError:  # started by someone else between the look and the start
            started, handle = False, client.get_workflow_handle(run_id, result_type=ResourceSyncResult)
    if wait:
        await handle.result()
    return handle, started


async def check_stack(
    client: Client, settings: Settings, workflow_id: str, domains: list[str] | None = None
) -> StackCheckResult:
    """Run the stack check: a ping on every domain task queue (or those named), answered by the workers."""
    check = StackCheckInput() if domains is None else StackCheckInput(domains=domains)
    return await client.execute_workflow(
        StackCheckWorkflow.run, check, id=workflow_id, task_queue=settings.task_queue("flows")
    )


class AmendmentReceipt(BaseModel):
    """Where an amendment went: the contract's run, the update's id, and its outcome when waited for."""

    workflow_id: str
    update_id: str
    outcome: AmendmentOutcome | None = None


def amendment_update_id(submission: AmendmentSubmission) -> str:
    """The same delivery gets the same update id: by CRM record, or by contract, version and content."""
    if submission.record_id is not None:
        return f"amendment:{submission.crm}:{submission.record_id}"
    assert submission.amendment is not None
    amendment = submission.amendment
    return f"amendment:{submission.crm}:{amendment.contract_id}:v{amendment.version}:{content_hash(amendment)}"


async def submit_amendment(
    client: Client, settings: Settings, submission: AmendmentSubmission, *, wait: bool = False, **limits: Any
) -> AmendmentReceipt:
    """Deliver an amendment to its contract's run, starting the run if there is none (update-with-start).

    Args:
        wait: Wait for the update's answer (the version applied, held back, or where it stands after the
            run's ``reply_within``); without it, return once the run has accepted the amendment.
        limits: Overrides of ``ContractInput`` for a run this call starts (``gap_wait``, ``target_deadline``...).

    Raises:
        temporalio.client.WorkflowUpdateFailedError: The amendment was refused (its cause says why);
            nothing was applied.
    """
    run_id = contract_workflow_id(submission.crm, submission.contract_id)
    update_id = amendment_update_id(submission)
    start = WithStartWorkflowOperation(
        ContractWorkflow.run,
        ContractInput(crm=submission.crm, contract_id=submission.contract_id, **limits),
        id=run_id,
        task_queue=settings.task_queue("flows"),
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        search_attributes=TypedSearchAttributes([SearchAttributePair(sa.CONTRACT_ID, submission.contract_id)]),
        static_summary=f"Amendments of {submission.crm} contract {submission.contract_id}",
    )
    _settle_start_when_done(start)
    if wait:
        outcome = await client.execute_update_with_start_workflow(
            ContractWorkflow.submit, submission, id=update_id, start_workflow_operation=start
        )
        return AmendmentReceipt(workflow_id=run_id, update_id=update_id, outcome=outcome)
    await client.start_update_with_start_workflow(
        ContractWorkflow.submit,
        submission,
        id=update_id,
        start_workflow_operation=start,
        wait_for_stage=WorkflowUpdateStage.ACCEPTED,
    )
    return AmendmentReceipt(workflow_id=run_id, update_id=update_id)


def _settle_start_when_done(start: WithStartWorkflowOperation[Any, Any]) -> None:
    """Read the start operation's outcome whenever it comes, even after the caller gave up.

    The SDK resolves the operation's handle on its own, also with an error when the update fails or
    the call is cancelled (the gateway's timeout); nobody awaits it then, and asyncio reports the
    error as never retrieved. A waiter that reads it keeps that out of the logs: the caller already
    has the failure that matters.
    """
    waiter = asyncio.ensure_future(start.workflow_handle())
    waiter.add_done_callback(lambda done: done.cancelled() or done.exception())
