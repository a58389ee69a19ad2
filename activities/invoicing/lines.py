"""How posted time and expenses become invoice lines that tie out both ways: pure rules.

An invoice bills what was posted. Each posted entry's amount was rounded once, when it was posted
(`canonical.bill_for_minutes`), and the invoice adds those amounts up: Σ lines = Σ posted amounts.
The ERP prices a line itself, as quantity * unit price rounded half-up to the currency's minor unit
(`erp_line_amount`), so every line's quantity is chosen to give exactly its posted amount at its
rate. Rounding per entry and rounding a sum differ (1:45 h + 0:15 h at 212.50 post as 371.88 +
53.13 = 425.01; 2 h at 212.50 is 425.00), so entries only share a line when no rounding happened.

Two groupings (``PSFLOW_INVOICE_LINES``):

- ``entry`` (the default): one line per time entry, described with its day, duration and rate.
- ``rate``: one line per hourly rate for the entries whose amounts needed no rounding; an entry
  whose amount was rounded keeps a line of its own, so the invoice shows where a cent came from.

A line's quantity is its hours when they have a finite decimal form of at most 2 places (any
multiple of 3 minutes); otherwise (7:20 is 7.333… h) the shortest decimal of up to
`QUANTITY_PLACES` places that gives the posted amount at the rate (7.33333). When none does
(a rate changed in the ERP after posting), the line is quantity 1 at the posted amount, its
description still naming the duration and the rate.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Literal

from canonical import InvoiceLine, Money, format_minutes

LineGrouping = Literal["entry", "rate"]
QUANTITY_PLACES = 5
"""Most decimal places of a line quantity (hours) psflow sends."""


@dataclass(frozen=True)
class PostedTime:
    """A posted time entry, as the ledger and its time bill have it."""

    source_id: str
    day: date
    minutes: int
    rate: Money
    amount: Money

    @property
    def exact(self) -> bool:
        """Whether posting needed no rounding: minutes * rate / 60 is a whole number of minor units."""
        return Fraction(self.rate.amount) * self.minutes / 60 == Fraction(self.amount.amount)


@dataclass(frozen=True)
class PostedExpense:
    """A posted expense: passed through at its amount."""

    source_id: str
    day: date
    amount: Money


def erp_line_amount(quantity: Decimal, unit_price: Money) -> Money:
    """What the ERP makes of a line: quantity * unit price, rounded half-up to the currency's minor unit."""
    return unit_price.times(quantity).rounded()


def line_quantity(minutes: int, rate: Money, amount: Money) -> Decimal | None:
    """Hours for a line of ``minutes`` at ``rate`` that the ERP prices at exactly ``amount``.

    Returns:
        The hours when finite within 2 places, else the shortest decimal of at most
        `QUANTITY_PLACES` places that ties: rounded to the nearest if one does, else up, else down;
        None when no such quantity gives ``amount``.
    """
    hours = Decimal(minutes) / 60
    if minutes % 3 == 0:  # k/20 hours: at most 2 places, exact
        plain = hours.quantize(Decimal(1)) if hours == hours.to_integral_value() else hours.normalize()
        return plain if erp_line_amount(plain, rate) == amount else None
    for rounding in (ROUND_HALF_UP, ROUND_CEILING, ROUND_FLOOR):
        for places in range(2, QUANTITY_PLACES + 1):
            quantity = hours.quantize(Decimal(1).scaleb(-places), rounding=rounding)
            if quantity > 0 and erp_line_amount(quantity, rate) == amount:
                return quantity
    return None


def _shown(rate: Money) -> str:
    cents = rate.rounded()
    return f"{cents.amount}" if cents.amount == rate.amount else f"{rate.amount.normalize()}"


def _time_line(description: str, minutes: int, rate: Money, amount: Money, sources: Sequence[str]) -> InvoiceLine:
    quantity = line_quantity(minutes, rate, amount)
    if quantity is None:
        return InvoiceLine(
            description=description, quantity=Decimal(1), unit_price=amount, source_entry_ids=tuple(sources)
        )
    return InvoiceLine(description=description, quantity=quantity, unit_price=rate, source_entry_ids=tuple(sources))


def _entry_line(entry: PostedTime) -> InvoiceLine:
    rate = entry.rate
    description = (
        f"Professional services {entry.day:%Y-%m-%d}: {format_minutes(entry.minutes)} h "
        f"at {_shown(rate)} {rate.currency}/h ({entry.source_id})"
    )
    return _time_line(description, entry.minutes, rate, entry.amount, [entry.source_id])


def _rate_lines(entries: Iterable[PostedTime]) -> list[InvoiceLine]:
    merged: dict[Money, list[PostedTime]] = defaultdict(list)
    alone: list[PostedTime] = []
    for entry in entries:
        (merged[entry.rate] if entry.exact else alone).append(entry)
    lines = []
    for rate in sorted(merged, key=lambda money: money.amount, reverse=True):
        group = merged[rate]
        minutes = sum(entry.minutes for entry in group)
        amount = sum((entry.amount for entry in group[1:]), group[0].amount)
        description = f"Professional services: {format_minutes(minutes)} h at {_shown(rate)} {rate.currency}/h"
        lines.append(_time_line(description, minutes, rate, amount, [entry.source_id for entry in group]))
    return lines + [_entry_line(entry) for entry in alone]


def invoice_lines(
    time: Sequence[PostedTime],
    expenses: Sequence[PostedExpense],
    grouping: LineGrouping = "entry",
    adjustments: Sequence[PostedExpense] = (),
) -> list[InvoiceLine]:
    """The lines that bill these posted entries: time first (as ``grouping`` says), then each expense, then
    each rate adjustment (the difference a retroactive rate change posted for one time entry, one unit at
    its amount).

    Raises:
        ValueError: The lines would not add up to the posted amounts (a bug, never a rounding).
    """
    lines = [_entry_line(entry) for entry in time] if grouping == "entry" else _rate_lines(time)
    lines += [
        InvoiceLine(
            description=f"Expense of {expense.day:%Y-%m-%d} ({expense.source_id})",
            quantity=Decimal(1),
            unit_price=expense.amount,
            source_entry_ids=(expense.source_id,),
        )
        for expense in expenses
    ]
    lines += [
        InvoiceLine(
            description=f"Rate adjustment of {adjustment.day:%Y-%m-%d} ({adjustment.source_id})",
            quantity=Decimal(1),
            unit_price=adjustment.amount,
            source_entry_ids=(adjustment.source_id,),
        )
        for adjustment in adjustments
    ]
    posted = sum(entry.amount.amount for entry in time) + sum(
        other.amount.amount for other in (*expenses, *adjustments)
    )
    billed = sum(line.amount.amount for line in lines)
    if billed != posted:
        raise ValueError(f"invoice lines add up to {billed}, the posted entries to {posted}")
    return lines
