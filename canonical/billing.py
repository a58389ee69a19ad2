"""What the firm bills: invoices built from posted time and expenses."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Self

from pydantic import Field, field_validator, model_validator

from canonical._types import (
    CanonicalModel,
    CurrencyCode,
    DateRange,
    EntityId,
    Money,
    SystemRef,
    require_currency,
)


class InvoiceLine(CanonicalModel):
    """One line of an invoice: hours of a role, or an expense passed through."""

    description: str = Field(min_length=1)
    quantity: Decimal
    unit_price: Money
    source_entry_ids: tuple[EntityId, ...] = ()

    @field_validator("quantity")
    @classmethod
    def _quantity_positive(cls, value: Decimal) -> Decimal:
        if value <= 0:
            raise ValueError(f"must be greater than zero, got {value}")
        return value

    @property
    def amount(self) -> Money:
        """Quantity times unit price, rounded to the currency's minor unit."""
        return self.unit_price.times(self.quantity).rounded()


class Invoice(CanonicalModel):
    """A bill to a customer for one project and one billing period."""

    id: EntityId
    customer_id: EntityId
    project_id: EntityId
    period: DateRange
    currency: CurrencyCode
    issue_date: date
    due_date: date
    lines: tuple[InvoiceLine, ...] = Field(min_length=1)
    source: SystemRef | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.due_date < self.issue_date:
            raise ValueError(f"due_date {self.due_date} is before issue_date {self.issue_date}")
        for number, line in enumerate(self.lines, start=1):
            require_currency(line.unit_price, self.currency, f"line {number}")
        return self

    @property
    def total(self) -> Money:
        """The sum of the rounded line amounts."""
        return sum((line.amount for line in self.lines[1:]), self.lines[0].amount)
