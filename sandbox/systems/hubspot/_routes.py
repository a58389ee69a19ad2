"""CRM v3 object routes: list, create, search, read, update and archive."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from sandbox._db import SandboxDB
from sandbox._framework import DB
from sandbox.systems.hubspot import _store as records
from sandbox.systems.hubspot._errors import HubSpotError
from sandbox.systems.hubspot._limits import HubSpotRoute, authorize, limiter
from sandbox.systems.hubspot._paging import decode_cursor, encode_cursor, page_link, split
from sandbox.systems.hubspot._query import SearchRequest, search
from sandbox.systems.hubspot._schema import NAME, OBJECT_TYPES, ObjectType
from sandbox.systems.hubspot._values import now_iso, parse_properties
from sandbox.systems.hubspot._webhooks import events_for, publish

__all__ = ["CreateIn", "archive", "create_with_associations", "router"]

Events = list[tuple[dict[str, Any], dict[str, Any]]]

router = APIRouter(route_class=HubSpotRoute, dependencies=[Depends(authorize)])

MAX_PAGE = 100
_OBJECT = "/crm/v3/objects/{object_type}"
Listed = Annotated[list[str] | None, Query()]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class _Target(_Body):
    id: str


class _AssociationSpec(_Body):
    associationCategory: str = "HUBSPOT_DEFINED"
    associationTypeId: int


class _AssociationIn(_Body):
    to: _Target
    types: list[_AssociationSpec] = Field(min_length=1)


class CreateIn(_Body):
    """Body of a create."""

    properties: dict[str, Any] = {}
    associations: list[_AssociationIn] = []


class UpdateIn(_Body):
    """Body of an update."""

    properties: dict[str, Any]


@router.get(_OBJECT)
def list_objects(
    request: Request,
    object_type: str,
    db: DB,
    limit: int = 10,
    after: str | None = None,
    properties: Listed = None,
    associations: Listed = None,
    archived: bool = False,
) -> dict[str, Any]:
    """A page of records, oldest first; ``paging.next.after`` is absent on the last page."""
    spec = records.object_type(object_type)
    offset = decode_cursor(after)
    size = max(1, min(limit, MAX_PAGE))
    rows = db.query(NAME, spec.name, where={"_archived": archived}, offset=offset, limit=size + 1)
    result: dict[str, Any] = {
        "results": [records.public(db, spec, row, split(properties), split(associations)) for row in rows[:size]]
    }
    if len(rows) > size:
        result["paging"] = page_link(request, encode_cursor(offset + size))
    return result


def create_with_associations(db: SandboxDB, spec: ObjectType, payload: CreateIn) -> tuple[dict[str, Any], Events]:
    """Create one record and its associations (inside the caller's transaction); its creation events."""
    properties = parse_properties(spec, payload.properties)
    record = records.create(db, spec, properties)
    for association in payload.associations:
        types = [records.association_type(db, t.associationTypeId, spec.name) for t in association.types]
        target = OBJECT_TYPES[types[0].to_type]
        if records.find(db, target, association.to.id) is None:
            raise HubSpotError(
                400,
                "VALIDATION_ERROR",
                f"cannot associate {target.singular} {association.to.id}: it does not exist",
            )
        records.associate(db, spec.name, record["id"], target.name, association.to.id, [t.type_id for t in types])
    return record, events_for(db, spec.name, record["id"], "creation")


@router.post(_OBJECT, status_code=201)
def create_object(object_type: str, payload: CreateIn, db: DB) -> dict[str, Any]:
    """Create a record, with associations."""
    spec = records.object_type(object_type)
    with db.transaction():
        record, events = create_with_associations(db, spec, payload)
    publish(db, events)
    return records.public(db, spec, record, list(payload.properties))


@router.post(f"{_OBJECT}/search")
def search_objects(request: Request, object_type: str, payload: SearchRequest, db: DB) -> dict[str, Any]:
    """Search with filter groups, one sort and numeric ``after`` paging (capped at 10,000 results)."""
    spec = records.object_type(object_type)
    page, total, following = search(db, spec, payload, result_cap=limiter(request).limits.search_result_cap)
    result: dict[str, Any] = {
        "total": total,
        "results": [records.public(db, spec, row, payload.properties) for row in page],
    }
    if following is not None:
        result["paging"] = {"next": {"after": str(following)}}
    return result


@router.get(f"{_OBJECT}/{{object_id}}")
def read_object(
    object_type: str,
    object_id: str,
    db: DB,
    properties: Listed = None,
    associations: Listed = None,
    idProperty: str | None = None,
) -> dict[str, Any]:
    """One record by id (or by its unique property with ``idProperty``)."""
    spec = records.object_type(object_type)
    record = records.require(db, spec, object_id, idProperty)
    return records.public(db, spec, record, split(properties), split(associations))


@router.patch(f"{_OBJECT}/{{object_id}}")
def update_object(
    object_type: str, object_id: str, payload: UpdateIn, db: DB, idProperty: str | None = None
) -> dict[str, Any]:
    """Change property values; a subscribed change is delivered as a webhook in the background."""
    spec = records.object_type(object_type)
    properties = parse_properties(spec, payload.properties)
    with db.transaction():
        record = records.require(db, spec, object_id, idProperty)
        record, changed = records.update(db, spec, record, properties)
    if changed:
        publish(db, events_for(db, spec.name, record["id"], "propertyChange", changed))
    return records.public(db, spec, record, list(properties))


def archive(db: SandboxDB, spec: ObjectType, object_id: str) -> None:
    """Archive a record if it exists (and tell the webhook subscribers)."""
    record = records.find(db, spec, object_id)
    if record is not None:
        db.update(NAME, spec.name, record["id"], {"_archived": True, "hs_lastmodifieddate": now_iso()}, ext_key=None)
        publish(db, events_for(db, spec.name, record["id"], "deletion"))


@router.delete(f"{_OBJECT}/{{object_id}}", status_code=204)
def archive_object(object_type: str, object_id: str, db: DB) -> Response:
    """Archive a record (204 whether or not it existed, as HubSpot answers)."""
    archive(db, records.object_type(object_type), object_id)
    return Response(status_code=204)
