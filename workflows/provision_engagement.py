"""Engagement provisioning: a won deal becomes a PSA project, an ERP job and a staffing event, as a saga.

One run per opportunity (``engagement-provisioning:{crm}:{opportunity_id}``), started or signalled by
the gateway's webhooks, the polling schedule or the CLI. Each forward step registers its compensation
before it runs; if a later step fails for good the compensations run in reverse, shielded from
cancellation, and the run fails with a result that says what was done and what was undone.

A step fails for good on a non-retryable error (what ``activities/_errors.py`` says a person must fix)
or when the provisioning deadline passes. Transient faults — 429, 5xx, timeouts, a worker lost — are
retried without a count, with a capped backoff, until then: a system that is briefly down delays the
engagement, it never rolls it back.

A run that fails for good (compensated or not, or nobody answered its question) opens an exception of
its deal (kind ``engagement``, key ``{crm}:{opportunity_id}``); a deal a person abandoned, or a cancelled
run, opens none. The next run of the deal that provisions it resolves it, naming itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, RetryState, TimeoutType
from temporalio.exceptions import TimeoutError as ActivityTimeout

with workflow.unsafe.imports_passed_through():
    from activities._errors import NON_RETRYABLE_TYPES
    from activities.crm import CrmActivities
    from activities.erp import ErpActivities
    from activities.events import EventActivities
    from activities.exceptions import ExceptionOccurrence
    from activities.models import AnalyticsRows, CreateErpJob, CreatePsaProject, OpportunityRef, ProjectRef
    from activities.psa import PsaActivities
    from canonical import Address, Customer, Engagement, project_for
    from canonical.events import CloudEvent
    from workflows import _exceptions as exceptions
    from workflows import _metrics
    from workflows import search_attributes as sa
    from workflows._queues import domain_queue

DEADLINE_BREACH_PATCH = "provisioning-deadline-is-a-breach"
"""Runs from before it: a step that gave up at the deadline left the breach to the SLA timer."""
FEWER_ROUND_TRIPS_PATCH = "provisioning-fewer-round-trips"
"""Runs from before it: the client, the state, the PSA project id and the ERP job id each in its own
search-attribute upsert, and an SLA timer from the start. Runs since: the client with the state, the PSA
project id with the ERP job id (or with "compensating"), and no timer unless the run waits for a person or
compensates (issue 18, docs/BENCHMARKS.md)."""
EVENT_SOURCE = "psflow/engagement-provisioning"
NOT_PROVISIONED = "EngagementNotProvisioned"
ABANDONED = "Abandoned"

State = Literal["reading", "waiting_for_person", "provisioning", "provisioned", "compensating", "compensated"]
StepState = Literal["pending", "running", "done", "failed", "compensated"]


def workflow_id(crm: str, opportunity_id: str) -> str:
    """The one workflow id per opportunity that every trigger converges on."""
    return f"engagement-provisioning:{crm}:{opportunity_id}"


class ProvisionEngagementInput(BaseModel):
    """Which deal to provision, and the business limits of doing it."""

    crm: Literal["salesforce", "hubspot"]
    opportunity_id: str = Field(min_length=1)
    sla: timedelta = timedelta(hours=4)
    """The engagement must exist in PSA and ERP within this time, or the run is marked breached."""
    resolution_timeout: timedelta = timedelta(hours=24)
    """How long a question to a person may stay open before the run gives up (nothing written yet)."""
    retry_initial_interval: timedelta = timedelta(milliseconds=500)
    """Wait before an activity's second attempt after a transient fault; it doubles with each attempt."""
    retry_maximum_interval: timedelta = timedelta(seconds=30)
    """Longest wait between attempts: how soon after an outage ends the run goes on."""
    client_in_visibility: bool = False
    """Set the client's name as the ``PsflowClient`` search attribute, plain text on the server
    (``visibility_client_names``; off by default: visibility holds ids and states only)."""


class Trigger(BaseModel):
    """One arrival of the deal: webhook, polling or CLI. Several arrivals still make one run."""

    source: Literal["webhook", "poll", "cli"]
    event_id: str | None = None
    received_at: datetime | None = None


class Resolution(BaseModel):
    """A person's answer to the run's question: the billing data the ERP needs, or abandoning the deal."""

    resolved_by: str = Field(min_length=1)
    billing_address: Address | None = None
    payment_terms: str | None = None
    abandon: bool = False


class Step(BaseModel):
    """Progress of one saga step."""

    name: str
    state: StepState = "pending"
    system_id: str | None = None
    detail: str | None = None


class ProvisioningProgress(BaseModel):
    """What the ``progress`` query returns and ``psflow engagement status`` renders."""

    engagement_id: str
    state: State
    client: str | None = None
    question: str | None = None
    sla_breached: bool = False
    steps: list[Step]
    triggers: list[Trigger]


class ProvisionEngagementResult(BaseModel):
    """What was provisioned, or what was done and compensated."""

    engagement_id: str
    state: State
    client: str | None = None
    customer_erp_id: str | None = None
    psa_project_id: str | None = None
    erp_job_id: str | None = None
    done: list[str] = Field(default_factory=list)
    compensated: list[str] = Field(default_factory=list)
    error: str | None = None
    sla_breached: bool = False
    triggers: list[Trigger] = Field(default_factory=list)


STEP_TIMEOUT = timedelta(seconds=60)
"""Longest single attempt of an activity."""
LAST_CHANCE = timedelta(seconds=1)
"""What a step reached at or after the deadline gets. It is still scheduled rather than skipped, so the
commands a run issues never depend on timing (replay)."""

STEPS = ("read_deal", "erp_customer", "psa_project", "erp_job", "staffing_event", "analytics_event")


@workflow.defn(name="ProvisionEngagement")
class ProvisionEngagementWorkflow:
    """Provision one won deal in PSA, ERP and staffing; undo in reverse if a later step fails for good."""

    def __init__(self) -> None:
        self._state: State = "reading"
        self._steps = {name: Step(name=name) for name in STEPS}
        self._triggers: list[Trigger] = []
        self._question: str | None = None
        self._resolution: Resolution | None = None
        self._client: str | None = None
        self._sla_breached = False
        self._engagement_id = ""
        self._deadline = datetime.min.replace(tzinfo=UTC)
        self._compensations: list[tuple[str, Callable[[], Awaitable[Any]]]] = []
        self._result = ProvisionEngagementResult(engagement_id="", state="reading")
        self._lean = False
        self._sla_end = self._deadline
        self._sla_watch: asyncio.Task[None] | None = None
        self._unset: list[Any] = []
        """Search attribute values known but not yet upserted (lean runs set them with the next upsert)."""
        self._failed_step: str | None = None

    @workflow.run
    async def run(self, input: ProvisionEngagementInput) -> ProvisionEngagementResult:
        self._input = input
        self._engagement_id = f"{input.crm}:{input.opportunity_id}"
        self._deadline = workflow.now() + input.sla
        self._sla_end = self._deadline
        self._lean = workflow.patched(FEWER_ROUND_TRIPS_PATCH)
        # Signals sent with the start (signal-with-start) are handled before run() begins: keep them.
        self._result = ProvisionEngagementResult(
            engagement_id=self._engagement_id, state="reading", triggers=list(self._triggers)
        )
        if not self._lean:
            # Runs from before FEWER_ROUND_TRIPS_PATCH: a timer from the start, cancelled when ERP has the job.
            self._sla_watch = asyncio.create_task(self._watch_sla())
        try:
            await self._provision()
        except (ActivityError, ApplicationError, asyncio.CancelledError) as failure:
            self._result.error = _describe(failure)
            failed_at = self._failed_step or self._state
            # Compensation has no deadline: the SLA is watched while it runs (a no-op if it already is).
            self._start_sla_watch()
            # A step that gave up at the deadline is the SLA breached, even when the server ended
            # its retries a moment before the SLA timer fires and compensation would finish first.
            breach = (
                asyncio.create_task(self._breach())
                if _gave_up_at_deadline(failure) and workflow.patched(DEADLINE_BREACH_PATCH)
                else None
            )
            # Compensations must finish even if the run is being cancelled.
            await asyncio.shield(asyncio.ensure_future(self._compensate()))
            if breach is not None:
                await breach
            if self._lean and self._sla_breached and self._sla_watch is not None:
                await asyncio.shield(self._sla_watch)  # the breach it found: its alert must go out, not be cancelled
            self._result.state = self._state
            outcome = "canceled" if isinstance(failure, asyncio.CancelledError) else "failed"
            _metrics.provisioning_ended(self._input.crm, "abandoned" if _abandoned(failure) else outcome)
            if isinstance(failure, asyncio.CancelledError):
                raise
            if not _abandoned(failure) and exceptions.enabled():
                await exceptions.record(self._exception(failure, failed_at))
            raise ApplicationError(
                f"engagement {self._engagement_id} was not provisioned: {self._result.error}",
                self._result.model_dump(mode="json"),
                type=NOT_PROVISIONED,
                non_retryable=True,
            ) from failure
        finally:
            if self._sla_watch is not None:
                self._sla_watch.cancel()
        self._result.state = self._state
        self._result.sla_breached = self._sla_breached
        took = workflow.now() - workflow.info().workflow_start_time
        _metrics.provisioning_ended(self._input.crm, "provisioned", took)
        if exceptions.enabled():
            await exceptions.resolve(
                flow="provisioning",
                system=self._input.crm,
                kind="engagement",
                business_key=self._engagement_id,
                local=True,
            )
        return self._result

    def _exception(self, failure: BaseException, step: str) -> ExceptionOccurrence:
        """The run's failure as an exception of its deal: the failing step, what was created and undone."""
        created = {
            "customer_erp_id": self._result.customer_erp_id,
            "psa_project_id": self._result.psa_project_id,
            "erp_job_id": self._result.erp_job_id,
        }
        records = [{"system": self._input.crm, "type": "opportunity", "id": self._input.opportunity_id}]
        for system, kind, key in (("kantata", "project", "psa_project_id"), ("netsuite", "job", "erp_job_id")):
            if created[key] is not None:
                records.append({"system": system, "type": kind, "id": str(created[key])})
        return ExceptionOccurrence(
            flow="provisioning",
            system=self._input.crm,
            kind="engagement",
            business_key=self._engagement_id,
            reason=exceptions.reason(failure, deadline=_gave_up_at_deadline(failure)),
            message=f"engagement {self._engagement_id} was not provisioned: {self._result.error}"[:2000],
            values={
                "crm": self._input.crm,
                "opportunity_id": self._input.opportunity_id,
                "step": step,
                **{key: value for key, value in created.items() if value is not None},
                "compensated": list(self._result.compensated),
            },
            records=records,
        )

    async def _provision(self) -> None:
        engagement = await self._step(
            "read_deal",
            lambda: workflow.execute_activity_method(
                CrmActivities.read_engagement,
                OpportunityRef(crm=self._input.crm, opportunity_id=self._input.opportunity_id),
                **self._options("crm"),
            ),
        )
        assert isinstance(engagement, Engagement)
        self._client = engagement.customer.name
        self._result.client = self._client
        # Lean runs set the client with the next state, in one upsert, if the settings allow a name there.
        visible = self._lean and self._input.client_in_visibility
        with_state = [sa.CLIENT.value_set(self._client)] if visible else []
        if not self._lean:  # runs from before the patch, replayed as they ran
            workflow.upsert_search_attributes([sa.CLIENT.value_set(self._client)])

        customer = engagement.customer
        if not customer.billable:
            customer = await self._ask_person(customer, with_state)
            with_state = []
            # The person may answer after the SLA: the writes still get a full SLA to outlast outages.
            self._deadline = workflow.now() + self._input.sla
        engagement = engagement.model_copy(update={"customer": customer})
        self._set_state("provisioning", with_state)

        self._result.customer_erp_id = await self._step(
            "erp_customer",
            lambda: workflow.execute_activity_method(ErpActivities.upsert_customer, customer, **self._options("erp")),
        )
        project = project_for(engagement)
        project_ref = ProjectRef(project_id=project.id)

        self._register("psa_project", PsaActivities.close_project, project_ref, "psa")
        self._result.psa_project_id = await self._step(
            "psa_project",
            lambda: workflow.execute_activity_method(
                PsaActivities.create_project,
                CreatePsaProject(project=project, customer=customer),
                **self._options("psa"),
            ),
        )
        psa_id = sa.PSA_PROJECT_ID.value_set(self._result.psa_project_id or "")
        if self._lean:
            # Set with the ERP job's id (or with "compensating" if that step fails): one upsert fewer.
            self._unset = [psa_id]
        else:
            workflow.upsert_search_attributes([psa_id])

        self._register("erp_job", ErpActivities.inactivate_job, project_ref, "erp")
        self._result.erp_job_id = await self._step(
            "erp_job",
            lambda: workflow.execute_activity_method(
                ErpActivities.create_job,
                CreateErpJob(
                    engagement=engagement, project=project, customer_erp_id=self._result.customer_erp_id or ""
                ),
                **self._options("erp"),
            ),
        )
        workflow.upsert_search_attributes([*self._unset, sa.ERP_JOB_ID.value_set(self._result.erp_job_id or "")])
        self._unset = []
        if self._lean and workflow.now() > self._sla_end:
            # No timer watched the SLA: a step reached at the deadline gets LAST_CHANCE and may still succeed,
            # after it. The engagement is in both systems, but late.
            await self._breach()

        activated = self._event("project.activated", engagement, project.code)
        retracted = self._event("project.retracted", engagement)
        self._register("staffing_event", EventActivities.publish, retracted, "events")
        await self._step(
            "staffing_event",
            lambda: workflow.execute_activity_method(EventActivities.publish, activated, **self._options("events")),
        )
        row = {
            "engagement_id": engagement.id,
            "client": customer.name,
            "currency": engagement.currency,
            "budget": str(engagement.budget.amount),
            "psa_project_id": self._result.psa_project_id,
            "erp_job_id": self._result.erp_job_id,
            "provisioned_at": workflow.now().isoformat(),
            "minutes_to_provision": round((workflow.now() - workflow.info().start_time).total_seconds() / 60, 2),
        }
        await self._step(
            "analytics_event",
            lambda: workflow.execute_activity_method(
                EventActivities.push_rows, AnalyticsRows(table="engagements", rows=[row]), **self._options("events")
            ),
        )
        self._set_state("provisioned")

    async def _step(self, name: str, call: Callable[[], Awaitable[Any]]) -> Any:
        step = self._steps[name]
        step.state = "running"
        try:
            value = await call()
        except (ActivityError, ApplicationError) as failure:
            step.state, step.detail = "failed", _describe(failure)
            self._failed_step = name
            raise
        step.state = "done"
        if isinstance(value, str):
            step.system_id = value
        self._result.done.append(name)
        return value

    def _register(self, name: str, method: Callable[..., Awaitable[Any]], arg: Any, domain: str) -> None:
        """Record how to undo ``name`` before it runs: it may commit and still report failure."""

        async def undo() -> Any:
            # An undo must finish, however long the system is down: no attempt limit, no deadline.
            return await workflow.execute_activity_method(
                method,
                arg,
                task_queue=domain_queue(domain),
                start_to_close_timeout=STEP_TIMEOUT,
                heartbeat_timeout=timedelta(seconds=10),
                retry_policy=self._retry_policy(),
            )

        self._compensations.append((name, undo))

    async def _compensate(self) -> None:
        self._set_state("compensating", self._unset)
        self._unset = []
        for name, undo in reversed(self._compensations):
            await undo()
            self._steps[name].state = "compensated"
            self._result.compensated.append(name)
        self._set_state("compensated")

    async def _ask_person(self, customer: Customer, with_state: list[Any]) -> Customer:
        missing = [field for field in ("billing_address", "payment_terms") if getattr(customer, field) is None]
        self._question = (
            f"{customer.name} ({customer.id}) has no {' or '.join(missing)} for the ERP: "
            f"answer with `psflow engagement resolve {self._engagement_id} ...`"
        )
        self._set_state("waiting_for_person", with_state)
        self._start_sla_watch()
        try:
            await workflow.wait_condition(lambda: self._resolution is not None, timeout=self._input.resolution_timeout)
        except TimeoutError:
            raise ApplicationError(
                f"nobody answered within {self._input.resolution_timeout}: {self._question}",
                type="ResolutionTimedOut",
                non_retryable=True,
            ) from None
        resolution = self._resolution
        assert resolution is not None
        self._question = None
        if resolution.abandon:
            raise ApplicationError(f"abandoned by {resolution.resolved_by}", type=ABANDONED, non_retryable=True)
        changes = {key: getattr(resolution, key) for key in ("billing_address", "payment_terms")}
        return customer.model_copy(update={k: v for k, v in changes.items() if v is not None})

    @workflow.update
    async def resolve(self, resolution: Resolution) -> str:
        """Answer the run's open question (``psflow engagement resolve``)."""
        self._resolution = resolution
        return f"resolved by {resolution.resolved_by}"

    @resolve.validator
    def _validate_resolution(self, resolution: Resolution) -> None:
        if self._question is None:
            raise ValueError(f"engagement {self._engagement_id} is not waiting for a person (state {self._state})")
        if not resolution.abandon and resolution.billing_address is None and resolution.payment_terms is None:
            raise ValueError("give --billing-address and/or --payment-terms, or --abandon")

    @workflow.signal
    def triggered(self, trigger: Trigger) -> None:
        """Another arrival of the same deal; recorded, never provisioned twice."""
        if trigger.event_id is None or all(t.event_id != trigger.event_id for t in self._triggers):
            self._triggers.append(trigger)
            self._result.triggers = list(self._triggers)

    @workflow.query
    def progress(self) -> ProvisioningProgress:
        """Where the run stands."""
        return ProvisioningProgress(
            engagement_id=self._engagement_id,
            state=self._state,
            client=self._client,
            question=self._question,
            sla_breached=self._sla_breached,
            steps=list(self._steps.values()),
            triggers=list(self._triggers),
        )

    def _start_sla_watch(self) -> None:
        """Lean runs watch the SLA only while they wait for a person or compensate: every forward step's
        schedule-to-close timeout already ends at the deadline, and a step that gives up there is a breach.
        """
        if self._lean and self._sla_watch is None:
            self._sla_watch = asyncio.create_task(self._watch_sla())

    def _in_both(self) -> bool:
        return self._result.erp_job_id is not None or self._state == "compensated"

    async def _watch_sla(self) -> None:
        # Until the SLA's end as of the start, as runs from before the lean path had it.
        left = self._sla_end - workflow.now() if self._lean else self._input.sla
        if left <= timedelta(0):
            if not self._in_both():
                await self._breach()
            return
        try:
            await workflow.wait_condition(self._in_both, timeout=left)
        except TimeoutError:
            await self._breach()

    async def _breach(self) -> None:
        """Mark the SLA breached (search attribute, result) and raise the alert, once."""
        if self._sla_breached:
            return
        self._sla_breached = True
        self._result.sla_breached = True
        _metrics.sla_breached(self._input.crm)
        workflow.upsert_search_attributes([sa.SLA_BREACHED.value_set(True)])
        alert = CloudEvent(
            id=self._event_id("sla.breached"),
            source=EVENT_SOURCE,
            type="com.psflow.engagement.sla_breached",
            subject=self._engagement_id,
            time=workflow.now(),
            data={"engagement_id": self._engagement_id, "sla": str(self._input.sla), "state": self._state},
        )
        await workflow.execute_activity_method(
            EventActivities.publish,
            alert,
            task_queue=domain_queue("events"),
            start_to_close_timeout=STEP_TIMEOUT,
            heartbeat_timeout=timedelta(seconds=10),
            retry_policy=self._retry_policy(),
        )

    def _set_state(self, state: State, also: list[Any] | None = None) -> None:
        """The state in the Web UI, with any other search attributes that change now (one upsert)."""
        self._state = state
        workflow.upsert_search_attributes([sa.FLOW_STATE.value_set(state), *(also or [])])

    def _event_id(self, kind: str) -> str:
        """One id per run and kind: retries of a publish dedupe, a redo's events are new ones.

        A run triggered again after a compensation publishes ``project.activated`` once more; with the
        first run's id the receiver would drop it as a duplicate and staffing would keep the retraction.
        """
        return f"{self._engagement_id}:{kind}:{workflow.info().run_id}"

    def _event(self, kind: str, engagement: Engagement, code: str | None = None) -> CloudEvent:
        return CloudEvent(
            id=self._event_id(kind),
            source=EVENT_SOURCE,
            type=f"com.psflow.{kind}",
            subject=engagement.id,
            time=workflow.now(),
            data={
                "engagement_id": engagement.id,
                "project_code": code,
                "client": engagement.customer.name,
                "start_date": engagement.start_date.isoformat(),
                "end_date": engagement.end_date.isoformat(),
                "roles": sorted({item.role for item in engagement.line_items if item.role}),
            },
        )

    def _retry_policy(self) -> RetryPolicy:
        """Retry transient faults without a count; never what the error table calls non-retryable."""
        return RetryPolicy(
            initial_interval=self._input.retry_initial_interval,
            maximum_interval=self._input.retry_maximum_interval,
            maximum_attempts=0,
            non_retryable_error_types=NON_RETRYABLE_TYPES,
        )

    def _options(self, domain: str) -> dict[str, Any]:
        """A forward step's call: attempts until it succeeds, fails for good, or the deadline passes."""
        return {
            "task_queue": domain_queue(domain),
            "start_to_close_timeout": STEP_TIMEOUT,
            "schedule_to_close_timeout": max(self._deadline - workflow.now(), LAST_CHANCE),
            "heartbeat_timeout": timedelta(seconds=10),
            "retry_policy": self._retry_policy(),
        }


def _gave_up_at_deadline(failure: BaseException) -> bool:
    """True when an activity's retries ended because its schedule-to-close deadline came.

    The server ends them in one of two ways. When the next attempt would start past the deadline it
    returns the last failure with retry state TIMEOUT. When the deadline comes during an attempt (or
    its backoff) it times the activity out as SCHEDULE_TO_CLOSE, and then reports the retry state as
    NON_RETRYABLE_FAILURE (seen on server 1.29.1), so the timeout type is what says so.
    """
    if not isinstance(failure, ActivityError):
        return False
    timed_out = isinstance(failure.cause, ActivityTimeout) and failure.cause.type == TimeoutType.SCHEDULE_TO_CLOSE
    return failure.retry_state == RetryState.TIMEOUT or timed_out


def _abandoned(failure: BaseException) -> bool:
    """A person chose not to provision the deal (``--abandon``): a decision, not an exception to chase."""
    return isinstance(failure, ApplicationError) and failure.type == ABANDONED


def _describe(failure: BaseException) -> str:
    """The innermost message of an activity failure: what a person needs to read."""
    deadline = _gave_up_at_deadline(failure)
    cause: BaseException = failure
    while isinstance(cause, ActivityError) and cause.cause is not None:
        cause = cause.cause
    if isinstance(cause, ActivityTimeout) and cause.type == TimeoutType.SCHEDULE_TO_CLOSE:
        last = f"; last failure: {_describe(cause.cause)}" if cause.cause is not None else ""
        return f"the provisioning deadline passed while the step was still failing{last}"
    text = str(cause) or type(cause).__name__
    if deadline:
        return f"the provisioning deadline passed while the step was still failing; last failure: {text}"
    return text
