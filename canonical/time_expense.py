"""What consultants record: time entries, timesheets and expenses."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, ClassVar, Self

from pydantic import AwareDatetime, Field, field_validator, model_validator

from canonical._types import (
    CanonicalModel,
    EntityId,
    Money,
    SystemRef,
    bill_for_minutes,
    format_minutes,
    hours_of,
    require_positive,
)

MAX_MINUTES_PER_DAY = 24 * 60


class ApprovalState(StrEnum):
    """Where a time entry or expense stands in the approval process."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"


def _minutes_of_hours(hours: Any) -> Any:
    """Whole minutes of a version-1 ``hours`` value, rounded half-up as NetSuite's ``H:MM`` was written."""
    try:
        value = Decimal(str(hours))
    except InvalidOperation:
        return hours  # let the minutes validation name the bad value
    if not value.is_finite():
        return hours
    return int((value * 60).to_integral_value(rounding=ROUND_HALF_UP))


class TimeEntry(CanonicalModel):
    """Time one consultant worked on one project on one day, in whole minutes.

    Minutes are what the PSA records (Kantata's ``time_in_minutes``) and what the ERP keeps (NetSuite's
    ``H:MM``); decimal hours cannot hold 20 or 25 minutes exactly, so they are derived for display only.
    Version 1 payloads (already in workflow histories) carried ``hours``: they still validate, their
    hours converted to minutes the way they were written to the ERP.
    """

    SCHEMA_VERSION: ClassVar[int] = 2

    id: EntityId
    consultant_id: EntityId
    project_id: EntityId
    task_id: EntityId | None = None
    date_performed: date
    minutes: int = Field(description="Whole minutes worked, more than 0 and at most 24 hours (1440)")
    billable: bool = True
    role: str | None = None
    bill_rate: Money | None = None
    approval: ApprovalState = ApprovalState.SUBMITTED
    approved_at: AwareDatetime | None = None
    notes: str | None = None
    source: SystemRef | None = None

    @model_validator(mode="before")
    @classmethod
    def _version_1_hours(cls, data: Any) -> Any:
        if isinstance(data, dict) and "hours" in data and "minutes" not in data:
            data = {**data}
            data["minutes"] = _minutes_of_hours(data.pop("hours"))
        return data

    @field_validator("minutes")
    @classmethod
    def _minutes_in_a_day(cls, value: int) -> int:
        if not 0 < value <= MAX_MINUTES_PER_DAY:
            raise ValueError(
                f"must be more than 0:00 and at most 24:00 hours, got {format_minutes(value)} ({value} minutes)"
            )
        return value

    @field_validator("bill_rate")
    @classmethod
    def _rate_not_negative(cls, value: Money | None) -> Money | None:
        if value is not None and value.amount < 0:
            raise ValueError(f"must not be negative, got {value}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.approval is ApprovalState.APPROVED and self.approved_at is None:
            raise ValueError("approved_at is required when approval is 'approved'")
        return self

    @property
    def hours(self) -> Decimal:
        """The minutes as decimal hours, for display (exact when finite: 7:30 → 7.5; 7:20 → 7.333…)."""
        return hours_of(self.minutes)

    @property
    def amount(self) -> Money | None:
        """What the entry bills at its rate, rounded once (`bill_for_minutes`); None without a rate."""
        return None if self.bill_rate is None else bill_for_minutes(self.bill_rate, self.minutes)


class Timesheet(CanonicalModel):
    """One consultant's time entries for one week (Monday to Sunday)."""

    SCHEMA_VERSION: ClassVar[int] = 2

    consultant_id: EntityId
    week_start: date
    entries: tuple[TimeEntry, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.week_start.weekday() != 0:
            raise ValueError(f"week_start must be a Monday, got {self.week_start} ({self.week_start:%A})")
        week_end = self.week_start + timedelta(days=6)
        per_day: dict[date, int] = defaultdict(int)
        for entry in self.entries:
            if entry.consultant_id != self.consultant_id:
                raise ValueError(f"entry {entry.id!r} belongs to {entry.consultant_id!r}, not {self.consultant_id!r}")
            if not self.week_start <= entry.date_performed <= week_end:
                raise ValueError(
                    f"entry {entry.id!r} is dated {entry.date_performed}, outside {self.week_start}..{week_end}"
                )
            per_day[entry.date_performed] += entry.minutes
        for day, minutes in sorted(per_day.items()):
            if minutes > MAX_MINUTES_PER_DAY:
                raise ValueError(f"{format_minutes(minutes)} hours are booked on {day}; a day has at most 24:00")
        return self

    @property
    def total_minutes(self) -> int:
        """All minutes in the week."""
        return sum(entry.minutes for entry in self.entries)


class Expense(CanonicalModel):
    """A cost a consultant incurred on a project, possibly billable to the client."""

    id: EntityId
    consultant_id: EntityId
    project_id: EntityId
    date_incurred: date
    category: str = Field(min_length=1)
    amount: Money
    billable: bool = True
    approval: ApprovalState = ApprovalState.SUBMITTED
    approved_at: AwareDatetime | None = None
    description: str | None = None
    source: SystemRef | None = None

    @field_validator("amount")
    @classmethod
    def _positive(cls, value: Money) -> Money:
        require_positive(value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.approval is ApprovalState.APPROVED and self.approved_at is None:
            raise ValueError("approved_at is required when approval is 'approved'")
        return self
