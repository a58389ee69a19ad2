"""CRM v3 batch routes: create, read, update, upsert and archive up to 100 records per call.

Reads, updates and upserts handle inputs one by one inside one transaction: an input HubSpot
would refuse is listed in ``errors`` (with its id in ``context`` and its ``objectWriteTraceId``)
and the others are written, which makes the answer a 207 Multi-Status instead of a 200. A batch
create is all or nothing: one refused input is a 400 and nothing is created.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from sandbox._db import SandboxDB
from sandbox._framework import DB
from sandbox.systems.hubspot import _store as records
from sandbox.systems.hubspot._errors import HubSpotError, body
from sandbox.systems.hubspot._limits import HubSpotRoute, authorize
from sandbox.systems.hubspot._routes import CreateIn, archive, create_with_associations
from sandbox.systems.hubspot._schema import ObjectType
from sandbox.systems.hubspot._values import now_iso, parse_properties
from sandbox.systems.hubspot._webhooks import events_for, publish

__all__ = ["router"]

router = APIRouter(route_class=HubSpotRoute, dependencies=[Depends(authorize)])

MAX_BATCH = 100
_BATCH = "/crm/v3/objects/{object_type}/batch"
Events = list[tuple[dict[str, Any], dict[str, Any]]]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class _ReadInput(_Body):
    id: str


class BatchReadIn(_Body):
    """Body of a batch read."""

    inputs: list[_ReadInput]
    properties: list[str] = []
    idProperty: str | None = None


class _WriteInput(_Body):
    id: str
    idProperty: str | None = None
    properties: dict[str, Any] = {}
    objectWriteTraceId: str | None = None


class BatchCreateIn(_Body):
    """Body of a batch create."""

    inputs: list[CreateIn]


class BatchArchiveIn(_Body):
    """Body of a batch archive."""

    inputs: list[_ReadInput]


class BatchWriteIn(_Body):
    """Body of a batch update or upsert."""

    inputs: list[_WriteInput]


def _respond(
    results: list[dict[str, Any]], errors: list[dict[str, Any]], started: str, status: int = 200
) -> JSONResponse:
    content: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": now_iso()}
    if errors:
        content |= {"numErrors": len(errors), "errors": errors}
    return JSONResponse(content, status_code=207 if errors else status)


def _check(inputs: list[Any], ids: list[str] | None = None) -> None:
    if len(inputs) > MAX_BATCH:
        raise HubSpotError(400, "VALIDATION_ERROR", f"{len(inputs)} inputs in one batch: send at most {MAX_BATCH}")
    duplicates = sorted({value for value in ids or [] if (ids or []).count(value) > 1})
    if duplicates:
        raise HubSpotError(400, "VALIDATION_ERROR", f"Duplicate IDs found in batch input: {duplicates}")


@router.post(f"{_BATCH}/read")
def batch_read(object_type: str, payload: BatchReadIn, db: DB) -> JSONResponse:
    """Read up to 100 records; missing ones are listed in a 207's ``errors``."""
    spec = records.object_type(object_type)
    _check(payload.inputs)
    started = now_iso()
    results, missing = [], []
    for item in payload.inputs:
        record = records.find(db, spec, item.id, payload.idProperty)
        if record is None:
            missing.append(item.id)
        else:
            results.append(records.public(db, spec, record, payload.properties))
    errors = []
    if missing:
        message = (
            f"Could not get some {spec.singular.upper()} objects, they may be deleted or not exist. "
            "Check that ids are valid."
        )
        errors.append(body("OBJECT_NOT_FOUND", message, context={"ids": missing}))
    return _respond(results, errors, started)


def _update_one(db: SandboxDB, spec: ObjectType, item: _WriteInput) -> tuple[dict[str, Any], bool, Events]:
    properties = parse_properties(spec, item.properties)
    record, changed = records.update(db, spec, records.require(db, spec, item.id, item.idProperty), properties)
    return record, False, events_for(db, spec.name, record["id"], "propertyChange", changed) if changed else []


def _upsert_one(db: SandboxDB, spec: ObjectType, item: _WriteInput) -> tuple[dict[str, Any], bool, Events]:
    assert item.idProperty is not None  # checked for the whole batch first
    properties = parse_properties(spec, item.properties)
    given = properties.get(item.idProperty)
    if given and given != item.id:
        raise HubSpotError(
            400, "VALIDATION_ERROR", f"{item.idProperty}={given!r} in properties differs from the input id {item.id!r}"
        )
    properties[item.idProperty] = item.id
    existing = records.find(db, spec, item.id, item.idProperty)
    if existing is None:
        record = records.create(db, spec, properties)
        return record, True, events_for(db, spec.name, record["id"], "creation")
    record, changed = records.update(db, spec, existing, properties)
    return record, False, events_for(db, spec.name, record["id"], "propertyChange", changed) if changed else []


def _write(db: SandboxDB, spec: ObjectType, payload: BatchWriteIn, *, upsert: bool) -> JSONResponse:
    started = now_iso()
    results, errors, pending = [], [], []
    with db.transaction():
        for item in payload.inputs:
            trace = {"objectWriteTraceId": item.objectWriteTraceId} if item.objectWriteTraceId else {}
            try:
                record, new, events = (_upsert_one if upsert else _update_one)(db, spec, item)
            except HubSpotError as exc:
                context = {"id": [item.id]} if exc.code != "OBJECT_NOT_FOUND" else {"ids": [item.id]}
                errors.append(body(exc.code, exc.message, errors=exc.errors, context=context, extra=trace))
                continue
            written = [*item.properties, *([item.idProperty] if upsert and item.idProperty else [])]
            shown = records.public(db, spec, record, written)
            results.append({**shown, **({"new": new} if upsert else {}), **trace})
            pending.extend(events)
    publish(db, pending)
    return _respond(results, errors, started)


@router.post(f"{_BATCH}/update")
def batch_update(object_type: str, payload: BatchWriteIn, db: DB) -> JSONResponse:
    """Update up to 100 records by id; missing or refused ones make it a 207."""
    spec = records.object_type(object_type)
    _check(payload.inputs, [item.id for item in payload.inputs])
    return _write(db, spec, payload, upsert=False)


@router.post(f"{_BATCH}/upsert")
def batch_upsert(object_type: str, payload: BatchWriteIn, db: DB) -> JSONResponse:
    """Create or update up to 100 records by a unique property; refused inputs make it a 207."""
    spec = records.object_type(object_type)
    _check(payload.inputs, [item.id for item in payload.inputs])
    for item in payload.inputs:
        if item.idProperty != spec.unique_property:
            raise HubSpotError(
                400,
                "VALIDATION_ERROR",
                f"idProperty {item.idProperty!r} is not a unique property of {spec.name}: use {spec.unique_property!r}",
            )
    return _write(db, spec, payload, upsert=True)


@router.post(f"{_BATCH}/create")
def batch_create(object_type: str, payload: BatchCreateIn, db: DB) -> JSONResponse:
    """Create up to 100 records (with associations), all or none: 201."""
    spec = records.object_type(object_type)
    _check(payload.inputs)
    started = now_iso()
    created, pending = [], []
    with db.transaction():
        for item in payload.inputs:
            record, events = create_with_associations(db, spec, item)
            created.append(records.public(db, spec, record, list(item.properties)))
            pending.extend(events)
    publish(db, pending)
    return _respond(created, [], started, status=201)


@router.post(f"{_BATCH}/archive", status_code=204)
def batch_archive(object_type: str, payload: BatchArchiveIn, db: DB) -> Response:
    """Archive up to 100 records by id (204 whether or not they existed)."""
    spec = records.object_type(object_type)
    _check(payload.inputs)
    for item in payload.inputs:
        archive(db, spec, item.id)
    return Response(status_code=204)
