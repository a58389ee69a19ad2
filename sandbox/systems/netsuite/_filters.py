"""The ``q`` filter of record collection lists: ``GET /record/v1/customer?q=...``.

Supported: conditions joined by ``AND`` — ``field OPERATOR value`` with string operators
(``IS``, ``IS_NOT``, ``CONTAIN``, ``START_WITH``, ``END_WITH`` and their ``_NOT`` forms),
numeric ones (``EQUAL``, ``EQUAL_NOT``, ``GREATER``, ``GREATER_OR_EQUAL``, ``LESS``,
``LESS_OR_EQUAL``, ``BETWEEN``), date ones (``ON``, ``ON_OR_AFTER``, ``ON_OR_BEFORE``,
``AFTER``, ``BEFORE``, ``WITHIN``) and ``EMPTY``/``EMPTY_NOT``. ``OR`` and parentheses are
refused with ``INVALID_PARAMETER`` rather than answered wrongly.

``externalId IS "x"`` is answered from the external id index; other equalities on stored
fields run in SQL; the rest is filtered in Python.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox.systems.netsuite._convert import comparable, literal, stored_equal
from sandbox.systems.netsuite._errors import INVALID_PARAMETER, bad_request
from sandbox.systems.netsuite._types import RecordType

_TOKEN = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|([A-Za-z_][A-Za-z0-9_]*)|(-?\d+(?:\.\d+)?)|(\S))')
_EQUALITY = frozenset({"IS", "EQUAL", "ON"})
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "IS": operator.eq,
    "IS_NOT": operator.ne,
    "EQUAL": operator.eq,
    "EQUAL_NOT": operator.ne,
    "ON": operator.eq,
    "NOT_ON": operator.ne,
    "GREATER": operator.gt,
    "AFTER": operator.gt,
    "GREATER_OR_EQUAL": operator.ge,
    "ON_OR_AFTER": operator.ge,
    "LESS": operator.lt,
    "BEFORE": operator.lt,
    "LESS_OR_EQUAL": operator.le,
    "ON_OR_BEFORE": operator.le,
}
_TEXT: dict[str, Callable[[str, str], bool]] = {
    "CONTAIN": lambda value, text: text in value,
    "START_WITH": lambda value, text: value.startswith(text),
    "END_WITH": lambda value, text: value.endswith(text),
}
_RANGE = frozenset({"BETWEEN", "WITHIN"})


@dataclass
class Plan:
    """How to answer a ``q`` filter.

    Attributes:
        external_id: Look this external id up in the index (the only candidate record).
        where: Field equalities evaluated in SQL.
        predicates: Remaining conditions, applied in Python.
    """

    external_id: str | None = None
    where: dict[str, Any] = field(default_factory=dict)
    predicates: list[Callable[[dict[str, Any]], bool]] = field(default_factory=list)

    def predicate(self) -> Callable[[dict[str, Any]], bool] | None:
        """All Python-side conditions as one predicate, or None when there are none."""
        if not self.predicates:
            return None
        checks = tuple(self.predicates)
        return lambda record: all(check(record) for check in checks)


def _invalid(q: str, reason: str) -> Exception:
    return bad_request(INVALID_PARAMETER, f"Invalid query parameter q={q!r}: {reason}.")


def _tokens(q: str) -> list[tuple[str, Any]]:
    tokens: list[tuple[str, Any]] = []
    for match in _TOKEN.finditer(q):
        quoted, word, number, symbol = match.groups()
        if quoted is not None:
            tokens.append(("value", quoted.replace('\\"', '"')))
        elif word is not None:
            upper = word.upper()
            tokens.append(("value", upper == "TRUE") if upper in ("TRUE", "FALSE") else ("word", word))
        elif number is not None:
            tokens.append(("value", Decimal(number)))
        elif symbol is not None:
            tokens.append(("symbol", symbol))
    return tokens


def plan(record_type: RecordType, q: str) -> Plan:
    """Parse ``q`` into a `Plan` for ``record_type``.

    Raises:
        SandboxHTTPError: 400 ``INVALID_PARAMETER`` for unknown fields, operators or syntax
            outside the supported subset.
    """
    result = Plan()
    tokens = _tokens(q)
    position = 0
    while True:
        if position + 1 >= len(tokens) or tokens[position][0] != "word" or tokens[position + 1][0] != "word":
            raise _invalid(q, "expected a condition: field OPERATOR value")
        name, op = tokens[position][1], tokens[position + 1][1].upper()
        position += 2
        field_type = record_type.field_type(name)
        if field_type is None:
            raise _invalid(q, f"record type {record_type.name} has no field {name!r}")
        arity = 0 if op in ("EMPTY", "EMPTY_NOT") else 2 if op in _RANGE else 1
        values: list[Any] = []
        for _ in range(arity):
            if values and position < len(tokens) and _is_word(tokens[position], "AND"):
                position += 1
            if position >= len(tokens) or tokens[position][0] != "value":
                raise _invalid(q, f"operator {op} needs {arity} value(s)")
            values.append(tokens[position][1])
            position += 1
        _add_condition(result, q, name, field_type, op, values)
        if position == len(tokens):
            return result
        if _is_word(tokens[position], "AND"):
            position += 1
        elif _is_word(tokens[position], "OR") or tokens[position][0] == "symbol":
            raise _invalid(q, "the sandbox supports conditions joined by AND only (no OR, no parentheses)")
        else:
            raise _invalid(q, f"unexpected {tokens[position][1]!r} after a condition")


def _is_word(token: tuple[str, Any], word: str) -> bool:
    return token[0] == "word" and token[1].upper() == word


def _add_condition(result: Plan, q: str, name: str, field_type: Any, op: str, values: list[Any]) -> None:
    if op in ("EMPTY", "EMPTY_NOT"):
        empty = op == "EMPTY"
        result.predicates.append(lambda record: (record.get(name) in (None, "")) is empty)
        return
    base = op.removesuffix("_NOT")
    negate = op.endswith("_NOT") and base in _TEXT
    try:
        converted = [literal(field_type, v) for v in values]
    except (ValueError, InvalidOperation) as exc:
        raise _invalid(q, f"{values} cannot be compared with field {name}: {exc}") from None
    if op == "IS" and name == "externalId" and result.external_id is None:
        result.external_id = str(converted[0])
        return
    if op in _EQUALITY and name not in result.where:
        in_sql, stored = stored_equal(field_type, converted[0])
        if in_sql:
            result.where[name] = stored
            return
    if op in _COMPARE:
        compare, wanted = _COMPARE[op], converted[0]
        result.predicates.append(lambda record: _holds(compare, comparable(field_type, record.get(name)), wanted))
    elif op in _RANGE:
        low, high = converted
        result.predicates.append(
            lambda record: (
                _holds(operator.ge, comparable(field_type, record.get(name)), low)
                and _holds(operator.le, comparable(field_type, record.get(name)), high)
            )
        )
    elif base in _TEXT:
        match, text = _TEXT[base], str(converted[0])
        result.predicates.append(lambda record: (match(str(record.get(name) or ""), text)) is not negate)
    else:
        raise _invalid(q, f"unknown operator {op}")


def _holds(compare: Callable[[Any, Any], bool], value: Any, wanted: Any) -> bool:
    if value is None:
        return compare is operator.ne
    try:
        return compare(value, wanted)
    except TypeError:
        return False
