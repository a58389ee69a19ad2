"""Unit conversions between Kantata's integers and canonical decimals: minor units and minutes."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from canonical import Money

__all__ = ["cents_from_money", "hours_from_minutes", "minutes_from_hours", "money_from_cents", "price_from_money"]

_HOUR_PLACES = Decimal("1E-10")


def money_from_cents(cents: int, currency: str) -> Money:
    """Money from an amount in the currency's minor units (cents for USD, yen for JPY)."""
    probe = Money(amount=Decimal(0), currency=currency)
    return Money(amount=Decimal(cents).scaleb(-probe.minor_units), currency=probe.currency)


def cents_from_money(money: Money) -> int:
    """An amount in the currency's minor units.

    Raises:
        ValueError: The amount has fractions of a minor unit, which Kantata cannot store.
    """
    scaled = money.amount.scaleb(money.minor_units)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{money} has fractions of a minor unit; round it to {money.minor_units} decimal places")
    return int(scaled)


def price_from_money(money: Money) -> int:
    """A workspace budget as Kantata's ``price`` takes it: whole base units (dollars, not cents).

    Kantata keeps a workspace's budget in whole units of its currency, so cents are rounded
    half-up (55,480.50 USD is written as 55481); the ERP's contract value keeps them.

    Raises:
        ValueError: The amount has fractions of a minor unit (see `cents_from_money`).
    """
    cents_from_money(money)
    return int(money.amount.to_integral_value(rounding=ROUND_HALF_UP))


def hours_from_minutes(minutes: int) -> Decimal:
    """Hours from whole minutes.

    Exact whenever the hours have a finite decimal form (any multiple of 3 minutes, which
    covers 6- and 15-minute increments); otherwise rounded half-up to 10 decimal places.
    """
    hours = Decimal(minutes) / 60
    return hours if minutes % 3 == 0 else hours.quantize(_HOUR_PLACES, rounding=ROUND_HALF_UP)


def minutes_from_hours(hours: Decimal) -> int:
    """Whole minutes from hours, rounded half-up."""
    return int((hours * 60).to_integral_value(rounding=ROUND_HALF_UP))
