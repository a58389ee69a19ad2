"""The contract workflow's state and its pure rules: which version each target applies next, what waits, what shows.

`ContractState` is what a run holds and what continues into the next run; its methods decide from it
alone (no clock, no I/O), so the workflow (`workflows.amend_contract`) only schedules and records.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from activities.amendments import ContractBaseline
from canonical import ContractAmendment, Money, RoleRate

Crm = Literal["salesforce", "hubspot"]
Target = Literal["psa", "erp", "events"]
TARGETS: tuple[Target, ...] = ("psa", "erp", "events")
TARGET_NAMES: dict[str, str] = {"psa": "Kantata", "erp": "NetSuite", "events": "events"}
OutcomeState = Literal["applied", "pending", "waiting", "blocked", "failed"]


def contract_workflow_id(crm: str, contract_id: str) -> str:
    """The one workflow id per contract that every delivery converges on."""
    return f"contract:{crm}:{contract_id}"


def content_hash(amendment: ContractAmendment) -> str:
    """What makes two deliveries of a version the same amendment: the contract's terms, not who sent them.

    Amounts count by value (``180000`` and ``180000.00`` are the same budget) and rates by role, in any order.
    """

    def money(value: Money | None) -> list[str] | None:
        return None if value is None else [format(value.amount.normalize(), "f"), value.currency]

    def rates(values: tuple[RoleRate, ...]) -> list[list[str]]:
        return sorted([rate.role, *(money(rate.hourly_rate) or [])] for rate in values)

    terms = {
        "contract_id": amendment.contract_id,
        "version": amendment.version,
        "effective_date": amendment.effective_date.isoformat(),
        "budget": money(amendment.budget),
        "end_date": amendment.end_date.isoformat() if amendment.end_date else None,
        "rate_changes": rates(amendment.rate_changes),
        "added_roles": rates(amendment.added_roles),
    }
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

    def gap(self) -> tuple[int, datetime] | None:
        """The lowest missing version below a received one, and since when a later one waits for it."""
        if not self.versions:
            return None
        missing = [v for v in range(1, max(self.versions)) if v not in self.versions]
        if not missing:
            return None
        since = min(r.received_at for v, r in self.versions.items() if v > missing[0])
        return missing[0], since

    def next_in(self, target: str) -> VersionRecord | None:
        """The lowest version ``target`` has not applied, if it is received and not failed there."""
        applied = (v for v, r in self.versions.items() if r.targets[target].state == "applied")
        record = self.versions.get(1 + max(applied, default=0))
        if record is None or record.targets[target].state != "pending" or record.amendment is None:
            return None
        return record

    def failed_in(self, target: str) -> VersionRecord | None:
        """The version ``target`` failed on (it holds back the later ones there), if any."""
        return next((r for _, r in sorted(self.versions.items()) if r.targets[target].state == "failed"), None)

    def blocked(self, target: str, version: int) -> bool:
        """Whether an earlier version failed in ``target``, holding ``version`` back there."""
        failed = self.failed_in(target)
        return failed is not None and failed.version < version

    def contract_now(self) -> ContractBaseline | None:
        """The baseline amended by every received version, in version order."""
        contract = self.baseline
        if contract is None:
            return None
        for version in sorted(self.versions):
            amendment = self.versions[version].amendment
            if amendment is not None:
                contract = contract.amended(amendment)
        return contract

    def outcome(self, contract_id: str, version: int) -> AmendmentOutcome:
        """Where ``version`` stands: applied everywhere, still moving, or held (waiting, blocked, failed)."""
        record = self.versions[version]
        gap = self.gap()
        held = {t for t in TARGETS if self.blocked(t, version)}
        states = {status.state for status in record.targets.values()}
        moving = [t for t, status in record.targets.items() if status.state == "pending" and t not in held]
        state: OutcomeState
        if states == {"applied"}:
            state = "applied"
        elif gap is not None and gap[0] < version:
            state = "waiting"
        elif moving:
            state = "pending"
        elif "failed" in states:
            state = "failed"
        else:
            state = "blocked"
        return AmendmentOutcome(
            contract_id=contract_id,
            version=version,
            state=state,
            targets={t: s.model_copy() for t, s in record.targets.items()},
            message=self.line(record),
        )

    def line(self, record: VersionRecord) -> str:
        """``v3 applied in Kantata, pending in NetSuite (blocked by v2, failed there), applied in events``."""
        gap = self.gap()
        parts = []
        for target, status in record.targets.items():
            text = f"{status.state} in {TARGET_NAMES[target]}"
            if status.state == "failed":
                text = f"failed in {TARGET_NAMES[target]} ({status.reason})"
            elif status.state == "pending":
                failed = self.failed_in(target)
                if gap is not None and gap[0] < record.version:
                    text += f" (waiting for v{gap[0]} since {gap[1]:%Y-%m-%d %H:%M} UTC)"
                elif failed is not None and failed.version < record.version:
                    text += f" (blocked by v{failed.version}, failed there)"
            parts.append(text)
        return f"v{record.version} " + ", ".join(parts)

    def flow_state(self) -> str:
        """The run's ``PsflowState``: exception, failed, waiting, applying or up_to_date."""
        records = self.versions.values()
        if self.exceptions:
            return "exception"
        if any(t.state == "failed" for r in records for t in r.targets.values()):
            return "failed"
        if self.gap() is not None:
            return "waiting"
        if any(t.state == "pending" for r in records for t in r.targets.values()):
            return "applying"
        return "up_to_date"


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
    state: OutcomeState
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


def summary(amendment: ContractAmendment) -> str:
    """``budget 120000.00 USD, end 2027-03-31 from 2026-12-01``: what a version changes, on one line."""
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
