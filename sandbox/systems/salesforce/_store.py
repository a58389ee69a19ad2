"""Saving sObject records as Salesforce does: field checks, derived fields, upsert, cascade delete.

Every check happens before the first write, so a failed save changes nothing and a caller can
run several saves in one transaction (sObject Collections with ``allOrNone``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sandbox._db import SandboxDB
from sandbox.systems.salesforce._derived import derive, roll_up_amount
from sandbox.systems.salesforce._errors import SaveError
from sandbox.systems.salesforce._ids import new_id, normalise_id
from sandbox.systems.salesforce._query_ast import parse_datetime
from sandbox.systems.salesforce._schema import (
    NAME,
    NUMBER_TYPES,
    TEXT_TYPES,
    Field,
    SObject,
    record_url,
    sobject,
)

__all__ = ["SaveContext", "SaveError", "create", "delete", "find", "format_datetime", "public", "update", "upsert"]

Row = dict[str, Any]
_PUBLISHED = frozenset({"Opportunity", "Contract", "SBQQ__Quote__c"})
"""sObjects whose changes the relay publishes (Opportunity: creates and stage changes only)."""


@dataclass
class SaveContext:
    """One request's saves: the clock, the API version and the change events they cause.

    Attributes:
        events: ``(sObject, change type, record, changed field names)`` for every Opportunity
            created or whose stage changed, and every Contract or quote created or changed;
            published after the transaction commits.
    """

    db: SandboxDB
    version: str
    now: str
    events: list[tuple[str, str, Row, list[str]]] = field(default_factory=list)


def format_datetime(moment: datetime) -> str:
    """A dateTime as the REST API writes it: ``2024-05-01T09:30:00.000+0000``."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def find(db: SandboxDB, sobj: SObject, record_id: str) -> Row:
    """The stored record, or a 404 ``NOT_FOUND``."""
    full_id = normalise_id(record_id)
    record = db.get(NAME, sobj.name, full_id) if full_id else None
    if record is None:
        raise SaveError(404, "NOT_FOUND", f"The requested resource does not exist: {sobj.name} {record_id}")
    return record


def _bad_type(f: Field, value: Any, expected: str) -> SaveError:
    return SaveError(
        400, "JSON_PARSER_ERROR", f"Cannot deserialize instance of {expected} from value {value!r} for field {f.name}"
    )


def _coerce(db: SandboxDB, f: Field, value: Any) -> Any:
    if value is None:
        if f.required:
            raise SaveError(400, "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{f.name}]", (f.name,))
        return None
    if f.type in TEXT_TYPES:
        if not isinstance(value, str):
            raise _bad_type(f, value, "string")
        if f.values and value not in f.values:
            raise SaveError(
                400,
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                f"{f.name}: bad value for restricted picklist field: {value}",
                (f.name,),
            )
        return value
    if f.type in NUMBER_TYPES:
        try:
            number = Decimal(str(value)) if not isinstance(value, bool) else None
        except ArithmeticError:
            number = None
        if number is None or not number.is_finite():
            raise _bad_type(f, value, "double")
        if f.type == "int":
            if number != number.to_integral_value():
                raise _bad_type(f, value, "int")
            return int(number)
        return float(number)
    if f.type == "boolean":
        if not isinstance(value, bool):
            raise _bad_type(f, value, "boolean")
        return value
    if f.type in ("date", "datetime"):
        try:
            if f.type == "date":
                return date.fromisoformat(value).isoformat()
            return format_datetime(parse_datetime(value))
        except (TypeError, ValueError):
            raise _bad_type(f, value, f.type) from None
    return _reference(db, f, value)


def _reference(db: SandboxDB, f: Field, value: Any) -> str:
    target = sobject(f.reference_to or "")
    full_id = normalise_id(value) if isinstance(value, str) else None
    if target is None or full_id is None or not full_id.startswith(target.prefix):
        raise SaveError(400, "MALFORMED_ID", f"{f.reference_to} ID: id value of incorrect type: {value}", (f.name,))
    if db.get(NAME, target.name, full_id) is None:
        raise SaveError(400, "INVALID_CROSS_REFERENCE_KEY", f"invalid cross reference id: {value}", (f.name,))
    return full_id


def _check(db: SandboxDB, sobj: SObject, body: Row, *, creating: bool) -> Row:
    """Validate and convert the fields of a request body (``attributes`` ignored)."""
    values: Row = {}
    for name, value in body.items():
        if name == "attributes":
            continue
        f = sobj.field(name)
        if f is None:
            raise SaveError(400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {sobj.name}", (name,))
        if not (f.createable if creating else f.updateable):
            raise SaveError(
                400,
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {f.name}. Please check the security settings of this field "
                "and verify that it is read/write for your profile or permission set.",
                (f.name,),
            )
        values[f.name] = _coerce(db, f, value)
    if creating:
        missing = [f.name for f in sobj.fields if f.required and values.get(f.name) is None]
        if missing:
            raise SaveError(
                400, "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", tuple(missing)
            )
    return values


def create(ctx: SaveContext, sobj: SObject, body: Row) -> Row:
    """Insert a record and return it as stored.

    Raises:
        SaveError: The body names unknown or read-only fields, misses required ones, or breaks
            a reference or price book rule.
    """
    values = _check(ctx.db, sobj, body, creating=True)
    values.update(derive(ctx.db, sobj, {}, values, creating=True))
    if values.get("StatusCode") == "Activated":
        values["ActivatedDate"] = ctx.now
    record_id = new_id(ctx.db, sobj)
    stamps = {"CreatedDate": ctx.now, "LastModifiedDate": ctx.now, "SystemModstamp": ctx.now}
    record = ctx.db.insert(NAME, sobj.name, {"Id": record_id, **values, **stamps}, id=record_id)
    if sobj.name == "OpportunityLineItem":
        roll_up_amount(ctx.db, record["OpportunityId"], ctx.now)
    if sobj.name in _PUBLISHED:
        ctx.events.append((sobj.name, "CREATE", record, []))
    return record


def update(ctx: SaveContext, sobj: SObject, record_id: str, body: Row) -> Row:
    """Apply a partial update and return the record as stored."""
    record = find(ctx.db, sobj, record_id)
    values = _check(ctx.db, sobj, body, creating=False)
    values.update(derive(ctx.db, sobj, record, values, creating=False))
    if values.get("StatusCode") == "Activated" and record.get("StatusCode") != "Activated":
        values["ActivatedDate"] = ctx.now
    changed = [name for name, value in values.items() if record.get(name) != value]
    stamps = {"LastModifiedDate": ctx.now, "SystemModstamp": ctx.now}
    saved = ctx.db.update(NAME, sobj.name, record["Id"], {**values, **stamps})
    if sobj.name == "OpportunityLineItem":
        roll_up_amount(ctx.db, saved["OpportunityId"], ctx.now)
    if (sobj.name == "Opportunity" and "StageName" in changed) or (
        sobj.name in _PUBLISHED - {"Opportunity"} and changed
    ):
        ctx.events.append((sobj.name, "UPDATE", saved, [*changed, *stamps]))
    return saved


def upsert(ctx: SaveContext, sobj: SObject, field_name: str, value: str, body: Row) -> tuple[int, Row | list[str]]:
    """Create or update by an External ID field.

    Returns:
        ``(201, record)`` when created, ``(200, record)`` when one record matched and was
        updated, ``(300, [record URLs])`` when several records carry the value.
    """
    f = sobj.field(field_name)
    if f is None or not f.external_id:
        raise SaveError(
            404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {field_name}"
        )
    if any(name.lower() == f.name.lower() for name in body):
        raise SaveError(
            400, "INVALID_FIELD", f"The external ID field {f.name} cannot be set in the body of an upsert", (f.name,)
        )
    matches = ctx.db.query(NAME, sobj.name, where={f.name: value})
    if len(matches) > 1:
        return 300, [record_url(sobj.name, match["Id"], ctx.version) for match in matches]
    if matches:
        return 200, update(ctx, sobj, matches[0]["Id"], body)
    return 201, create(ctx, sobj, {**body, f.name: value})


def delete(ctx: SaveContext, sobj: SObject, record_id: str) -> None:
    """Delete a record and, as Salesforce does, its master-detail children."""
    record = find(ctx.db, sobj, record_id)
    for child in sobj.children:
        child_type = sobject(child.sobject)
        if child.cascade_delete and child_type is not None:
            for row in ctx.db.query(NAME, child_type.name, where={child.field: record["Id"]}):
                delete(ctx, child_type, row["Id"])
    ctx.db.delete(NAME, sobj.name, record["Id"])
    if sobj.name == "OpportunityLineItem":
        roll_up_amount(ctx.db, record["OpportunityId"], ctx.now)


def public(sobj: SObject, record: Row, version: str, fields: list[str] | None = None) -> Row:
    """A record as ``GET /sobjects`` returns it: ``attributes``, then every field (null when unset)."""
    wanted = [f for f in sobj.fields if fields is None or f.name.lower() in fields]
    return {
        "attributes": {"type": sobj.name, "url": record_url(sobj.name, record["Id"], version)},
        **{f.name: record.get(f.name) for f in wanted},
    }
