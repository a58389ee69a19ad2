"""Building blocks shared by every canonical entity: the base model, ids, money and date ranges."""

from __future__ import annotations

import math
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Annotated, Any, ClassVar, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from canonical._iso4217 import MINOR_UNITS


class CanonicalModel(BaseModel):
    """Base of every canonical model: immutable, strict about unknown fields, versioned.

    ``SCHEMA_VERSION`` is bumped when a change is not backwards compatible. Compatible changes add
    fields with defaults so that payloads already recorded in workflow histories still decode.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    SCHEMA_VERSION: ClassVar[int] = 1


def _non_empty(value: str) -> str:
    if not value:
        raise ValueError("must not be empty")
    return value


def _currency(value: str) -> str:
    code = value.upper()
    if code not in MINOR_UNITS:
        raise ValueError(f"{value!r} is not an ISO 4217 currency code (e.g. USD, EUR, GBP)")
    return code


EntityId = Annotated[str, Field(max_length=255), AfterValidator(_non_empty)]
"""A non-empty identifier (canonical or system-specific)."""

CurrencyCode = Annotated[str, Field(min_length=3, max_length=3), AfterValidator(_currency)]
"""An active ISO 4217 alphabetic code, upper-cased."""


class SystemName(StrEnum):
    """The systems psflow moves records between."""

    SALESFORCE = "salesforce"
    HUBSPOT = "hubspot"
    KANTATA = "kantata"
    WORKDAY = "workday"
    BAMBOOHR = "bamboohr"
    NETSUITE = "netsuite"


class SystemRef(CanonicalModel):
    """Where a record came from: the system and that system's own id."""

    system: SystemName
    id: EntityId


class Money(CanonicalModel):
    """An amount in one currency. Amounts are ``Decimal``; floats are refused to avoid binary rounding."""

    amount: Decimal
    currency: CurrencyCode

    @field_validator("amount", mode="before")
    @classmethod
    def _refuse_float(cls, value: Any) -> Any:
        if isinstance(value, float):
            raise ValueError(f"must be a Decimal or a string, not the float {value!r}: floats lose cents")
        return value

    @model_validator(mode="after")
    def _finite(self) -> Self:
        if not self.amount.is_finite():
            raise ValueError(f"amount must be a finite number, got {self.amount}")
        return self

    @classmethod
    def of(cls, amount: Decimal | int | str, currency: str) -> Money:
        """Build money from a Decimal, an int or a decimal string."""
        return cls(amount=Decimal(amount), currency=currency)

    @property
    def minor_units(self) -> int:
        """Digits after the decimal point for this currency (2 for USD, 0 for JPY)."""
        return MINOR_UNITS[self.currency]

    def rounded(self) -> Money:
        """This amount rounded half-up to the currency's minor unit, as invoices are."""
        quantum = Decimal(1).scaleb(-self.minor_units)
        return Money(amount=self.amount.quantize(quantum, rounding=ROUND_HALF_UP), currency=self.currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"cannot combine {self.currency} and {other.currency} amounts")

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(amount=self.amount + other.amount, currency=self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(amount=self.amount - other.amount, currency=self.currency)

    def times(self, factor: Decimal) -> Money:
        """This amount multiplied by a quantity (hours, units)."""
        return Money(amount=self.amount * factor, currency=self.currency)

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


def _half_up(value: Fraction) -> int:
    """``value`` rounded to the nearest integer, halves away from zero (as ``ROUND_HALF_UP`` does)."""
    magnitude = math.floor(abs(value) + Fraction(1, 2))
    return -magnitude if value < 0 else magnitude


def bill_for_minutes(rate: Money, minutes: int) -> Money:
    """What ``minutes`` of work at the hourly ``rate`` bill: the one rounding rule for time.

    ``minutes * rate / 60``, computed exactly and rounded once, half-up, to the currency's minor unit
    (ISO 4217: 0 places for JPY, 2 for USD, 3 for KWD). Every posted time entry's amount comes from
    here; invoices, events and figures add those amounts up and never re-derive them from hours.
    """
    scale = 10**rate.minor_units
    minor = _half_up(Fraction(rate.amount) * minutes * scale / 60)
    return Money(amount=Decimal(minor).scaleb(-rate.minor_units), currency=rate.currency)


def hours_of(minutes: int) -> Decimal:
    """Decimal hours of whole minutes, for display: exact when they have a finite form (7:30 → 7.5)."""
    return Decimal(minutes) / 60


def format_minutes(minutes: int) -> str:
    """Whole minutes as ``H:MM`` (440 → ``"7:20"``), the way timesheets and NetSuite write durations."""
    sign = "-" if minutes < 0 else ""
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours}:{rest:02d}"


def require_positive(money: Money, field: str | None = None) -> None:
    """Reject zero or negative amounts, naming the value (and the field, where the error does not)."""
    if money.amount <= 0:
        raise ValueError(f"{field + ' ' if field else ''}must be greater than zero, got {money}")


def require_currency(money: Money, currency: str, field: str) -> None:
    """Reject an amount whose currency differs from the record's currency."""
    if money.currency != currency:
        raise ValueError(f"{field} is in {money.currency} but the record is in {currency}")


class DateRange(CanonicalModel):
    """An inclusive range of business dates."""

    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end


def require_end_after_start(start: date | None, end: date | None, what: str) -> None:
    """Reject an end date before the start date, naming both values."""
    if start is not None and end is not None and end < start:
        raise ValueError(f"{what} end date {end} is before its start date {start}")
