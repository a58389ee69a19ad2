"""SOQL text to a syntax tree: the subset psflow's queries use, and nothing silently more.

Supported: ``SELECT`` fields, parent paths (``Account.Name``) and one level of child subquery
(``(SELECT Id FROM OpportunityLineItems)``); ``FROM`` one object; ``WHERE`` with ``=``, ``!=``,
``<>``, ``<``, ``<=``, ``>``, ``>=``, ``LIKE``, ``IN``/``NOT IN``, ``AND``/``OR``/``NOT`` and
parentheses; string, number, boolean, null, date and dateTime literals and the date literals
``TODAY``, ``YESTERDAY``, ``TOMORROW``, ``LAST_N_DAYS:n``, ``NEXT_N_DAYS:n``; ``ORDER BY`` with
``ASC``/``DESC`` and ``NULLS FIRST``/``LAST``; ``LIMIT``. Anything else — aggregates, ``GROUP BY``,
semi-joins, ``OFFSET``, other date literals — is a ``MALFORMED_QUERY``, never a wrong answer.
As in Salesforce, ``AND`` and ``OR`` cannot be mixed at one level without parentheses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sandbox.systems.salesforce._query_ast import (
    BoolOp,
    Comparison,
    Condition,
    FieldPath,
    Literal,
    Not,
    Order,
    Query,
    SoqlError,
    SubQuery,
    parse_datetime,
)

__all__ = ["parse"]


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<op>!=|<>|<=|>=|=|<|>)
  | (?P<punct>[(),.:])
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    """,
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_UNSUPPORTED_CLAUSES = ("GROUP", "HAVING", "OFFSET", "WITH", "FOR", "USING", "UPDATE", "TYPEOF")
_RELATIVE_DATES = ("TODAY", "YESTERDAY", "TOMORROW")
_RELATIVE_N_DATES = ("LAST_N_DAYS", "NEXT_N_DAYS")
_KNOWN_BUT_UNSUPPORTED_DATES = re.compile(r"^(LAST|THIS|NEXT)_(N_)?[A-Z_]+$")


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise SoqlError(f"unexpected token: '{text[position : position + 20]}'")
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(_Token(kind, match.group()))
        position = match.end()
    return tokens


def _unquote(token: str) -> str:
    body = token[1:-1]
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), body)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.position = 0

    def peek(self, offset: int = 0) -> _Token | None:
        index = self.position + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def at(self, text: str) -> bool:
        token = self.peek()
        return token is not None and token.text == text

    def keyword(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "ident" and token.text.upper() in words

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            raise SoqlError("unexpected end of query")
        self.position += 1
        return token

    def expect(self, text: str) -> None:
        token = self.take()
        if token.text.upper() != text:
            raise SoqlError(f"unexpected token: '{token.text}' (expected {text})")

    def query(self, *, nested: bool) -> Query:
        self.expect("SELECT")
        fields: list[FieldPath | SubQuery] = []
        while True:
            if self.at("("):
                if nested:
                    raise SoqlError("a subquery cannot contain another subquery")
                self.take()
                fields.append(SubQuery(self.query(nested=True)))
                self.expect(")")
            else:
                fields.append(self.field_path(in_select=True))
            if not self.at(","):
                break
            self.take()
        self.expect("FROM")
        sobject = self.take()
        if sobject.kind != "ident":
            raise SoqlError(f"unexpected token: '{sobject.text}' (expected an object name)")
        where = None
        if self.keyword("WHERE"):
            self.take()
            where = self.condition()
        order_by: tuple[Order, ...] = ()
        if self.keyword("ORDER"):
            self.take()
            self.expect("BY")
            order_by = self.orders()
        limit = None
        if self.keyword("LIMIT"):
            self.take()
            token = self.take()
            if token.kind != "number" or not token.text.isdigit():
                raise SoqlError(f"LIMIT must be a non-negative integer, got '{token.text}'")
            limit = int(token.text)
        if self.keyword(*_UNSUPPORTED_CLAUSES):
            raise SoqlError(f"{self.take().text.upper()} is not supported by this emulator's SOQL")
        return Query(tuple(fields), sobject.text, where, order_by, limit)

    def field_path(self, *, in_select: bool = False) -> FieldPath:
        token = self.take()
        if token.kind != "ident":
            raise SoqlError(f"unexpected token: '{token.text}' (expected a field name)")
        if self.at("("):
            raise SoqlError(f"{token.text.upper()}() is not supported by this emulator's SOQL")
        parts = [token.text]
        while self.at("."):
            self.take()
            part = self.take()
            if part.kind != "ident":
                raise SoqlError(f"unexpected token: '{part.text}' (expected a field name)")
            parts.append(part.text)
        if in_select and parts[0].upper() in ("FROM", "SELECT"):
            raise SoqlError(f"unexpected token: '{parts[0]}'")
        return FieldPath(tuple(parts))

    def orders(self) -> tuple[Order, ...]:
        orders = []
        while True:
            path = self.field_path()
            descending = False
            if self.keyword("ASC", "DESC"):
                descending = self.take().text.upper() == "DESC"
            nulls_last = descending
            if self.keyword("NULLS"):
                self.take()
                if not self.keyword("FIRST", "LAST"):
                    raise SoqlError("NULLS must be followed by FIRST or LAST")
                nulls_last = self.take().text.upper() == "LAST"
            orders.append(Order(path, descending, nulls_last))
            if not self.at(","):
                return tuple(orders)
            self.take()

    def condition(self) -> Condition:
        items = [self.operand()]
        ops: set[str] = set()
        while self.keyword("AND", "OR"):
            ops.add(self.take().text.upper())
            if len(ops) > 1:
                raise SoqlError("unexpected token: 'OR' or 'AND': use parentheses when mixing AND and OR")
            items.append(self.operand())
        return items[0] if len(items) == 1 else BoolOp(ops.pop(), tuple(items))

    def operand(self) -> Condition:
        if self.keyword("NOT"):
            self.take()
            return Not(self.operand())
        if self.at("("):
            self.take()
            inner = self.condition()
            self.expect(")")
            return inner
        return self.comparison()

    def comparison(self) -> Comparison:
        path = self.field_path()
        if self.keyword("NOT"):
            self.take()
            self.expect("IN")
            return Comparison(path, "NOT IN", self.value_list())
        if self.keyword("IN"):
            self.take()
            return Comparison(path, "IN", self.value_list())
        if self.keyword("LIKE"):
            self.take()
            return Comparison(path, "LIKE", self.value())
        if self.keyword("INCLUDES", "EXCLUDES"):
            raise SoqlError(f"{self.take().text.upper()} is not supported by this emulator's SOQL")
        token = self.take()
        if token.kind != "op":
            raise SoqlError(f"unexpected token: '{token.text}' (expected an operator after {path})")
        return Comparison(path, "!=" if token.text == "<>" else token.text, self.value())

    def value_list(self) -> tuple[Literal, ...]:
        self.expect("(")
        if self.keyword("SELECT"):
            raise SoqlError("semi-join subqueries (IN (SELECT ...)) are not supported by this emulator's SOQL")
        values = [self.value()]
        while self.at(","):
            self.take()
            values.append(self.value())
        self.expect(")")
        return tuple(values)

    def value(self) -> Literal:
        token = self.take()
        if token.kind == "string":
            return Literal("string", _unquote(token.text))
        if token.kind == "number":
            return Literal("number", Decimal(token.text))
        try:
            if token.kind == "date":
                return Literal("date", date.fromisoformat(token.text))
            if token.kind == "datetime":
                return Literal("datetime", parse_datetime(token.text))
        except ValueError:
            raise SoqlError(f"invalid date or dateTime literal: '{token.text}'") from None
        word = token.text.upper() if token.kind == "ident" else ""
        if word in ("TRUE", "FALSE"):
            return Literal("boolean", word == "TRUE")
        if word == "NULL":
            return Literal("null", None)
        if word in _RELATIVE_DATES:
            return Literal("relative", (word, 0))
        if word in _RELATIVE_N_DATES:
            self.expect(":")
            count = self.take()
            if count.kind != "number" or not count.text.isdigit():
                raise SoqlError(f"{word} needs a whole number of days, e.g. {word}:30")
            return Literal("relative", (word, int(count.text)))
        if _KNOWN_BUT_UNSUPPORTED_DATES.match(word):
            raise SoqlError(f"the date literal {word} is not supported by this emulator's SOQL")
        raise SoqlError(f"unexpected token: '{token.text}' (expected a value)")


def parse(text: str) -> Query:
    """Parse one SOQL query.

    Raises:
        SoqlError: ``MALFORMED_QUERY`` for syntax this emulator does not accept.
    """
    parser = _Parser(text)
    query = parser.query(nested=False)
    leftover = parser.peek()
    if leftover is not None:
        raise SoqlError(f"unexpected token: '{leftover.text}'")
    return query
