"""Who the firm works for and who does the work: customers and consultants."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator, model_validator

from canonical._types import CanonicalModel, CurrencyCode, DateRange, EntityId, Money, SystemRef

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError(f"{value!r} is not an email address")
    return value.lower()


def _country(value: str) -> str:
    if len(value) != 2 or not value.isalpha():
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code (e.g. US, GB, DE)")
    return value.upper()


Email = Annotated[str, AfterValidator(_email)]
CountryCode = Annotated[str, AfterValidator(_country)]


class Address(CanonicalModel):
    """A postal address, used for billing."""

    line1: str = Field(min_length=1)
    line2: str | None = None
    city: str = Field(min_length=1)
    region: str | None = None
    postal_code: str | None = None
    country: CountryCode


class Customer(CanonicalModel):
    """A client of the firm: the account in CRM, the customer in the ERP."""

    id: EntityId
    name: str = Field(min_length=1, max_length=255)
    currency: CurrencyCode
    billing_address: Address | None = None
    payment_terms: str | None = Field(default=None, description="e.g. 'Net 30'")
    industry: str | None = None
    source: SystemRef | None = None

    @property
    def billable(self) -> bool:
        """Whether the ERP has what it needs to invoice this customer."""
        return self.billing_address is not None and self.payment_terms is not None


class Consultant(CanonicalModel):
    """A person who delivers work: a worker in HR, a user in the PSA."""

    id: EntityId
    employee_id: EntityId
    name: str = Field(min_length=1)
    email: Email
    title: str | None = None
    role: str | None = Field(default=None, description="Rate-card role, e.g. 'Senior Consultant'")
    cost_centre: str | None = None
    supervisory_org: str | None = None
    location: str | None = None
    skills: tuple[str, ...] = ()
    cost_rate: Money | None = None
    active: bool = True
    time_off: tuple[DateRange, ...] = ()
    source: SystemRef | None = None
    manager_id: EntityId | None = Field(default=None, description="The manager's HR worker id")
    standard_hours_per_week: Decimal | None = Field(default=None, gt=0, le=168, description="Contracted hours a week")
    hire_date: date | None = None
    termination_date: date | None = Field(default=None, description="The last day worked; None while employed")

    @model_validator(mode="after")
    def _left_after_joining(self) -> Consultant:
        if self.hire_date and self.termination_date and self.termination_date < self.hire_date:
            raise ValueError(f"termination date {self.termination_date} is before the hire date {self.hire_date}")
        return self

    @field_validator("cost_rate")
    @classmethod
    def _cost_rate_positive(cls, value: Money | None) -> Money | None:
        if value is not None and value.amount <= Decimal(0):
            raise ValueError(f"must be greater than zero, got {value}")
        return value


class TimeOffStatus(StrEnum):
    """Where a time-off request stands in HR. Only approved time off reduces availability."""

    REQUESTED = "requested"
    APPROVED = "approved"
    DENIED = "denied"
    CANCELLED = "cancelled"
    SUPERSEDED = "superseded"


class TimeOff(CanonicalModel):
    """A person's time off as HR holds it: which days, how many hours each, and whether it stands.

    HR systems differ in what they say when time off is withdrawn: BambooHR reports ``canceled`` or
    ``denied``; Workday simply stops returning the entry. A sync treats "not returned any more" like
    cancelled.
    """

    id: EntityId
    worker_id: EntityId = Field(description="The HR worker id")
    start: date
    end: date
    hours_by_day: dict[date, Decimal] = Field(
        default_factory=dict, description="Hours off per day; empty means a full working day each day"
    )
    status: TimeOffStatus = TimeOffStatus.APPROVED
    kind: str | None = Field(default=None, description="e.g. Vacation, Sick")
    source: SystemRef | None = None

    @model_validator(mode="after")
    def _in_order(self) -> TimeOff:
        if self.end < self.start:
            raise ValueError(f"time off ends {self.end} before it starts {self.start}")
        outside = [day for day in self.hours_by_day if not self.start <= day <= self.end]
        if outside:
            raise ValueError(f"hours given for {outside[0]}, outside {self.start}..{self.end}")
        if any(hours < 0 or hours > 24 for hours in self.hours_by_day.values()):
            raise ValueError("hours off per day must be between 0 and 24")
        return self
