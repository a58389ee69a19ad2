"""What consultants record: time entries, timesheets and expenses."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Self

from pydantic import AwareDatetime, Field, field_validator, model_validator

from canonical._types import CanonicalModel, EntityId, Money, SystemRef, require_positive

MAX_HOURS_PER_DAY = Decimal(24)


class ApprovalState(StrEnum):
    """Where a time entry or expense stands in the approval process."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"


class TimeEntry(CanonicalModel):
    """Hours one consultant worked on one project on one day."""

    id: EntityId
    consultant_id: EntityId
    project_id: EntityId
    task_id: EntityId | None = None
    date_performed: date
    hours: Decimal
    billable: bool = True
    role: str | None = None
    bill_rate: Money | None = None
    approval: ApprovalState = ApprovalState.SUBMITTED
    approved_at: AwareDatetime | None = None
    notes: str | None = None
    source: SystemRef | None = None

    @field_validator("hours")
    @classmethod
    def _hours_in_a_day(cls, value: Decimal) -> Decimal:
        if not value.is_finite() or value <= 0 or value > MAX_HOURS_PER_DAY:
            raise ValueError(f"must be more than 0 and at most 24, got {value}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.bill_rate is not None and self.bill_rate.amount < 0:
            raise ValueError(f"bill_rate must not be negative, got {self.bill_rate}")
        if self.approval is ApprovalState.APPROVED and self.approved_at is None:
            raise ValueError("approved_at is required when approval is 'approved'")
        return self

    @property
    def amount(self) -> Money | None:
        """Hours times bill rate, unrounded; None when no rate is known yet."""
        return None if self.bill_rate is None else self.bill_rate.times(self.hours)


class Timesheet(CanonicalModel):
    """One consultant's time entries for one week (Monday to Sunday)."""

    consultant_id: EntityId
    week_start: date
    entries: tuple[TimeEntry, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.week_start.weekday() != 0:
            raise ValueError(f"week_start must be a Monday, got {self.week_start} ({self.week_start:%A})")
        week_end = self.week_start + timedelta(days=6)
        per_day: dict[date, Decimal] = defaultdict(Decimal)
        for entry in self.entries:
            if entry.consultant_id != self.consultant_id:
                raise ValueError(f"entry {entry.id!r} belongs to {entry.consultant_id!r}, not {self.consultant_id!r}")
            if not self.week_start <= entry.date_performed <= week_end:
                raise ValueError(
                    f"entry {entry.id!r} is dated {entry.date_performed}, outside {self.week_start}..{week_end}"
                )
            per_day[entry.date_performed] += entry.hours
        for day, hours in sorted(per_day.items()):
            if hours > MAX_HOURS_PER_DAY:
                raise ValueError(f"{hours} hours are booked on {day}; a day has at most 24")
        return self

    @property
    def total_hours(self) -> Decimal:
        """All hours in the week."""
        return sum((entry.hours for entry in self.entries), Decimal(0))


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

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        require_positive(self.amount, "amount")
        if self.approval is ApprovalState.APPROVED and self.approved_at is None:
            raise ValueError("approved_at is required when approval is 'approved'")
        return self
