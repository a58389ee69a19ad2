"""Who the firm works for and who does the work: customers and consultants."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator

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

    @field_validator("cost_rate")
    @classmethod
    def _cost_rate_positive(cls, value: Money | None) -> Money | None:
        if value is not None and value.amount <= Decimal(0):
            raise ValueError(f"must be greater than zero, got {value}")
        return value
