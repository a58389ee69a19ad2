"""What the firm delivers: engagements, and the projects and tasks they become in the PSA."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Self

from pydantic import Field, field_validator, model_validator

from canonical._types import (
    CanonicalModel,
    CurrencyCode,
    EntityId,
    Money,
    SystemRef,
    require_currency,
    require_end_after_start,
)
from canonical.commercial import BillingType, LineItem, RateCard
from canonical.parties import Customer


class Engagement(CanonicalModel):
    """A won deal, ready to be provisioned: the firm's one standard shape of a new piece of work."""

    id: EntityId
    name: str = Field(min_length=1)
    customer: Customer
    opportunity: SystemRef
    billing_type: BillingType
    currency: CurrencyCode
    budget: Money
    start_date: date
    end_date: date
    rate_card: RateCard | None = None
    line_items: tuple[LineItem, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        require_end_after_start(self.start_date, self.end_date, "engagement")
        require_currency(self.budget, self.currency, "budget")
        if self.budget.amount < 0:
            raise ValueError(f"budget must not be negative, got {self.budget}")
        if self.rate_card is not None:
            require_currency(self.rate_card.rates[0].hourly_rate, self.currency, "rate_card")
        return self


class ProjectStatus(StrEnum):
    """Lifecycle of a delivery project."""

    ACTIVE = "active"
    ON_HOLD = "on_hold"
    CLOSED = "closed"


class Task(CanonicalModel):
    """A unit of work within a project that time is booked against."""

    id: EntityId
    project_id: EntityId
    name: str = Field(min_length=1)
    role: str | None = None
    budget_hours: Decimal | None = None
    billable: bool = True

    @field_validator("budget_hours")
    @classmethod
    def _hours_not_negative(cls, value: Decimal | None) -> Decimal | None:
        if value is not None and value < 0:
            raise ValueError(f"must not be negative, got {value}")
        return value


class Project(CanonicalModel):
    """A delivery project: a workspace in the PSA, a job in the ERP."""

    id: EntityId
    code: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1)
    customer_id: EntityId
    engagement_id: EntityId | None = None
    status: ProjectStatus = ProjectStatus.ACTIVE
    billing_type: BillingType = BillingType.TIME_AND_MATERIALS
    budget: Money
    start_date: date
    end_date: date
    rate_card_id: EntityId | None = None
    tasks: tuple[Task, ...] = ()
    source: SystemRef | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        require_end_after_start(self.start_date, self.end_date, "project")
        if self.budget.amount < 0:
            raise ValueError(f"budget must not be negative, got {self.budget}")
        return self


def project_for(engagement: Engagement) -> Project:
    """The standard delivery project of an engagement: one task per line item, same budget and dates.

    The project's canonical id is the engagement's, so every system's copy maps back to the deal.
    """
    system_prefix = engagement.opportunity.system.value[:2].upper()
    return Project(
        id=engagement.id,
        code=f"{system_prefix}-{engagement.opportunity.id}"[:64],
        name=engagement.name,
        customer_id=engagement.customer.id,
        engagement_id=engagement.id,
        billing_type=engagement.billing_type,
        budget=engagement.budget,
        start_date=engagement.start_date,
        end_date=engagement.end_date,
        rate_card_id=engagement.rate_card.id if engagement.rate_card else None,
        tasks=tuple(
            Task(
                id=f"{engagement.id}:{item.id}",
                project_id=engagement.id,
                name=item.product_name,
                role=item.role,
                budget_hours=item.quantity,
            )
            for item in engagement.line_items
        ),
    )
