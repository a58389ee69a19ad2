"""Contract amendments: one long-lived workflow per contract applies its amendments in version order.

``contract:{crm}:{contract_id}`` is started or joined by update-with-start (`stack.flows.submit_amendment`:
the CLI and the gateway) and takes deliveries from other workflows as the ``delivered`` signal (the
polling fallback and the intake workflow). Both go through one path: read the amendment from the CRM
when only its record is named, refuse what breaks the contract (in the update validator where the
content is known, so a refusal writes nothing), deduplicate by version and content, and record it.

Three targets apply versions on their own, each strictly in order: the PSA (Kantata), the ERP
(NetSuite) and events (``project.amended`` for staffing plus an analytics row). A version waits for
a missing earlier one, durably; past ``gap_wait`` an exception opens and it keeps waiting. A target
that fails for good on a version is ``failed (reason)`` there and holds back later versions in that
target only, until ``retry`` (``psflow amendment retry C --target T``); it opens an exception (kind
``amendment``, key ``{crm}:{contract_id}:v{version}:{target}``) that the retry resolves once it
applies. Transient faults are retried without a count until ``target_deadline``. History stays
bounded: the run continues as new with its state (every version's content hash and status, so
deduplication survives) when Temporal suggests it or after ``max_versions_per_run`` versions.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, FailureError, RetryState
from temporalio.exceptions import TimeoutError as ActivityTimeout

with workflow.unsafe.imports_passed_through():
    from activities._errors import NON_RETRYABLE_TYPES
    from activities.amendments import (
        AmendmentActivities,
        ApplyAmendment,
        ContractBaseline,
        ContractRef,
        TargetApplied,
        amendment_problems,
        rejected,
    )
    from activities.crm import CrmActivities
    from activities.events import EventActivities
    from activities.exceptions import ExceptionOccurrence
    from activities.models import AmendmentRef, AnalyticsRows, OpportunityRef
    from activities.posting import PostingActivities, RepriceRequest, RepriceResult
    from canonical import ContractAmendment
    from canonical.events import CloudEvent
    from workflows import _exceptions as exceptions
    from workflows import search_attributes as sa
    from workflows._contract_state import (
        TARGET_NAMES,
        TARGETS,
        AmendmentOutcome,
        AmendmentSubmission,
        ContractInput,
        ContractState,
        ContractStatus,
        RetryTarget,
        TargetStatus,
        VersionRecord,
        content_hash,
        contract_workflow_id,
        summary,
    )
    from workflows._queues import domain_queue

__all__ = [
    "TARGETS",
    "TARGET_NAMES",
    "AmendmentOutcome",
    "AmendmentSubmission",
    "ContractInput",
    "ContractState",
    "ContractStatus",
    "ContractWorkflow",
    "RetryTarget",
    "TargetStatus",
    "VersionRecord",
    "content_hash",
    "contract_workflow_id",
]
EVENT_SOURCE = "psflow/contract-amendments"
STEP_TIMEOUT = timedelta(seconds=60)
SYSTEMS = {"psa": "kantata", "erp": "netsuite", "events": "psflow"}
"""The system a target's amendment exception is about."""
REPRICE_PATCH = "contract-reprice-posted-time"
"""Runs from before it: a rate change reached the ERP job but posted time was not compared with it."""


@workflow.defn(name="Contract")
class ContractWorkflow:
    """Apply a contract's amendments in version order to PSA, ERP and events, each target on its own."""

    @workflow.init
    def __init__(self, input: ContractInput) -> None:
        self._input = input
        self._state = input.carried or ContractState()
        self._received_this_run = 0
        self._busy: set[str] = set()
        self._baseline_lock = asyncio.Lock()
        self._id = contract_workflow_id(input.crm, input.contract_id)

    @workflow.run
    async def run(self, input: ContractInput) -> None:
        workers = [asyncio.create_task(self._apply_in(target)) for target in TARGETS]
        try:
            while not self._should_continue_as_new():
                await self._watch_gap()
            # Let running applies and handlers finish, so nothing accepted is failed by the hand-over.
            await workflow.wait_condition(self._idle)
        finally:
            for task in workers:
                task.cancel()
        workflow.continue_as_new(self._input.model_copy(update={"carried": self._state}))

    def _idle(self) -> bool:
        return (
            not self._busy
            and all(self._state.next_in(target) is None for target in TARGETS)
            and workflow.all_handlers_finished()
        )

    def _should_continue_as_new(self) -> bool:
        return (
            workflow.info().is_continue_as_new_suggested()
            or self._received_this_run >= self._input.max_versions_per_run
        )

    # Receiving -----------------------------------------------------------------------------------

    @workflow.update
    async def submit(self, submission: AmendmentSubmission) -> AmendmentOutcome:
        """Receive one amendment (CLI, gateway); answer once it is applied, held back, or after ``reply_within``."""
        version = await self._receive(submission)
        contract = self._input.contract_id
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: self._state.outcome(contract, version).state != "pending", timeout=self._input.reply_within
            )
        return self._state.outcome(contract, version)

    @submit.validator
    def _validate_submission(self, submission: AmendmentSubmission) -> None:
        self._check_addressed(submission)
        if submission.amendment is not None:
            self._check_content(submission.amendment)

    @workflow.signal
    async def delivered(self, submission: AmendmentSubmission) -> None:
        """Receive one amendment from a workflow (polling, intake); a refusal is kept in ``status``."""
        try:
            self._check_addressed(submission)
            await self._receive(submission)
        except (ApplicationError, ActivityError, ValueError) as refusal:
            self._state.rejections = [
                *self._state.rejections[-19:],
                f"{workflow.now():%Y-%m-%d %H:%M} {_reason(refusal)}",
            ]
            workflow.logger.warning("amendment delivery refused: %s", _reason(refusal))

    async def _receive(self, submission: AmendmentSubmission) -> int:
        record_key = f"{submission.crm}:{submission.record_id}" if submission.record_id else None
        known = next((v for v in self._state.versions.values() if record_key and v.record_key == record_key), None)
        if known is not None:
            return known.version
        amendment = submission.amendment
        if amendment is None:
            amendment = await self._read_amendment(submission)
        if amendment.contract_id != self._input.contract_id:
            raise rejected(f"record {submission.record_id} amends contract {amendment.contract_id}, not {self._id}")
        if amendment.version in self._state.versions:
            self._check_content(amendment)
            return amendment.version
        async with self._baseline_lock:
            if self._state.baseline is None:
                self._state.baseline = await self._read_baseline(amendment)
        self._check_content(amendment)
        if amendment.version in self._state.versions:
            return amendment.version  # the same content arrived while the baseline was read
        self._state.versions[amendment.version] = VersionRecord(
            version=amendment.version,
            amendment_id=amendment.id,
            content_hash=content_hash(amendment),
            effective_date=amendment.effective_date,
            received_at=workflow.now(),
            source=submission.source,
            summary=summary(amendment),
            record_key=record_key,
            amendment=amendment,
        )
        self._state.exceptions.pop(amendment.version, None)
        self._received_this_run += 1
        workflow.upsert_search_attributes([sa.AMENDMENT_VERSION.value_set(max(self._state.versions))])
        self._set_state()
        return amendment.version

    async def _read_baseline(self, amendment: ContractAmendment) -> ContractBaseline:
        """The contract as provisioned: the PSA's project, with the roles the deal sold (the PSA may not name them)."""
        crm, _, opportunity = amendment.engagement_id.partition(":")
        deadline = self._input.target_deadline
        try:
            baseline: ContractBaseline = await workflow.execute_activity_method(
                AmendmentActivities.read_contract,
                ContractRef(contract_id=amendment.contract_id, engagement_id=amendment.engagement_id),
                **self._options("psa", deadline),
            )
            engagement = await workflow.execute_activity_method(
                CrmActivities.read_engagement,
                OpportunityRef(crm=crm, opportunity_id=opportunity),
                **self._options("crm", deadline),
            )
        except ActivityError as failure:
            raise _refusal(failure) from None
        sold = {item.role for item in engagement.line_items if item.role}
        workflow.upsert_search_attributes(
            [sa.CRM_OPPORTUNITY_ID.value_set(opportunity), sa.PSA_PROJECT_ID.value_set(baseline.psa_project_id)]
        )
        return baseline.model_copy(update={"roles": tuple(sorted({*baseline.roles, *sold}))})

    async def _read_amendment(self, submission: AmendmentSubmission) -> ContractAmendment:
        assert submission.record_id is not None
        ref = AmendmentRef(crm=submission.crm, contract_id=submission.contract_id, record_id=submission.record_id)
        try:
            amendment: ContractAmendment = await workflow.execute_activity_method(
                CrmActivities.read_amendment, ref, **self._options("crm", self._input.target_deadline)
            )
        except ActivityError as failure:
            raise _refusal(failure) from None
        return amendment

    def _check_addressed(self, submission: AmendmentSubmission) -> None:
        if (submission.crm, submission.contract_id) != (self._input.crm, self._input.contract_id):
            raise ValueError(f"submission for contract {submission.crm}:{submission.contract_id} reached {self._id}")

    def _check_content(self, amendment: ContractAmendment) -> None:
        """Refuse different content for a known version, and what breaks the contract as amended so far."""
        known = self._state.versions.get(amendment.version)
        if known is not None:
            if known.content_hash != content_hash(amendment):
                raise rejected(
                    f"v{amendment.version} of {self._id} was already received ({known.received_at:%Y-%m-%d %H:%M} "
                    f"UTC, {known.summary}) with different content: a received version never changes; "
                    f"submit the change as v{max(self._state.versions) + 1}"
                )
            return
        contract = self._state.contract_now()
        if contract is not None:
            problems = amendment_problems(amendment, contract)
            if problems:
                raise rejected(f"{self._id}: " + "; ".join(problems))

    # Applying ------------------------------------------------------------------------------------

    async def _apply_in(self, target: str) -> None:
        while True:
            await workflow.wait_condition(lambda: self._state.next_in(target) is not None)
            record = self._state.next_in(target)
            assert record is not None and record.amendment is not None
            status = record.targets[target]
            self._busy.add(target)
            status.attempts += 1
            # What the status shows changes only once the exception is recorded or resolved.
            try:
                detail = await self._apply(target, record.amendment)
            except ActivityError as failure:
                reason = _reason(failure)
                if exceptions.enabled():
                    await exceptions.record(self._exception(record, target, failure, reason))
                status.state, status.reason = "failed", reason
            else:
                # An earlier attempt failed for good (only ``retry`` makes another): its exception is resolved.
                if status.attempts > 1 and exceptions.enabled():
                    await exceptions.resolve(
                        flow="amendment",
                        system=SYSTEMS[target],
                        kind="amendment",
                        business_key=self._exception_key(record.version, target),
                        local=False,
                    )
                status.detail = detail
                status.state, status.reason = "applied", None
            finally:
                self._busy.discard(target)
            status.at = workflow.now()
            if all(t.state == "applied" for t in record.targets.values()):
                record.amendment = None  # applied everywhere: the hash and statuses are what remains
            self._set_state()

    def _exception_key(self, version: int, target: str) -> str:
        return f"{self._input.crm}:{self._input.contract_id}:v{version}:{target}"

    def _exception(
        self, record: VersionRecord, target: str, failure: ActivityError, reason: str
    ) -> ExceptionOccurrence:
        """A version a target failed to apply for good, as that target's exception: ids, never the terms."""
        return ExceptionOccurrence(
            flow="amendment",
            system=SYSTEMS[target],
            kind="amendment",
            business_key=self._exception_key(record.version, target),
            reason=exceptions.reason(failure, deadline=failure.retry_state == RetryState.TIMEOUT),
            message=f"v{record.version} of {self._id} was not applied in {TARGET_NAMES[target]}: {reason}"[:2000],
            values={
                "crm": self._input.crm,
                "contract_id": self._input.contract_id,
                "version": record.version,
                "target": target,
                "step": failure.activity_type,
                "attempts": record.targets[target].attempts,
            },
            records=[{"system": self._input.crm, "type": "amendment", "id": record.amendment_id}],
        )

    async def _apply(self, target: str, amendment: ContractAmendment) -> str:
        baseline = self._state.baseline
        assert baseline is not None
        request = ApplyAmendment(baseline=baseline, amendment=amendment)
        options = self._options(target, self._input.target_deadline)
        if target == "psa":
            applied: TargetApplied = await workflow.execute_activity_method(
                AmendmentActivities.apply_to_psa, request, **options
            )
            return applied.detail
        if target == "erp":
            applied = await workflow.execute_activity_method(AmendmentActivities.apply_to_erp, request, **options)
            if self._state.erp_job_id is None:
                self._state.erp_job_id = applied.system_id
                workflow.upsert_search_attributes([sa.ERP_JOB_ID.value_set(applied.system_id)])
            if (amendment.rate_changes or amendment.added_roles) and workflow.patched(REPRICE_PATCH):
                return f"{applied.detail}; {await self._reprice(amendment, options)}"
            return applied.detail
        await workflow.execute_activity_method(EventActivities.publish, self._event(amendment), **options)
        row = {
            "contract_id": self._id,
            "engagement_id": amendment.engagement_id,
            "version": amendment.version,
            "effective_date": amendment.effective_date.isoformat(),
            "budget": str(amendment.budget.amount) if amendment.budget else None,
            "currency": baseline.currency,
            "end_date": amendment.end_date.isoformat() if amendment.end_date else None,
            "rate_changes": len(amendment.rate_changes) + len(amendment.added_roles),
            "applied_at": workflow.now().isoformat(),
        }
        await workflow.execute_activity_method(
            EventActivities.push_rows, AnalyticsRows(table="amendments", rows=[row]), **options
        )
        return "project.amended published"

    async def _reprice(self, amendment: ContractAmendment, options: dict[str, Any]) -> str:
        """Time posted at the old rate since the effective date: adjusted or an exception per entry (a setting).

        Posting reads the rates from the PSA, so this waits until the PSA has this version's rates.
        """
        record = self._state.versions[amendment.version]
        record.targets["erp"].detail = f"waiting for {TARGET_NAMES['psa']}'s rates of v{amendment.version}"
        await workflow.wait_condition(lambda: record.targets["psa"].state == "applied")
        request = RepriceRequest(
            project_id=amendment.engagement_id, since=amendment.effective_date, amendment_id=amendment.id
        )
        result: RepriceResult = await workflow.execute_activity_method(
            PostingActivities.reprice_posted, request, **options
        )
        if result.mode == "exception":
            return f"{result.affected} posted entries re-rated: {result.exceptions} exceptions opened"
        total = f" ({result.difference} {result.currency})" if result.currency else ""
        return f"{result.affected} posted entries re-rated: {result.adjusted} adjusted{total}"

    def _event(self, amendment: ContractAmendment) -> CloudEvent:
        # One id per contract and version, whatever the run: a re-publish is a duplicate the sink drops.
        return CloudEvent(
            id=f"{self._id}:v{amendment.version}:project.amended",
            source=EVENT_SOURCE,
            type="com.psflow.project.amended",
            subject=amendment.engagement_id,
            time=workflow.now(),
            data={
                "contract_id": amendment.contract_id,
                "engagement_id": amendment.engagement_id,
                "version": amendment.version,
                "effective_date": amendment.effective_date.isoformat(),
                "budget": amendment.budget.model_dump(mode="json") if amendment.budget else None,
                "end_date": amendment.end_date.isoformat() if amendment.end_date else None,
                "rate_changes": [rate.model_dump(mode="json") for rate in amendment.rate_changes],
                "added_roles": [rate.model_dump(mode="json") for rate in amendment.added_roles],
            },
        )

    @workflow.update
    async def retry(self, request: RetryTarget) -> str:
        """Try a target's failed version again; later versions follow it there once it applies."""
        record = self._state.failed_in(request.target)
        assert record is not None
        record.targets[request.target] = TargetStatus(attempts=record.targets[request.target].attempts)
        self._set_state()
        return f"retrying v{record.version} in {TARGET_NAMES[request.target]}"

    @retry.validator
    def _validate_retry(self, request: RetryTarget) -> None:
        if self._state.failed_in(request.target) is None:
            raise ValueError(f"{TARGET_NAMES[request.target]} has no failed version in {self._id}: nothing to retry")

    # Waiting for a missing version ---------------------------------------------------------------

    async def _watch_gap(self) -> None:
        gap = self._state.gap()
        changed = lambda: self._state.gap() != gap or self._should_continue_as_new()  # noqa: E731
        if gap is None or gap[0] in self._state.exceptions:
            await workflow.wait_condition(changed)
            return
        missing, since = gap
        remaining = since + self._input.gap_wait - workflow.now()
        try:
            await workflow.wait_condition(changed, timeout=max(remaining, timedelta(seconds=1)))
        except TimeoutError:
            await self._open_gap_exception(missing, since)

    async def _open_gap_exception(self, missing: int, since: datetime) -> None:
        """The missing version did not come within ``gap_wait``: say so in the status and raise the alert."""
        text = (
            f"v{missing} has not arrived; later versions wait for it since {since:%Y-%m-%d %H:%M} UTC "
            f"(more than {self._input.gap_wait}): find v{missing} in the CRM and deliver it, or submit it by hand"
        )
        self._state.exceptions[missing] = text
        self._set_state()
        alert = CloudEvent(
            id=f"{self._id}:v{missing}:version.missing",
            source=EVENT_SOURCE,
            type="com.psflow.contract.version_missing",
            subject=self._id,
            time=workflow.now(),
            data={"contract_id": self._input.contract_id, "missing_version": missing, "detail": text},
        )
        await workflow.execute_activity_method(
            EventActivities.publish, alert, **self._options("events", self._input.target_deadline)
        )

    # What the query and the outcome show ---------------------------------------------------------

    @workflow.query
    def status(self) -> ContractStatus:
        """Every version and where it stands in each target."""
        gap = self._state.gap()
        baseline = self._state.baseline
        records = [self._state.versions[v] for v in sorted(self._state.versions)]
        return ContractStatus(
            workflow_id=self._id,
            crm=self._input.crm,
            contract_id=self._input.contract_id,
            engagement_id=baseline.engagement_id if baseline else None,
            versions=records,
            waiting=None if gap is None else f"waiting for v{gap[0]} since {gap[1]:%Y-%m-%d %H:%M} UTC",
            exceptions=list(self._state.exceptions.values()),
            rejections=list(self._state.rejections),
            lines=[self._state.line(record) for record in records],
        )

    def _set_state(self) -> None:
        workflow.upsert_search_attributes([sa.FLOW_STATE.value_set(self._state.flow_state())])

    def _options(self, domain: str, deadline: timedelta) -> dict[str, Any]:
        return {
            "task_queue": domain_queue(domain),
            "start_to_close_timeout": STEP_TIMEOUT,
            "schedule_to_close_timeout": deadline,
            "heartbeat_timeout": timedelta(seconds=10),
            "retry_policy": RetryPolicy(
                initial_interval=self._input.retry_initial_interval,
                maximum_interval=self._input.retry_maximum_interval,
                maximum_attempts=0,
                non_retryable_error_types=NON_RETRYABLE_TYPES,
            ),
        }


def _refusal(failure: ActivityError) -> ApplicationError:
    """A failed read as the update's own error: the reason alone, with its type, never retried."""
    cause = failure.cause
    kind = cause.type if isinstance(cause, ApplicationError) and cause.type else "AmendmentRejected"
    return ApplicationError(_reason(failure), type=kind, non_retryable=True)


def _reason(failure: BaseException) -> str:
    """The innermost message of a failure (what a person needs to read), saying when the deadline ended it."""
    deadline = isinstance(failure, ActivityError) and failure.retry_state == RetryState.TIMEOUT
    cause: BaseException = failure
    while isinstance(cause, ActivityError) and cause.cause is not None:
        cause = cause.cause
    if isinstance(cause, ActivityTimeout):
        deadline, cause = True, cause.cause or cause
    text = (cause.message if isinstance(cause, FailureError) else str(cause)) or type(cause).__name__
    return f"still failing when the target's deadline passed; last failure: {text}" if deadline else text
