"""How SOQL compares a stored value with a literal, field type by field type.

Text compares case-insensitively; ids in their 18-character form; numbers as ``Decimal``;
dates and dateTimes as such. A relative date literal (``LAST_N_DAYS:7``) is a range of UTC
days: ``=`` means inside it, ``<`` before it, ``>`` after it. ``!=`` matches null fields, the
ordering operators never do.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, cast

from sandbox.systems.salesforce._ids import normalise_id
from sandbox.systems.salesforce._query_ast import Literal, SoqlError, parse_datetime
from sandbox.systems.salesforce._schema import ID_TYPES, NUMBER_TYPES, TEXT_TYPES, Field

__all__ = ["compare", "day_range", "like_pattern", "literal_value", "normalise"]

_LITERAL_KINDS = {"date": ("date", "relative"), "datetime": ("datetime", "relative"), "boolean": ("boolean",)}


def normalise(value: Any, field: Field) -> Any:
    """A stored value in the form literals are compared with."""
    if value is None:
        return None
    if field.type in TEXT_TYPES:
        return str(value).lower()
    if field.type in NUMBER_TYPES:
        return Decimal(str(value))
    if field.type == "date":
        return date.fromisoformat(value)
    if field.type == "datetime":
        return parse_datetime(value)
    return value


def literal_value(literal: Literal, field: Field) -> Any:
    """A literal checked against its field's type, in the form `normalise` produces.

    Relative date literals stay `Literal` objects; `compare` turns them into day ranges.

    Raises:
        SoqlError: ``INVALID_FIELD`` when the literal's type does not fit the field.
    """
    if literal.kind == "null":
        return None
    wanted = _LITERAL_KINDS.get(field.type, ("number",) if field.type in NUMBER_TYPES else ("string",))
    if literal.kind not in wanted:
        kind = {"string": "string", "number": "double"}.get(wanted[0], wanted[0])
        raise SoqlError(
            f"value of filter criterion for field '{field.name}' must be of type {kind}"
            + (" and should not be enclosed in quotes" if literal.kind == "string" else ""),
            "INVALID_FIELD",
        )
    if literal.kind == "relative":
        return literal
    if field.type in ID_TYPES:
        return normalise_id(str(literal.value)) or literal.value
    if field.type in TEXT_TYPES:
        return str(literal.value).lower()
    return literal.value


def day_range(literal: Literal, field: Field, today: date) -> tuple[Any, Any]:
    """The first and last instant (or day, for a date field) a relative date literal covers."""
    word, count = cast(tuple[str, int], literal.value)
    first, last = {
        "TODAY": (today, today),
        "YESTERDAY": (today - timedelta(days=1), today - timedelta(days=1)),
        "TOMORROW": (today + timedelta(days=1), today + timedelta(days=1)),
        "LAST_N_DAYS": (today - timedelta(days=count), today),
        "NEXT_N_DAYS": (today + timedelta(days=1), today + timedelta(days=count)),
    }[word]
    if field.type == "date":
        return first, last
    return datetime.combine(first, time.min, UTC), datetime.combine(last, time.max, UTC)


def like_pattern(pattern: str) -> re.Pattern[str]:
    """A case-insensitive regex for a LIKE pattern (``%`` any run, ``_`` one character, ``\\`` escapes)."""
    parts = re.split(r"(\\[%_]|%|_)", pattern)
    regex = "".join(
        ".*" if part == "%" else "." if part == "_" else re.escape(part[-1] if part.startswith("\\") else part)
        for part in parts
    )
    return re.compile(f"^{regex}$", re.IGNORECASE | re.DOTALL)


def compare(op: str, value: Any, wanted: Any, field: Field, today: date) -> bool:
    """Whether ``value op wanted`` holds; both come from `normalise` and `literal_value`."""
    if isinstance(wanted, Literal):
        low, high = day_range(wanted, field, today)
        inside = value is not None and low <= value <= high
        checks = {"=": inside, "!=": not inside}
        if value is not None:
            checks.update({"<": value < low, "<=": value <= high, ">": value > high, ">=": value >= low})
        return checks.get(op, False)
    if op == "=":
        return bool(value == wanted)
    if op == "!=":
        return bool(value != wanted)
    if value is None:
        return False
    return bool({"<": value < wanted, "<=": value <= wanted, ">": value > wanted, ">=": value >= wanted}[op])
