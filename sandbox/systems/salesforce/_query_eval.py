"""Run a parsed SOQL query against the stored records and shape rows as the REST API does.

Comparisons follow SOQL: text is compared case-insensitively, ``!=`` and ``NOT IN`` match null
fields, other operators never do; a literal of the wrong type for its field is an
``INVALID_FIELD`` error, as in Salesforce. Relative date literals use the UTC calendar day.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sandbox._db import SandboxDB
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
)
from sandbox.systems.salesforce._query_values import compare, like_pattern, literal_value, normalise
from sandbox.systems.salesforce._schema import (
    NAME,
    TEXT_TYPES,
    Child,
    Field,
    SObject,
    record_url,
    sobject,
)

__all__ = ["execute"]

Row = dict[str, Any]
Predicate = Callable[[Row], bool]


class _Records:
    """Reads records for one query execution, caching parent lookups."""

    def __init__(self, db: SandboxDB) -> None:
        self.db = db
        self._cache: dict[tuple[str, str], Row | None] = {}

    def all(self, sobj: SObject) -> list[Row]:
        return self.db.query(NAME, sobj.name)

    def get(self, sobj: SObject, record_id: str) -> Row | None:
        key = (sobj.name, record_id)
        if key not in self._cache:
            self._cache[key] = self.db.get(NAME, sobj.name, record_id)
        return self._cache[key]

    def children(self, child: Child, parent_id: str) -> list[Row]:
        return self.db.query(NAME, child.sobject, where={child.field: parent_id})


@dataclass(frozen=True)
class _Path:
    """A field path resolved against the schema: the reference hops, then the field."""

    hops: tuple[tuple[Field, SObject], ...]
    field: Field

    def raw(self, row: Row, records: _Records) -> Any:
        current: Row | None = row
        for reference, parent in self.hops:
            parent_id = current.get(reference.name) if current else None
            current = records.get(parent, parent_id) if parent_id else None
        return current.get(self.field.name) if current else None


def _resolve(sobj: SObject, path: FieldPath) -> _Path:
    hops: list[tuple[Field, SObject]] = []
    current = sobj
    for part in path.parts[:-1]:
        reference = current.parent(part)
        if reference is None or reference.reference_to is None:
            raise SoqlError(
                f"Didn't understand relationship '{part}' in field path of {path} on entity '{current.name}'",
                "INVALID_FIELD",
            )
        parent = sobject(reference.reference_to)
        assert parent is not None, reference.reference_to
        hops.append((reference, parent))
        current = parent
    found = current.field(path.parts[-1])
    if found is None:
        raise SoqlError(f"No such column '{path.parts[-1]}' on entity '{current.name}'", "INVALID_FIELD")
    return _Path(tuple(hops), found)


def _compile(cond: Condition, sobj: SObject, records: _Records, today: date) -> Predicate:
    if isinstance(cond, BoolOp):
        items = [_compile(item, sobj, records, today) for item in cond.items]
        combine = all if cond.op == "AND" else any
        return lambda row: combine(item(row) for item in items)
    if isinstance(cond, Not):
        inner = _compile(cond.item, sobj, records, today)
        return lambda row: not inner(row)
    return _comparison(cond, sobj, records, today)


def _comparison(cond: Comparison, sobj: SObject, records: _Records, today: date) -> Predicate:
    path = _resolve(sobj, cond.field)
    field = path.field

    def value_of(row: Row) -> Any:
        return normalise(path.raw(row, records), field)

    if cond.op in ("IN", "NOT IN"):
        assert isinstance(cond.value, tuple)
        wanted_set = {literal_value(item, field) for item in cond.value}
        if any(isinstance(item, Literal) for item in wanted_set):
            raise SoqlError("relative date literals cannot be used in an IN list")
        negate = cond.op == "NOT IN"
        return lambda row: (value_of(row) in wanted_set) != negate
    assert isinstance(cond.value, Literal)
    if cond.op == "LIKE":
        if field.type not in TEXT_TYPES or cond.value.kind != "string":
            raise SoqlError(f"LIKE needs a text field and a string, not {cond.field}", "INVALID_QUERY_FILTER_OPERATOR")
        pattern = like_pattern(str(cond.value.value))
        return lambda row: (value := path.raw(row, records)) is not None and bool(pattern.match(str(value)))
    wanted = literal_value(cond.value, field)
    ordering = cond.op not in ("=", "!=")
    if ordering and (field.type == "boolean" or wanted is None):
        raise SoqlError(f"invalid operator {cond.op} on field {cond.field}", "INVALID_QUERY_FILTER_OPERATOR")
    return lambda row: compare(cond.op, value_of(row), wanted, field, today)


@dataclass(frozen=True)
class _Plan:
    """A query checked against the schema, ready to run over rows."""

    sobj: SObject
    keep: Predicate | None
    orders: tuple[tuple[_Path, Order], ...]
    limit: int | None
    fields: tuple[_Path | tuple[Child, _Plan], ...]


def _plan(query: Query, sobj: SObject, records: _Records, today: date) -> _Plan:
    fields: list[_Path | tuple[Child, _Plan]] = []
    seen: set[str] = set()
    for item in query.fields:
        label = str(item).lower() if isinstance(item, FieldPath) else item.query.sobject.lower()
        if label in seen:
            raise SoqlError(f"duplicate field selected: {label}")
        seen.add(label)
        if isinstance(item, FieldPath):
            fields.append(_resolve(sobj, item))
            continue
        child = sobj.child(item.query.sobject)
        child_type = sobject(child.sobject) if child else None
        if child is None or child_type is None:
            raise SoqlError(
                f"Didn't understand relationship '{item.query.sobject}' in FROM part of query call on '{sobj.name}'",
                "INVALID_TYPE",
            )
        fields.append((child, _plan(item.query, child_type, records, today)))
    return _Plan(
        sobj=sobj,
        keep=_compile(query.where, sobj, records, today) if query.where is not None else None,
        orders=tuple((_resolve(sobj, order.field), order) for order in query.order_by),
        limit=query.limit,
        fields=tuple(fields),
    )


def _sort(rows: list[Row], plan: _Plan, records: _Records) -> list[Row]:
    for path, order in reversed(plan.orders):

        def key(row: Row, path: _Path = path) -> Any:
            return normalise(path.raw(row, records), path.field)

        nulls = [row for row in rows if key(row) is None]
        values = sorted((row for row in rows if key(row) is not None), key=key, reverse=order.descending)
        rows = values + nulls if order.nulls_last else nulls + values
    return rows


def _attributes(sobj: SObject, record_id: str, version: str) -> dict[str, str]:
    return {"type": sobj.name, "url": record_url(sobj.name, record_id, version)}


def _project_path(out: Row, row: Row, path: _Path, records: _Records, version: str) -> None:
    target, current = out, row
    for reference, parent in path.hops:
        name = reference.relationship or reference.name
        parent_id = current.get(reference.name)
        parent_row = records.get(parent, parent_id) if parent_id else None
        if parent_row is None:
            target.setdefault(name, None)
            return
        nested = target.get(name)
        if nested is None:
            nested = target[name] = {"attributes": _attributes(parent, parent_row["Id"], version)}
        target, current = nested, parent_row
    target[path.field.name] = current.get(path.field.name)


def _run(plan: _Plan, rows: list[Row], records: _Records, version: str) -> list[Row]:
    if plan.keep is not None:
        rows = [row for row in rows if plan.keep(row)]
    rows = _sort(rows, plan, records)
    if plan.limit is not None:
        rows = rows[: plan.limit]
    shaped = []
    for row in rows:
        out: Row = {"attributes": _attributes(plan.sobj, row["Id"], version)}
        for item in plan.fields:
            if isinstance(item, _Path):
                _project_path(out, row, item, records, version)
                continue
            child, child_plan = item
            found = _run(child_plan, records.children(child, row["Id"]), records, version)
            out[child.name] = {"totalSize": len(found), "done": True, "records": found} if found else None
        shaped.append(out)
    return shaped


def execute(query: Query, db: SandboxDB, *, today: date, version: str) -> list[Row]:
    """All rows of ``query``, shaped as REST query records (``attributes`` first).

    Raises:
        SoqlError: ``INVALID_TYPE`` for an unknown object, ``INVALID_FIELD`` for unknown fields
            or mistyped literals, ``INVALID_QUERY_FILTER_OPERATOR`` for operators the field
            type does not allow.
    """
    sobj = sobject(query.sobject)
    if sobj is None:
        raise SoqlError(f"sObject type '{query.sobject}' is not supported.", "INVALID_TYPE")
    records = _Records(db)
    plan = _plan(query, sobj, records, today)
    return _run(plan, records.all(sobj), records, version)
