"""A workspace's budget: written as ``price`` in base units, read as ``price_in_cents`` and a display string.

Kantata's workspace API takes ``price`` as an integer in the currency's base unit (dollars, not
cents) on create and update, and reads the budget back as ``price_in_cents`` (an integer, null
when the workspace is unbudgeted) beside ``price``, a formatted display string (``"$1,000"``,
``"TBD"`` when unbudgeted). ``change_orders_enabled`` defaults to true on a budgeted workspace
(research note apis-round2.md §1 "Workspace budget" and "What an emulator must get right", 4).
``price_in_cents`` is read-only: a write naming it is ignored, as Kantata ignores every field its
API does not take.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sandbox.systems.kantata._store import Problem

_MINOR_UNITS = {"JPY": 0}
"""Minor units of the emulated currencies that have other than two."""
_SYMBOLS = {"USD": "$", "GBP": "£", "EUR": "€", "JPY": "¥", "INR": "₹"}
UNBUDGETED = "TBD"


def minor_units(currency: str) -> int:
    """Decimal places of a currency's minor unit."""
    return _MINOR_UNITS.get(currency, 2)


def display_price(cents: int | None, currency: str) -> str:
    """The budget as Kantata shows it: symbol, thousands separators, cents only when there are some."""
    if cents is None:
        return UNBUDGETED
    places = minor_units(currency)
    whole, fraction = divmod(cents, 10**places)
    symbol = _SYMBOLS.get(currency, f"{currency} ")
    text = f"{symbol}{whole:,}"
    return f"{text}.{fraction:0{places}d}" if fraction else text


def budget_fields(*, price_in_cents: int | None, currency: str, budgeted: bool) -> dict[str, Any]:
    """The budget fields a workspace is stored (and read) with."""
    cents = price_in_cents if budgeted else None
    return {"budgeted": budgeted, "price_in_cents": cents, "price": display_price(cents, currency)}


def _whole_price(value: Any, currency: str) -> tuple[int | None, list[Problem]]:
    if value is None:
        return None, []
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        message = (
            f"price must be a whole number of {currency}, zero or more: budgets are written in the "
            f"currency's base unit, not cents (got {value!r})"
        )
        return None, [Problem(message, "price")]
    return value * 10 ** minor_units(currency), []


def prepare_budget(body: dict[str, Any], current: Mapping[str, Any] | None) -> list[Problem]:
    """Turn a written ``price`` into the stored budget fields; check ``change_orders_enabled``.

    On a create without ``budgeted`` the workspace is budgeted when it is given a price. The
    fields are derived again whenever the price, the budgeted flag or the currency changes.
    """
    previous = current or {}
    currency = str(body.get("currency") or previous.get("currency") or "USD")
    flag = body.get("change_orders_enabled")
    problems: list[Problem] = []
    if flag is not None and not isinstance(flag, bool):
        problems.append(Problem(f"change_orders_enabled must be true or false (got {flag!r})", "change_orders_enabled"))
    if current is not None and not ({"price", "budgeted", "currency"} & body.keys()):
        return problems
    if "price" in body:
        cents, found = _whole_price(body.pop("price"), currency)
        problems += found
    else:
        cents = previous.get("price_in_cents")
    budgeted = body.get("budgeted", previous.get("budgeted") if current is not None else cents is not None)
    body.update(budget_fields(price_in_cents=cents, currency=currency, budgeted=bool(budgeted)))
    if current is None:
        body.setdefault("change_orders_enabled", bool(budgeted))
    return problems
