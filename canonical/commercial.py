"""What was sold and on what terms: opportunities, line items, rate cards, contract amendments."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar, Self

from pydantic import AwareDatetime, Field, field_validator, model_validator

from canonical._types import (
    CanonicalModel,
    CurrencyCode,
    EntityId,
    Money,
    SystemRef,
    require_currency,
    require_end_after_start,
    require_positive,
)


class BillingType(StrEnum):
    """How an engagement is billed."""

    TIME_AND_MATERIALS = "time_and_materials"
    FIXED_FEE = "fixed_fee"


class RoleRate(CanonicalModel):
    """The hourly bill rate for one role."""

    role: str = Field(min_length=1)
    hourly_rate: Money

    @model_validator(mode="after")
    def _positive(self) -> Self:
        require_positive(self.hourly_rate, "hourly_rate")
        return self


class RateCard(CanonicalModel):
    """Bill rates per role, in one currency."""

    id: EntityId
    name: str = Field(min_length=1)
    currency: CurrencyCode
    rates: tuple[RoleRate, ...] = Field(min_length=1)
    valid_from: date | None = None
    valid_to: date | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        require_end_after_start(self.valid_from, self.valid_to, "rate card")
        roles = [rate.role for rate in self.rates]
        duplicates = sorted({role for role in roles if roles.count(role) > 1})
        if duplicates:
            raise ValueError(f"rates name the role(s) {duplicates} more than once")
        for rate in self.rates:
            require_currency(rate.hourly_rate, self.currency, f"rate for {rate.role!r}")
        return self

    def rate_for(self, role: str) -> Money | None:
        """The hourly rate for a role, or None when the card has no such role."""
        return next((rate.hourly_rate for rate in self.rates if rate.role == role), None)


class LineItem(CanonicalModel):
    """One product or service line of an opportunity, usually a role and a number of hours."""

    id: EntityId
    product_name: str = Field(min_length=1)
    role: str | None = None
    quantity: Decimal = Field(description="Hours, or units for fixed-fee items")
    unit_price: Money

    @field_validator("quantity")
    @classmethod
    def _quantity_positive(cls, value: Decimal) -> Decimal:
        if value <= 0:
            raise ValueError(f"must be greater than zero, got {value}")
        return value

    @model_validator(mode="after")
    def _price_not_negative(self) -> Self:
        if self.unit_price.amount < 0:
            raise ValueError(f"unit_price must not be negative, got {self.unit_price}")
        return self

    @property
    def total(self) -> Money:
        """Quantity times unit price, unrounded."""
        return self.unit_price.times(self.quantity)


class OpportunityStage(StrEnum):
    """Where a deal stands in the sales pipeline."""

    PROSPECTING = "prospecting"
    QUALIFICATION = "qualification"
    PROPOSAL = "proposal"
    NEGOTIATION = "negotiation"
    CLOSED_WON = "closed_won"
    CLOSED_LOST = "closed_lost"


class Opportunity(CanonicalModel):
    """A deal in the CRM. When it is won it becomes an engagement."""

    id: EntityId
    name: str = Field(min_length=1)
    account_id: EntityId
    stage: OpportunityStage
    amount: Money
    close_date: date
    start_date: date | None = None
    end_date: date | None = None
    billing_type: BillingType = BillingType.TIME_AND_MATERIALS
    rate_card_id: EntityId | None = None
    line_items: tuple[LineItem, ...] = ()
    source: SystemRef | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.amount.amount < 0:
            raise ValueError(f"amount must not be negative, got {self.amount}")
        require_end_after_start(self.start_date, self.end_date, "opportunity")
        for item in self.line_items:
            require_currency(item.unit_price, self.amount.currency, f"line item {item.id!r} unit_price")
        return self

    @property
    def is_won(self) -> bool:
        """Whether the deal is closed won."""
        return self.stage is OpportunityStage.CLOSED_WON


class RateVersion(CanonicalModel):
    """The role rates in force from ``effective_date`` until the next version's date."""

    effective_date: date
    rates: tuple[RoleRate, ...] = Field(min_length=1)

    def rate_for(self, role: str) -> Money | None:
        """The hourly rate for a role in this version, or None when it has none."""
        return next((rate.hourly_rate for rate in self.rates if rate.role == role), None)


class RateSchedule(CanonicalModel):
    """Effective-dated bill rates for one project, in one currency (Kantata's rate card set versions).

    Versions are ordered by date and never share one; a version carries every role's rate in force
    from its date, so the rate on a day is read from one version alone.
    """

    currency: CurrencyCode
    versions: tuple[RateVersion, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        days = [version.effective_date for version in self.versions]
        if days != sorted(set(days)):
            raise ValueError(f"rate versions must have distinct dates in order, got {[str(d) for d in days]}")
        for version in self.versions:
            for rate in version.rates:
                require_currency(
                    rate.hourly_rate, self.currency, f"rate for {rate.role!r} from {version.effective_date}"
                )
        return self

    def version_on(self, day: date) -> RateVersion | None:
        """The version in force on ``day``: the latest one dated on or before it (None before the first)."""
        in_force = [version for version in self.versions if version.effective_date <= day]
        return in_force[-1] if in_force else None

    def rate_on(self, role: str, day: date) -> Money | None:
        """The hourly rate for ``role`` on ``day``, or None when no version in force has one."""
        version = self.version_on(day)
        return version.rate_for(role) if version is not None else None


class ContractAmendment(CanonicalModel):
    """A signed change to an engagement's contract. Versions apply strictly in order.

    ``contract_id`` is the CRM's contract (Salesforce ``Contract.Id``; for HubSpot, which has no
    contract object, the original deal's id). ``budget`` and ``end_date`` are the new values, not
    deltas; ``rate_changes`` re-rate existing roles from ``effective_date``; ``added_roles`` brings
    new roles (and their rates) into the contract from that date. ``source`` names the CRM record the
    amendment was read from (None when it was submitted by hand).
    """

    SCHEMA_VERSION: ClassVar[int] = 2
    """2: ``contract_id`` is required; ``added_roles`` and ``source`` were added."""

    id: EntityId
    contract_id: EntityId
    engagement_id: EntityId
    version: int = Field(ge=1)
    effective_date: date
    signed_at: AwareDatetime
    budget: Money | None = None
    end_date: date | None = None
    rate_changes: tuple[RoleRate, ...] = ()
    added_roles: tuple[RoleRate, ...] = ()
    reason: str | None = None
    source: SystemRef | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> Self:
        if self.budget is None and self.end_date is None and not self.rate_changes and not self.added_roles:
            raise ValueError(
                f"amendment v{self.version} changes nothing: give a budget, end_date, rate_changes or added_roles"
            )
        if self.budget is not None:
            require_positive(self.budget, "budget")
        if self.end_date is not None:
            require_end_after_start(self.effective_date, self.end_date, "amendment")
        roles = [rate.role for rate in (*self.rate_changes, *self.added_roles)]
        duplicates = sorted({role for role in roles if roles.count(role) > 1})
        if duplicates:
            raise ValueError(f"amendment v{self.version} names the role(s) {duplicates} more than once")
        currencies = {rate.hourly_rate.currency for rate in (*self.rate_changes, *self.added_roles)}
        if self.budget is not None:
            currencies.add(self.budget.currency)
        if len(currencies) > 1:
            raise ValueError(f"amendment v{self.version} mixes currencies {sorted(currencies)}")
        return self
