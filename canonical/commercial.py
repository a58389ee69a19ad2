"""What was sold and on what terms: opportunities, line items, rate cards, contract amendments."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Self

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


class ContractAmendment(CanonicalModel):
    """A signed change to an engagement's contract. Versions apply strictly in order."""

    id: EntityId
    engagement_id: EntityId
    version: int = Field(ge=1)
    effective_date: date
    signed_at: AwareDatetime
    budget: Money | None = None
    end_date: date | None = None
    rate_changes: tuple[RoleRate, ...] = ()
    reason: str | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> Self:
        if self.budget is None and self.end_date is None and not self.rate_changes:
            raise ValueError(f"amendment v{self.version} changes nothing: give a budget, end_date or rate_changes")
        if self.budget is not None:
            require_positive(self.budget, "budget")
        if self.end_date is not None:
            require_end_after_start(self.effective_date, self.end_date, "amendment")
        return self
