"""The syntax tree of the SOQL subset (see ``_query_parse``) and the error it raises."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "BoolOp",
    "Comparison",
    "Condition",
    "FieldPath",
    "Literal",
    "Not",
    "Order",
    "Query",
    "SoqlError",
    "SubQuery",
    "parse_datetime",
]


class SoqlError(Exception):
    """A query the emulator refuses, with the Salesforce error code to answer with."""

    def __init__(self, message: str, code: str = "MALFORMED_QUERY") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class FieldPath:
    """A field as written: ``("Account", "Name")`` for ``Account.Name``."""

    parts: tuple[str, ...]

    def __str__(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True)
class Literal:
    """A value in a condition. ``kind`` is string, number, boolean, null, date, datetime or relative.

    Relative date literals (``LAST_N_DAYS:30``) carry ``(name, n)`` as their value.
    """

    kind: str
    value: object


@dataclass(frozen=True)
class Comparison:
    """``field op value``; ``op`` is one of = != < <= > >= LIKE IN NOT IN (``value`` a tuple for IN)."""

    field: FieldPath
    op: str
    value: Literal | tuple[Literal, ...]


@dataclass(frozen=True)
class BoolOp:
    """``AND`` or ``OR`` over two or more conditions."""

    op: str
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    """``NOT condition``."""

    item: Condition


Condition = Comparison | BoolOp | Not


@dataclass(frozen=True)
class Order:
    """One ``ORDER BY`` key; nulls sort first ascending and last descending unless told."""

    field: FieldPath
    descending: bool
    nulls_last: bool


@dataclass(frozen=True)
class Query:
    """A parsed ``SELECT``."""

    fields: tuple[FieldPath | SubQuery, ...]
    sobject: str
    where: Condition | None
    order_by: tuple[Order, ...]
    limit: int | None


@dataclass(frozen=True)
class SubQuery:
    """A child relationship subquery in the select list."""

    query: Query


def parse_datetime(text: str) -> datetime:
    """Read a SOQL/REST dateTime (``Z``, ``+00:00`` or ``+0000`` offsets, optional milliseconds)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
