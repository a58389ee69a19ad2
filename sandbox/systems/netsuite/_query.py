"""A small, honest subset of SuiteQL: ``POST /services/rest/query/v1/suiteql``.

Supported::

    SELECT * | column [, column ...]
    FROM <one table>
    [WHERE condition [AND condition ...]]
    [ORDER BY column [ASC | DESC]]

where a condition is ``column = | <> | != | < | <= | > | >= literal``, ``column BETWEEN literal
AND literal``, ``column IN (literal, ...)`` or ``column IS [NOT] NULL``, and a literal is ``'text'``,
a number or ``TO_DATE('2026-01-31', 'YYYY-MM-DD')``. Tables: customer, job, projecttask, employee,
timebill, expensereport, invoice, charge, accountingperiod, and transactionline (the lines of
expense reports and invoices, see ``_lines``). Anything else — joins, OR, functions, GROUP BY,
aliases — is refused with 400 ``INVALID_PARAMETER`` naming what is unsupported, never
answered wrongly.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox._db import SandboxDB
from sandbox.systems.netsuite._convert import comparable, literal, row, stored_equal
from sandbox.systems.netsuite._errors import INVALID_PARAMETER, bad_request
from sandbox.systems.netsuite._lines import TRANSACTION_LINE, transaction_lines
from sandbox.systems.netsuite._types import CUSTOM_PREFIXES, DATE, NAME, TABLES, TEXT, FieldType, RecordType

MAX_ROWS = 100_000
MAX_IN_VALUES = 1000
"""Values one ``IN`` list may hold, as Oracle's own ``IN`` limit (ORA-01795) [inferred for SuiteQL]."""
MAX_DATE_SPAN_DAYS = 366
"""A date ``BETWEEN`` of at most this many days runs in SQL as a list of days; a longer one is filtered in Python."""
_QUERY_TABLES = {**TABLES, TRANSACTION_LINE.table: TRANSACTION_LINE}

_TOKEN = re.compile(r"\s*(?:('(?:[^']|'')*')|(\d+(?:\.\d+)?)|(>=|<=|<>|!=|=|<|>|\*|,|\(|\))|([A-Za-z_][\w.]*)|(\S))")
_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "<>": operator.ne,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@dataclass
class Query:
    """A parsed statement.

    Attributes:
        record_type: The table's record type.
        columns: Selected columns (stored field names), or None for ``*``.
        where: Equalities evaluated in SQL.
        predicates: Other conditions, evaluated in Python on stored records.
        order_by: Stored field to sort on.
        descending: Sort direction.
    """

    record_type: RecordType
    columns: list[str] | None
    where: dict[str, Any] = field(default_factory=dict)
    predicates: list[Callable[[dict[str, Any]], bool]] = field(default_factory=list)
    order_by: str = "id"
    descending: bool = False
    after_id: int | None = None
    """``id > N``: only records with a greater internal id, in SQL on the primary index (keyset paging)."""


def _unsupported(reason: str) -> Exception:
    return bad_request(
        INVALID_PARAMETER,
        f"Invalid search query. Detailed unprocessed description follows. {reason} "
        "(the sandbox supports SELECT columns FROM one table [WHERE ... AND ...] [ORDER BY column]).",
    )


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens: list[str] = []
        for match in _TOKEN.finditer(text):
            token = next(group for group in match.groups() if group is not None)
            self.tokens.append(token)
        self.position = 0

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise _unsupported("The statement ends too early.")
        self.position += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token is not None and token.upper() == word:
            self.position += 1
            return True
        return False

    def expect(self, word: str) -> None:
        if not self.keyword(word):
            raise _unsupported(f"Expected {word} but found {self.peek() or 'the end'}.")


def _column(record_type: RecordType, name: str) -> tuple[str, FieldType]:
    lower = name.lower()
    if lower.startswith(CUSTOM_PREFIXES):
        return lower, TEXT
    for field_name, field_type in record_type.fields.items():
        if field_name.lower() == lower:
            return field_name, field_type
    if "." in name or "(" in name:
        raise _unsupported(f"Qualified names and functions such as {name!r} are not supported.")
    raise bad_request(
        INVALID_PARAMETER,
        f"Invalid search query. Field '{lower}' for record '{record_type.table}' was not found.",
    )


def _literal(parser: _Parser) -> Any:
    token = parser.take()
    if token.startswith("'"):
        return token[1:-1].replace("''", "'")
    if token.upper() == "TO_DATE":
        parser.expect("(")
        text = parser.take()
        parser.expect(",")
        fmt = parser.take()
        parser.expect(")")
        if fmt.upper() != "'YYYY-MM-DD'" or not text.startswith("'"):
            raise _unsupported(f"TO_DATE is supported with the format 'YYYY-MM-DD' only, not {fmt}.")
        try:
            return date.fromisoformat(text[1:-1])
        except ValueError:
            raise _unsupported(f"{text} is not a YYYY-MM-DD date.") from None
    try:
        return Decimal(token)
    except InvalidOperation:
        raise _unsupported(f"Unsupported value {token!r}.") from None


def _condition(parser: _Parser, query: Query) -> None:
    name, field_type = _column(query.record_type, parser.take())
    if parser.keyword("IS"):
        negate = parser.keyword("NOT")
        parser.expect("NULL")
        query.predicates.append(lambda record: (record.get(name) is None) is not negate)
        return
    if parser.keyword("IN"):
        _in_list(parser, query, name, field_type)
        return
    if parser.keyword("BETWEEN"):
        low = _typed(field_type, _literal(parser))
        parser.expect("AND")
        high = _typed(field_type, _literal(parser))
        if field_type == DATE and name not in query.where and 0 <= (high - low).days <= MAX_DATE_SPAN_DAYS:
            # A period's days as an IN list: filtered, paged and counted in SQL on an index, not read whole.
            query.where[name] = [(low + timedelta(days=n)).isoformat() for n in range((high - low).days + 1)]
            return
        query.predicates.append(lambda record: _holds(operator.ge, field_type, record.get(name), low))
        query.predicates.append(lambda record: _holds(operator.le, field_type, record.get(name), high))
        return
    symbol = parser.take()
    if symbol not in _OPERATORS:
        raise _unsupported(f"Unsupported operator {symbol!r}.")
    wanted = _typed(field_type, _literal(parser))
    keyset = name == "id" and symbol == ">" and query.after_id is None and query.record_type is not TRANSACTION_LINE
    if keyset and str(wanted).isdigit():
        # How clients page past SuiteQL's 100,000-row cap: a new query per page, after the last id
        # read. Internal ids compare as numbers here (as text, "9" would come after "42").
        query.after_id = int(wanted)
        return
    if symbol == "=" and name not in query.where:
        in_sql, stored = stored_equal(field_type, wanted)
        if in_sql:
            query.where[name] = stored
            return
    compare = _OPERATORS[symbol]
    query.predicates.append(lambda record: _holds(compare, field_type, record.get(name), wanted))


def _in_list(parser: _Parser, query: Query, name: str, field_type: FieldType) -> None:
    parser.expect("(")
    values = [_typed(field_type, _literal(parser))]
    while parser.keyword(","):
        values.append(_typed(field_type, _literal(parser)))
    parser.expect(")")
    if len(values) > MAX_IN_VALUES:
        raise _unsupported(f"An IN list holds at most {MAX_IN_VALUES} values, not {len(values)}.")
    stored = [stored_equal(field_type, value) for value in values]
    if name not in query.where and all(in_sql for in_sql, _ in stored):
        query.where[name] = [value for _, value in stored]
        return
    wanted = set(values)
    query.predicates.append(lambda record: comparable(field_type, record.get(name)) in wanted)


def _typed(field_type: FieldType, value: Any) -> Any:
    try:
        return literal(field_type, value)
    except (ValueError, InvalidOperation) as exc:
        raise _unsupported(f"{value!r} cannot be compared with this column: {exc}.") from None


def _holds(compare: Callable[[Any, Any], bool], field_type: FieldType, value: Any, wanted: Any) -> bool:
    if value is None:
        return False
    try:
        return compare(comparable(field_type, value), wanted)
    except TypeError:
        return False


def parse(text: str) -> Query:
    """Parse a statement in the supported subset.

    Raises:
        SandboxHTTPError: 400 ``INVALID_PARAMETER`` for anything outside it.
    """
    parser = _Parser(text)
    parser.expect("SELECT")
    names: list[str] | None = None
    if not parser.keyword("*"):
        names = [parser.take()]
        while parser.keyword(","):
            names.append(parser.take())
        for name in names:
            if name.upper() in ("DISTINCT", "FROM") or parser.peek() == "(":
                raise _unsupported(f"{name} is not supported: select plain columns.")
    parser.expect("FROM")
    table = parser.take().lower()
    record_type = _QUERY_TABLES.get(table)
    if record_type is None:
        raise bad_request(INVALID_PARAMETER, f"Invalid search query. Record '{table}' was not found.")
    query = Query(record_type, None if names is None else [_column(record_type, n)[0] for n in names])
    if parser.keyword("WHERE"):
        _condition(parser, query)
        while parser.keyword("AND"):
            _condition(parser, query)
    if parser.keyword("ORDER"):
        parser.expect("BY")
        query.order_by = _column(record_type, parser.take())[0]
        query.descending = parser.keyword("DESC")
        if not query.descending:
            parser.keyword("ASC")
    if parser.peek() is not None:
        raise _unsupported(f"{parser.peek()!r} is not supported here.")
    return query


def _sort(records: list[dict[str, Any]], record_type: RecordType, query: Query) -> None:
    field_type = record_type.field_type(query.order_by) or TEXT
    records.sort(
        key=lambda record: (record.get(query.order_by) is None, comparable(field_type, record.get(query.order_by))),
        reverse=query.descending,
    )


def run(db: SandboxDB, query: Query, *, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
    """Execute a parsed query: one page of rows and the total number of matching rows.

    Without Python-side conditions or sorting, paging and counting run in SQL; otherwise the
    matching records are read once and sliced.
    """
    record_type = query.record_type
    predicates = tuple(query.predicates)
    if record_type is TRANSACTION_LINE:
        matched = [r for r in transaction_lines(db, query.where) if all(check(r) for check in predicates)]
        if query.order_by != "id" or query.descending:
            _sort(matched, record_type, query)
        records, total = matched[offset : offset + limit], len(matched)
    elif not predicates and query.order_by == "id":
        order = "-id" if query.descending else "id"
        records = db.query(
            NAME,
            record_type.name,
            where=query.where,
            offset=offset,
            limit=limit,
            order_by=order,
            after_num=query.after_id,
        )
        total = db.count(NAME, record_type.name, where=query.where, after_num=query.after_id)
    else:
        matched = db.query(
            NAME,
            record_type.name,
            where=query.where,
            predicate=(lambda record: all(check(record) for check in predicates)) if predicates else None,
            order_by="-id" if query.order_by == "id" and query.descending else "id",
            after_num=query.after_id,
        )
        if query.order_by != "id":
            _sort(matched, record_type, query)
        records, total = matched[offset : offset + limit], len(matched)
    rows = []
    for record in records:
        full = row(record_type, record)
        selected = full if query.columns is None else {name.lower(): full.get(name.lower()) for name in query.columns}
        rows.append({**{k: v for k, v in selected.items() if v is not None}, "links": []})
    return rows, total
