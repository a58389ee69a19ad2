"""What the resource sync's workflow and activities pass each other: sources, pages of workers, counts.

`workflows.sync_resources.ResourceSyncWorkflow` reads the HR system of each legal entity (``hr``
queue), applies what it read to the PSA (``psa`` queue) and keeps its marks and the time off it
applied in the store. Payloads stay small: pages of at most a few hundred workers, time off goes
through the store's staging table, never through the history.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import Field

from canonical import CanonicalModel, Consultant, DateRange

HRSystemName = Literal["workday", "bamboohr"]
AvailabilityReason = Literal["hired", "left", "time_off", "hours"]
UnknownSkills = Literal["create", "exception"]

FLOW = "resources"
"""The exceptions' flow name (``psflow exceptions list --flow resources``)."""


class HRSource(CanonicalModel):
    """One legal entity and the HR system of record its people live in."""

    legal_entity: str = Field(min_length=1)
    hr_system: HRSystemName


class ResourcePolicy(CanonicalModel):
    """What the firm accepts from HR (from settings): known cost centres, unknown skills, skill names.

    Attributes:
        cost_centres: The cost centres the PSA knows; None accepts any. Another one is an exception.
        unknown_skills: A skill the PSA lacks is created (``create``) or is an exception (``exception``).
        skill_map: HR skill name → PSA skill name, applied before the check.
    """

    cost_centres: tuple[str, ...] | None = None
    unknown_skills: UnknownSkills = "create"
    skill_map: dict[str, str] = Field(default_factory=dict)


class BadWorker(CanonicalModel):
    """A worker HR returned that cannot be used (no email, no employee id, dates out of order ...)."""

    worker_id: str = Field(min_length=1)
    problem: str = Field(min_length=1, description="One line: what is wrong")
    values: dict[str, str | None] = Field(default_factory=dict, description="The offending values as HR gave them")


class SyncState(CanonicalModel):
    """Where a source's sync stands: the HR high-water mark and when the last full sweep finished."""

    high_water_mark: datetime | None = None
    last_full_sweep_at: datetime | None = None


class ChangesRequest(CanonicalModel):
    """One page of HR's change feed from ``since`` (inclusive), at ``cursor``."""

    source: HRSource
    since: datetime | None = None
    cursor: str | None = None
    ids: bool = True
    """False: page only for the mark (a run that sweeps every worker anyway), so no ids cross the history."""


class ChangesPage(CanonicalModel):
    """The changed workers' ids (deduplicated, in HR's order), unreadable entries, and the mark so far."""

    worker_ids: list[str] = Field(default_factory=list)
    bad: list[BadWorker] = Field(default_factory=list)
    next_cursor: str | None = None
    high_water_mark: datetime | None = None


class WorkersRequest(CanonicalModel):
    """Read these workers from HR (at most 200)."""

    source: HRSource
    worker_ids: list[str] = Field(max_length=200)


class SweepRequest(CanonicalModel):
    """One page of the full sweep: every worker, terminated ones included."""

    source: HRSource
    cursor: str | None = None


class WorkersPage(CanonicalModel):
    """Workers read from HR, the ones that could not be mapped, and (for a sweep) the next cursor."""

    workers: list[Consultant] = Field(default_factory=list)
    bad: list[BadWorker] = Field(default_factory=list)
    next_cursor: str | None = None


class ApplyRequest(CanonicalModel):
    """Apply a page of HR workers to the PSA, as of the firm's ``today``."""

    source: HRSource
    run_id: str = Field(min_length=1, description="The sync's workflow id / run id: exceptions name it")
    today: date
    workers: list[Consultant] = Field(default_factory=list)
    bad: list[BadWorker] = Field(default_factory=list)
    policy: ResourcePolicy = Field(default_factory=ResourcePolicy)


class AvailabilityChange(CanonicalModel):
    """A consultant's capacity changed from ``start`` (to ``end``, open when None), and why."""

    worker_id: str
    psa_user_id: str | None = None
    email: str | None = None
    start: date
    end: date | None = None
    reason: AvailabilityReason
    hours: str | None = Field(default=None, description="Hours off (time_off) or a week (hours), as a decimal string")


class ApplyResult(CanonicalModel):
    """What a page did, by outcome, and the capacity changes to announce.

    ``counts`` keys: invited, linked, updated, unchanged, disabled, allocations_removed, conflicts, invalid.
    """

    counts: dict[str, int] = Field(default_factory=dict)
    availability: list[AvailabilityChange] = Field(default_factory=list)


class DueRequest(CanonicalModel):
    """Disable the users whose last day is before ``today`` and are still enabled."""

    source: HRSource
    run_id: str = Field(min_length=1)
    today: date


class StageTimeOffRequest(CanonicalModel):
    """Copy HR's approved time off in ``window`` into the store's staging for ``run_id``."""

    source: HRSource
    run_id: str = Field(min_length=1)
    window: DateRange


class StageTimeOffResult(CanonicalModel):
    """Worker-days staged, workers with time off, requests skipped (not approved / unknown worker), overlaps."""

    days: int = 0
    workers: int = 0
    skipped: int = 0
    overlaps: int = 0


class ApplyTimeOffRequest(CanonicalModel):
    """Make the PSA's time off in ``window`` match the staged run, for workers after ``after`` (by id)."""

    source: HRSource
    run_id: str = Field(min_length=1)
    window: DateRange
    after: str | None = None
    limit: int = Field(default=200, ge=1, le=1000)


class ApplyTimeOffResult(CanonicalModel):
    """Days set and cleared in the PSA, the next worker id to continue after, and capacity changes."""

    set: int = 0
    cleared: int = 0
    next_after: str | None = None
    availability: list[AvailabilityChange] = Field(default_factory=list)


class PublishAvailability(CanonicalModel):
    """Announce capacity changes as ``com.psflow.consultant.availability_changed`` CloudEvents."""

    run_id: str = Field(min_length=1)
    changes: list[AvailabilityChange] = Field(default_factory=list, max_length=1000)


class SaveMark(CanonicalModel):
    """Store a source's new mark once every page up to it was applied (never moves it back)."""

    source: HRSource
    high_water_mark: datetime | None = None
    full_sweep_at: datetime | None = None
    """Set when this run was a full sweep: when it started."""
