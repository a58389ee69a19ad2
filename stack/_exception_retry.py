"""Retrying one exception with a person's edits: checked before anything changes, then run once.

`retry_exception` is what ``psflow exceptions retry ID [--set field=value ...]`` calls. It refuses, in
one line and with nothing changed, an exception that does not exist or is no longer active, a field
the exception's retry input does not have (naming those it has), and a value that would not make a
valid canonical input. Then it starts `RetryExceptionWorkflow` as ``exception-retry:{id}:{n}`` (n: the
exception's retries so far, plus one) and waits for what the retry did.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.exception_retry import Verdict
from activities.posting._retry_input import READ_ONLY, InvalidEdit, edited_record
from canonical.calendar import billing_period
from stack.schedules import resource_sync_input
from stack.settings import Settings
from store import Store
from store import exceptions as exc
from store import resources as resource_store
from store.invoicing import invoice_to_run
from store.posting import POSTED_KINDS
from store.tables import ExceptionRecord
from workflows.invoice_project import InvoiceProjectInput, describe
from workflows.provision_engagement import ProvisionEngagementInput
from workflows.reconcile import ReconcileInput
from workflows.retry_exception import RetryExceptionInput, RetryExceptionWorkflow, workflow_id

RETRYABLE_FLOWS = ("posting", "provisioning", "invoicing", "reconciliation", "resources")
"""Flows whose exceptions a retry re-runs (amendments re-run through their own flow)."""


class RetryRefused(ValueError):
    """A retry that was not started, and why, in one line; nothing was changed."""


class RetryOutcome(BaseModel):
    """What a retry did.

    Attributes:
        exception_id: The exception retried.
        workflow_id: The retry's workflow (``exception-retry:{id}:{n}``), named by the history and,
            when it resolved the exception, by ``resolved_by``.
        outcome: ``resolved``, or ``failed again`` (the exception stays active).
        message: What happened, in words: what was posted or re-run, or why it failed again.
        edits: The edits applied, as given.
    """

    model_config = ConfigDict(frozen=True)

    exception_id: int
    workflow_id: str
    outcome: Verdict
    message: str
    edits: dict[str, str] = Field(default_factory=dict)


async def retry_exception(
    client: Client,
    settings: Settings,
    exception_id: int,
    edits: dict[str, str],
    *,
    actor: str,
    today: date | None = None,
) -> RetryOutcome:
    """Re-run the exception's failed item once with ``edits`` and wait for the outcome.

    Args:
        actor: Who retries it, kept in the exception's history.
        today: The firm's today for a re-run that depends on it (None: the day it starts in the firm's
            time zone): an invoice's issue date, whether a reconciled period is over.

    Raises:
        RetryRefused: The exception does not exist or is not open or acknowledged; it takes no edits, or
            not these; an edited value fails canonical validation; its flow cannot be retried; or a retry
            of it is running. Nothing was started or changed.
    """
    retry_input, attempt = await asyncio.to_thread(_checked, settings, exception_id, dict(edits), actor, today)
    run_id = workflow_id(exception_id, attempt, prefix=settings.task_queue_prefix)
    try:
        handle = await client.start_workflow(
            RetryExceptionWorkflow.run,
            retry_input,
            id=run_id,
            task_queue=settings.task_queue("flows"),
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            static_summary=f"Retry exception {exception_id}" + (f", editing {', '.join(edits)}" if edits else ""),
        )
    except WorkflowAlreadyStartedError:
        raise RetryRefused(
            f"exception {exception_id} is being retried already ({run_id}): wait for it, "
            f"then see `psflow exceptions show {exception_id}`"
        ) from None
    try:
        result = await handle.result()
    except WorkflowFailureError as failure:
        verdict: Verdict = "failed again"
        return RetryOutcome(
            exception_id=exception_id,
            workflow_id=run_id,
            outcome=verdict,
            message=describe(failure.cause or failure),
            edits=dict(edits),
        )
    return RetryOutcome(
        exception_id=exception_id, workflow_id=run_id, outcome=result.outcome, message=result.message, edits=dict(edits)
    )


def _checked(
    settings: Settings, exception_id: int, edits: dict[str, str], actor: str, today: date | None
) -> tuple[RetryExceptionInput, int]:
    """The retry's input and its number (the exception's retries so far, plus one), once every check passed."""
    store = Store(settings.store_url)
    try:
        try:
            row = exc.get(store, exception_id)
        except LookupError:
            raise RetryRefused(f"no exception {exception_id}: see the ids with `psflow exceptions list`") from None
        if row.state not in exc.ACTIVE:
            by = f" by {row.resolved_by}" if row.resolved_by else ""
            raise RetryRefused(
                f"exception {exception_id} is {row.state}{by}: only open or acknowledged ones can be retried"
            )
        retry_input = _rerun(store, settings, row, edits, actor, today)
        attempt = 1 + sum(1 for event in exc.history(store, exception_id) if event.action == "retried")
        return retry_input, attempt
    finally:
        store.engine.dispose()


def _rerun(
    store: Store, settings: Settings, row: ExceptionRecord, edits: dict[str, str], actor: str, today: date | None
) -> RetryExceptionInput:
    """What the retry re-runs, with the edits checked; `RetryRefused` when they do not apply."""
    assert row.id is not None
    if row.flow not in RETRYABLE_FLOWS:
        raise RetryRefused(
            f"exception {row.id} is a {row.flow} exception, which retry does not re-run yet: "
            "fix the cause and run its flow again"
        )
    if edits and row.retry_input is None:
        raise RetryRefused(f"exception {row.id} takes no edits: retry it without --set")
    unknown = sorted(set(edits) - set(row.retry_input or {}))
    if unknown:
        raise RetryRefused(_no_such_field(row, unknown))
    base: dict[str, Any] = {"exception_id": row.id, "flow": row.flow, "actor": actor, "edits": edits}
    if row.flow == "posting":
        if row.kind not in POSTED_KINDS:
            raise RetryRefused(
                f"exception {row.id} is a {row.kind.replace('_', ' ')}, which a retry does not post again "
                f"(it posts time entries and expenses): see `psflow exceptions show {row.id}` for what to do"
            )
        if row.retry_input is None:
            raise RetryRefused(
                f"exception {row.id} keeps no record to retry from (one the PSA could not read, or recorded "
                f"before retries): correct it in the PSA, then `psflow posting run --date {row.business_date}`"
            )
        try:
            edited_record(row.kind, row.business_key, row.retry_input, edits)
        except InvalidEdit as error:
            raise RetryRefused(f"exception {row.id}: {error}") from None
        return RetryExceptionInput.model_validate(base)
    if row.flow == "provisioning":
        crm, _, opportunity_id = row.business_key.partition(":")
        deal = {
            "crm": crm,
            "opportunity_id": opportunity_id,
            "sla": timedelta(minutes=settings.provisioning_sla_minutes),
            "resolution_timeout": timedelta(hours=settings.provisioning_resolution_hours),
        }
        return RetryExceptionInput.model_validate(
            {**base, "provisioning": _edited(row, ProvisionEngagementInput, deal, edits)}
        )
    if row.flow == "reconciliation":
        return _reconciliation(settings, row, base, edits, today)
    if row.flow == "resources":
        return _resources(store, settings, row, base, edits, today)
    project_id, _, period = row.business_key.rpartition(":")
    through = _period_of(row, period)
    invoice = {
        "project_id": project_id,
        "period": period,
        "time_zone": settings.firm_time_zone,
        "sequence": invoice_to_run(store, project_id, period, through),
        "issue_date": today,
    }
    return RetryExceptionInput.model_validate({**base, "invoicing": _edited(row, InvoiceProjectInput, invoice, edits)})


def _reconciliation(
    settings: Settings, row: ExceptionRecord, base: dict[str, Any], edits: dict[str, str], today: date | None
) -> RetryExceptionInput:
    """The period's reconciliation again, the project's alone when the difference names one."""
    period = row.business_key.partition(":")[0]
    _period_of(row, period)
    recon = {
        "period": period,
        "project_id": (row.values or {}).get("project_id"),
        "time_zone": settings.firm_time_zone,
        "prefix": settings.task_queue_prefix,
        "today": today,
    }
    return RetryExceptionInput.model_validate({**base, "reconciliation": _edited(row, ReconcileInput, recon, edits)})


def _resources(
    store: Store,
    settings: Settings,
    row: ExceptionRecord,
    base: dict[str, Any],
    edits: dict[str, str],
    today: date | None,
) -> RetryExceptionInput:
    """The worker's sync again, that worker alone, under the legal entity psflow knows them by."""
    if edits:
        raise RetryRefused(f"exception {row.id} takes no edits: correct the worker in {row.system}, then retry it")
    if row.kind == "time_off_overlap":
        raise RetryRefused(
            f"exception {row.id} is two approved time off requests on one day: withdraw one in {row.system}; "
            "the next sync resolves it"
        )
    known = resource_store.resource(store, row.business_key)
    entities = [entity for entity, system in settings.hr_systems.items() if system == row.system]
    if known is not None and known.legal_entity in entities:
        entities = [known.legal_entity]
    if len(entities) != 1:
        raise RetryRefused(
            f"exception {row.id}: {'no' if not entities else 'more than one'} legal entity has {row.system} as its "
            f"HR system (setting hr_systems: {settings.hr_systems}), so the worker's cannot be told"
        )
    sync = resource_sync_input(settings, worker_ids=[row.business_key], today=today)
    sync = sync.model_copy(update={"sources": [s for s in sync.sources if s.legal_entity == entities[0]]})
    return RetryExceptionInput.model_validate({**base, "resources": sync})


def _period_of(row: ExceptionRecord, period: str) -> date:
    """The last day of the exception's billing period; `RetryRefused` when its key names none."""
    try:
        return billing_period(period).end
    except ValueError as error:
        raise RetryRefused(f"exception {row.id} names no billing period ({row.business_key}): {error}") from None


def _edited(row: ExceptionRecord, model: type[BaseModel], given: dict[str, Any], edits: Mapping[str, str]) -> BaseModel:
    """The flow's input with the edits written over it, validated as the flow validates it."""
    if edits:
        assert row.retry_input is not None
        fields = set(row.retry_input) - READ_ONLY
        unknown = sorted(name for name in edits if name not in fields or name not in model.model_fields)
        if unknown:
            raise RetryRefused(_no_such_field(row, unknown))
    try:
        return model.model_validate({**given, **edits})
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in problem['loc'])}: {problem['msg']}"
            for problem in error.errors(include_url=False)
        )
        raise RetryRefused(f"exception {row.id}: {problems}") from None


def _no_such_field(row: ExceptionRecord, names: Sequence[str]) -> str:
    fields = sorted(set(row.retry_input or {}) - READ_ONLY)
    return (
        f"exception {row.id} has no field {', '.join(map(repr, names))} to edit; "
        f"its fields are {', '.join(fields) or 'none'}"
    )
