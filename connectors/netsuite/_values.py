"""NetSuite's value formats and the comparisons built on them (all pure).

Durations are ``H:MM`` to the minute; dates are ISO in REST and, in SuiteQL, the account's
date format (``M/D/YYYY`` for US English); list values are internal ids from the account.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

__all__ = [
    "MappingError",
    "differences",
    "format_duration",
    "lookup_id",
    "parse_date",
    "parse_duration",
    "ref",
]


class MappingError(ValueError):
    """A canonical value has no NetSuite counterpart in the configured id tables."""


def lookup_id(table: Mapping[str, str], value: str, what: str, setting: str) -> str:
    """The internal id of a list value, or a `MappingError` naming the setting to extend."""
    try:
        return table[value]
    except KeyError:
        raise MappingError(
            f"{what} {value!r} has no NetSuite internal id: add it to PSFLOW_NETSUITE_{setting} "
            f"(known: {', '.join(sorted(table)) or 'none'})"
        ) from None


def ref(internal_id: str) -> dict[str, Any]:
    """A reference to a record or list value by internal id."""
    return {"id": internal_id}


def format_duration(minutes: int) -> str:
    """Whole minutes as NetSuite's ``H:MM`` duration (450 → ``"7:30"``, 440 → ``"7:20"``)."""
    return f"{minutes // 60}:{minutes % 60:02d}"


def parse_duration(value: str | float | int) -> int:
    """Whole minutes of a NetSuite duration: ``"7:20"`` (REST), or decimal hours (SuiteQL).

    SuiteQL gives hours as a number (7:20 → 7.33): NetSuite keeps durations to the minute, so the
    nearest whole minute is the one stored.
    """
    if isinstance(value, str) and ":" in value:
        hours, minutes = value.split(":", 1)
        return int(hours) * 60 + int(minutes)
    return int((Decimal(str(value)) * 60).to_integral_value(rounding=ROUND_HALF_UP))


def parse_date(value: str) -> date:
    """A NetSuite date: ISO ``YYYY-MM-DD`` (REST) or US ``M/D/YYYY`` (SuiteQL in a US account)."""
    if "/" in value:
        month, day, year = (int(part) for part in value.split("/"))
        return date(year, month, day)
    return date.fromisoformat(value[:10])


def differences(existing: Mapping[str, Any], desired: Mapping[str, Any]) -> list[str]:
    """Fields of ``desired`` whose value the existing record does not already have.

    References compare by id, numbers by value, sublists line by line (the record must have
    been read with ``expandSubResources=true``).
    """
    return [name for name, value in desired.items() if not _same(existing.get(name), value)]


def _same(current: Any, wanted: Any) -> bool:
    if isinstance(wanted, dict) and "items" in wanted:
        lines = current.get("items") if isinstance(current, dict) else None
        return (
            isinstance(lines, list)
            and len(lines) == len(wanted["items"])
            and all(not differences(old, new) for old, new in zip(lines, wanted["items"], strict=True))
        )
    if isinstance(wanted, dict) and "id" in wanted:
        return isinstance(current, dict) and str(current.get("id")) == str(wanted["id"])
    if isinstance(wanted, dict):
        return isinstance(current, dict) and not differences(current, wanted)
    if isinstance(wanted, bool):
        return current is wanted
    if isinstance(wanted, int | float):
        return isinstance(current, int | float) and Decimal(str(current)) == Decimal(str(wanted))
    return bool(current == wanted)
