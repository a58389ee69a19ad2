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
target only, until ``retry`` (``psflow amendment retry C --target T``). Transient faults are retried
without a count until ``target_deadline``. History stays bounded: the run continues as new with its
state (every version's content hash and status, so deduplication survives) when Temporal suggests it
or after ``max_versions_per_run`` versions.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator
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
    from activities.models import AmendmentRef, AnalyticsRows, OpportunityRef
    from activities.posting import PostingActivities, RepriceRequest, RepriceResult
    from canonical import ContractAmendment
    from canonical.events import CloudEvent
    from workflows import search_attributes as sa
    from workflows._queues import domain_queue

Crm = Literal["salesforce", "hubspot"]
Target = Literal["psa", "erp", "events"]
TARGETS: tuple[Target, ...] = ("psa", "erp", "events")
TARGET_NAMES: dict[str, str] = {"psa": "Kantata", "erp": "NetSuite", "events": "events"}
EVENT_SOURCE = "psflow/contract-amendments"
STEP_TIMEOUT = timedelta(seconds=60)
REPRICE_PATCH = "contract-reprice-posted-time"
"""Runs from before it: a rate change reached the ERP job but posted time was not compared with it."""


def contract_workflow_id(crm: str, contract_id: str) -> str:
    """The one workflow id per contract that every delivery converges on."""
    return f"contract:{crm}:{contract_id}"


def content_hash(amendment: ContractAmendment) -> str:
    """What makes two deliveries of a version the same amendment: the contract's terms, not who sent them."""
    terms = amendment.model_dump(
        mode="json", include={"contract_id", "version", "effective_date", "budget", "end_date", "rate_changes",
                              "added_roles"},
    )  # fmt: skip
    return hashlib.sha256(json.dumps(terms, sort_keys=True).encode()).hexdigest()[:16]


class AmendmentSubmission(BaseModel):
    """One delivery of an amendment: the CRM record to read it from, or the amendment itself (CLI)."""

    crm: Crm
    contract_id: str = Field(min_length=1)
    record_id: str | None = None
    amendment: ContractAmendment | None = None
    source: Literal["webhook", "poll", "cli"]
    event_id: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> AmendmentSubmission:
        if (self.record_id is None) == (self.amendment is None):
            raise ValueError("give exactly one of record_id (read it from the CRM) or amendment")
        if self.amendment is not None and self.amendment.contract_id != self.contract_id:
            raise ValueError(f"the amendment is for contract {self.amendment.contract_id}, not {self.contract_id}")
        return self


class TargetStatus(BaseModel):
    """One version in one target: ``applied``, ``pending`` or ``failed`` (with the reason)."""

    state: Literal["pending", "applied", "failed"] = "pending"
    reason: str | None = None
    detail: str | None = None
    at: datetime | None = None
    attempts: int = 0


class VersionRecord(BaseModel):
    """A received version: its content hash (for deduplication) and where it stands in each target."""

    version: int
    amendment_id: str
    content_hash: str
    effective_date: date
    received_at: datetime
    source: str
    summary: str
    record_key: str | None = None
    targets: dict[str, TargetStatus] = Field(default_factory=lambda: {str(t): TargetStatus() for t in TARGETS})
    amendment: ContractAmendment | None = None
    """Kept until every target applied it, so a target that is retried later still has the content."""


class ContractState(BaseModel):
    """What continues into the next run (continue-as-new)."""

    baseline: ContractBaseline | None = None
    erp_job_id: str | None = None
    versions: dict[int, VersionRecord] = Field(default_factory=dict)
    exceptions: dict[int, str] = Field(default_factory=dict)
    rejections: list[str] = Field(default_factory=list)


class ContractInput(BaseModel):
    """Which contract, and the limits its amendments are applied under."""

    crm: Crm
    contract_id: str = Field(min_length=1)
    gap_wait: timedelta = timedelta(days=3)
    """How long a version may wait for a missing earlier one before an exception opens (it keeps waiting)."""
    target_deadline: timedelta = timedelta(hours=4)
    """How long one target keeps retrying transient faults on a version before it is failed there."""
    reply_within: timedelta = timedelta(seconds=60)
    """Longest an update waits for its version before answering with where it stands (bounds updates in flight)."""
    max_versions_per_run: int = 100
    """Continue as new after this many versions received in one run (Temporal may suggest it sooner)."""
    retry_initial_interval: timedelta = timedelta(milliseconds=500)
    retry_maximum_interval: timedelta = timedelta(seconds=30)
    carried: ContractState | None = None


class AmendmentOutcome(BaseModel):
    """What ``submit`` answers: the version's state and its status in each target."""

    contract_id: str
    version: int
    state: Literal["applied", "pending", "waiting", "blocked", "failed"]
    targets: dict[str, TargetStatus]
    message: str


class RetryTarget(BaseModel):
    """Try a target's failed version again (``psflow amendment retry``)."""

    target: Target


class ContractStatus(BaseModel):
    """What the ``status`` query returns and ``psflow amendment status`` renders."""

    workflow_id: str
    crm: str
    contract_id: str
    engagement_id: str | None
    versions: list[VersionRecord]
    waiting: str | None
    exceptions: list[str]
    rejections: list[str]
    lines: list[str]


@workflow.defn(name="Contract")
class ContractWorkflow:
    """Apply a contract's amendments in version order to PSA, ERP and events, each target on its own."""

    @workflow.init
    def __init__(self, input: ContractInput) -> None:
        self._input = input
        carried = input.carried or ContractState()
        self._state = carried
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
            and all(self._next_in(target) is None for target in TARGETS)
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
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(lambda: self._outcome(version).state != "pending",
                                          timeout=self._input.reply_within)  # fmt: skip
        return self._outcome(version)

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
            summary=_summary(amendment),
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
        contract = self._contract_now()
        if contract is not None:
            problems = amendment_problems(amendment, contract)
            if problems:
                raise rejected(f"{self._id}: " + "; ".join(problems))

    def _contract_now(self) -> ContractBaseline | None:
        """The baseline amended by every received version, in version order."""
        contract = self._state.baseline
        if contract is None:
            return None
        for version in sorted(self._state.versions):
            amendment = self._state.versions[version].amendment
            if amendment is not None:
                contract = contract.amended(amendment)
        return contract

    # Applying ------------------------------------------------------------------------------------

    def _next_in(self, target: str) -> VersionRecord | None:
        """The lowest version ``target`` has not applied, if it is received and not failed there."""
        version = 1 + max((v for v, r in self._state.versions.items() if r.targets[target].state == "applied"),
                          default=0)  # fmt: skip
        record = self._state.versions.get(version)
        if record is None or record.targets[target].state != "pending" or record.amendment is None:
            return None
        return record

    async def _apply_in(self, target: str) -> None:
        while True:
            await workflow.wait_condition(lambda: self._next_in(target) is not None)
            record = self._next_in(target)
            assert record is not None and record.amendment is not None
            status = record.targets[target]
            self._busy.add(target)
            status.attempts += 1
            try:
                status.detail = await self._apply(target, record.amendment)
                status.state, status.reason = "applied", None
            except ActivityError as failure:
                status.state, status.reason = "failed", _reason(failure)
            finally:
                self._busy.discard(target)
            status.at = workflow.now()
            if all(t.state == "applied" for t in record.targets.values()):
                record.amendment = None  # applied everywhere: the hash and statuses are what remains
            self._set_state()

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
        record = self._failed_in(request.target)
        assert record is not None
        record.targets[request.target] = TargetStatus(attempts=record.targets[request.target].attempts)
        self._set_state()
        return f"retrying v{record.version} in {TARGET_NAMES[request.target]}"

    @retry.validator
    def _validate_retry(self, request: RetryTarget) -> None:
        if self._failed_in(request.target) is None:
            raise ValueError(f"{TARGET_NAMES[request.target]} has no failed version in {self._id}: nothing to retry")

    def _failed_in(self, target: str) -> VersionRecord | None:
        return next((r for _, r in sorted(self._state.versions.items()) if r.targets[target].state == "failed"), None)

    # Waiting for a missing version ---------------------------------------------------------------

    def _gap(self) -> tuple[int, datetime] | None:
        """The lowest missing version below a received one, and since when a later one waits for it."""
        versions = self._state.versions
        if not versions:
            return None
        missing = [v for v in range(1, max(versions)) if v not in versions]
        if not missing:
            return None
        since = min(r.received_at for v, r in versions.items() if v > missing[0])
        return missing[0], since

    async def _watch_gap(self) -> None:
        gap = self._gap()
        changed = lambda: self._gap() != gap or self._should_continue_as_new()  # noqa: E731
        if gap is None or gap[0] in self._state.exceptions:
            await workflow.wait_condition(changed)
            return
        missing, since = gap
        remaining = since + self._input.gap_wait - workflow.now()
        try:
            await workflow.wait_condition(changed, timeout=max(remaining, timedelta(seconds=1)))
            return
        except TimeoutError:
            pass
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

    def _outcome(self, version: int) -> AmendmentOutcome:
        record = self._state.versions[version]
        gap = self._gap()
        waiting = gap is not None and gap[0] < version
        held = {t for t in TARGETS if self._blocked(t, version)}
        states = {status.state for status in record.targets.values()}
        moving = [t for t, status in record.targets.items() if status.state == "pending" and t not in held]
        state: Literal["applied", "pending", "waiting", "blocked", "failed"]
        if states == {"applied"}:
            state = "applied"
        elif waiting:
            state = "waiting"
        elif moving:
            state = "pending"
        elif "failed" in states:
            state = "failed"
        else:
            state = "blocked"
        return AmendmentOutcome(
            contract_id=self._input.contract_id,
            version=version,
            state=state,
            targets={t: s.model_copy() for t, s in record.targets.items()},
            message=self._line(record),
        )

    def _blocked(self, target: str, version: int) -> bool:
        failed = self._failed_in(target)
        return failed is not None and failed.version < version

    def _line(self, record: VersionRecord) -> str:
        """``v3 applied in Kantata, pending in NetSuite (blocked by v2), applied in events``."""
        gap = self._gap()
        parts = []
        for target, status in record.targets.items():
            text = f"{status.state} in {TARGET_NAMES[target]}"
            if status.state == "failed":
                text = f"failed in {TARGET_NAMES[target]} ({status.reason})"
            elif status.state == "pending":
                failed = self._failed_in(target)
                if gap is not None and gap[0] < record.version:
                    text += f" (waiting for v{gap[0]} since {gap[1]:%Y-%m-%d %H:%M} UTC)"
                elif failed is not None and failed.version < record.version:
                    text += f" (blocked by v{failed.version}, failed there)"
            parts.append(text)
        return f"v{record.version} " + ", ".join(parts)

    @workflow.query
    def status(self) -> ContractStatus:
        """Every version and where it stands in each target."""
        gap = self._gap()
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
            lines=[self._line(record) for record in records],
        )

    def _set_state(self) -> None:
        records = self._state.versions.values()
        if self._state.exceptions:
            state = "exception"
        elif any(t.state == "failed" for r in records for t in r.targets.values()):
            state = "failed"
        elif self._gap() is not None:
            state = "waiting"
        elif any(t.state == "pending" for r in records for t in r.targets.values()):
            state = "applying"
        else:
            state = "up_to_date"
        workflow.upsert_search_attributes([sa.FLOW_STATE.value_set(state)])

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


def _summary(amendment: ContractAmendment) -> str:
    parts = []
    if amendment.budget is not None:
        parts.append(f"budget {amendment.budget}")
    if amendment.end_date is not None:
        parts.append(f"end {amendment.end_date}")
    for rate in amendment.rate_changes:
        parts.append(f"{rate.role} {rate.hourly_rate}/h")
    for rate in amendment.added_roles:
        parts.append(f"new role {rate.role} {rate.hourly_rate}/h")
    return f"{', '.join(parts)} from {amendment.effective_date}"


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
