"""CRM v4 association routes: list a record's associations, associate, remove, read in batches.

Association types are HubSpot's fixed ones or the account's USER_DEFINED labels (``_labels``); a
listing names each with its category, id and label (``null`` for unlabelled types), as research
note apis-round2 §3 describes.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from sandbox._framework import DB
from sandbox.systems.hubspot import _store as records
from sandbox.systems.hubspot._errors import HubSpotError, body
from sandbox.systems.hubspot._labels import lookup
from sandbox.systems.hubspot._limits import HubSpotRoute, authorize
from sandbox.systems.hubspot._paging import decode_cursor, encode_cursor, page_link
from sandbox.systems.hubspot._schema import default_association
from sandbox.systems.hubspot._values import now_iso

__all__ = ["router"]

router = APIRouter(route_class=HubSpotRoute, dependencies=[Depends(authorize)])

MAX_PAGE = 500
_FROM = "/crm/v4/objects/{from_type}/{from_id}/associations"


class AssociationSpecIn(BaseModel):
    """One association type to add."""

    model_config = ConfigDict(extra="ignore")

    associationCategory: str = "HUBSPOT_DEFINED"
    associationTypeId: int


def _type(db: DB, type_id: int) -> dict[str, Any]:
    spec = lookup(db, type_id)
    if spec is None:  # a label deleted meanwhile
        return {"category": "USER_DEFINED", "typeId": type_id, "label": None}
    return {"category": spec.category, "typeId": type_id, "label": spec.label}


def _listing(db: DB, listed: list[tuple[str, list[int]]]) -> list[dict[str, Any]]:
    return [
        {"toObjectId": int(to_id), "associationTypes": [_type(db, type_id) for type_id in type_ids]}
        for to_id, type_ids in listed
        if type_ids
    ]


@router.get(f"{_FROM}/{{to_type}}")
def list_associations(
    request: Request,
    from_type: str,
    from_id: str,
    to_type: str,
    db: DB,
    limit: int = MAX_PAGE,
    after: str | None = None,
) -> dict[str, Any]:
    """A record's associated records of one type with their association types, paged."""
    source = records.object_type(from_type)
    records.object_type(to_type)
    records.require(db, source, from_id)
    offset = decode_cursor(after)
    size = max(1, min(limit, MAX_PAGE))
    listed = records.associations_of(db, from_type, from_id, to_type)
    result: dict[str, Any] = {"results": _listing(db, listed[offset : offset + size])}
    if offset + size < len(listed):
        result["paging"] = page_link(request, encode_cursor(offset + size))
    return result


@router.put(f"{_FROM}/default/{{to_type}}/{{to_id}}")
def associate_default(from_type: str, from_id: str, to_type: str, to_id: str, db: DB) -> dict[str, Any]:
    """Associate two records with the default (unlabelled) type, both directions."""
    started = now_iso()
    source, target = records.object_type(from_type), records.object_type(to_type)
    records.require(db, source, from_id)
    records.require(db, target, to_id)
    default = default_association(from_type, to_type)
    if default is None:
        raise HubSpotError(400, "VALIDATION_ERROR", f"{from_type} cannot be associated with {to_type}")
    with db.transaction():
        records.associate(db, from_type, from_id, to_type, to_id, [])
    return {
        "status": "COMPLETE",
        "results": [
            {
                "from": {"id": source_id},
                "to": {"id": target_id},
                "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id},
            }
            for source_id, target_id, type_id in (
                (from_id, to_id, default.type_id),
                (to_id, from_id, default.inverse),
            )
        ],
        "startedAt": started,
        "completedAt": now_iso(),
    }


@router.put(f"{_FROM}/{{to_type}}/{{to_id}}", status_code=201)
def associate_labelled(
    from_type: str, from_id: str, to_type: str, to_id: str, payload: list[AssociationSpecIn], db: DB
) -> dict[str, Any]:
    """Associate two records with the given types (e.g. 5: a deal's primary company): 201, as HubSpot's spec says."""
    source, target = records.object_type(from_type), records.object_type(to_type)
    records.require(db, source, from_id)
    records.require(db, target, to_id)
    types = [records.association_type(db, item.associationTypeId, from_type) for item in payload]
    if from_type == to_type and from_id == to_id:
        raise HubSpotError(400, "VALIDATION_ERROR", f"a {source.singular} cannot be associated with itself")
    if any(spec.to_type != to_type for spec in types):
        raise HubSpotError(400, "VALIDATION_ERROR", f"an associationTypeId does not lead to {to_type}")
    with db.transaction():
        records.associate(db, from_type, from_id, to_type, to_id, [spec.type_id for spec in types])
    return {
        "fromObjectTypeId": source.type_id,
        "fromObjectId": int(from_id),
        "toObjectTypeId": target.type_id,
        "toObjectId": int(to_id),
        "labels": [spec.label for spec in types if spec.label],
    }


@router.delete(f"{_FROM}/{{to_type}}/{{to_id}}", status_code=204)
def remove_association(from_type: str, from_id: str, to_type: str, to_id: str, db: DB) -> Response:
    """Remove every association between two records."""
    records.object_type(from_type)
    records.object_type(to_type)
    with db.transaction():
        records.dissociate(db, from_type, from_id, to_type, to_id)
    return Response(status_code=204)


class _ObjectId(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    id: str


class BatchReadIn(BaseModel):
    """``POST .../batch/read`` body: the records whose associations to list."""

    model_config = ConfigDict(extra="ignore")

    inputs: list[_ObjectId]


_BATCH = "/crm/v4/associations/{from_type}/{to_type}/batch"
MAX_BATCH = 1000


@router.post(f"{_BATCH}/read")
def batch_read(from_type: str, to_type: str, payload: BatchReadIn, db: DB) -> JSONResponse:
    """Several records' associations with one object type; unknown records are a 207's ``errors``."""
    source = records.object_type(from_type)
    records.object_type(to_type)
    if len(payload.inputs) > MAX_BATCH:
        raise HubSpotError(400, "VALIDATION_ERROR", f"{len(payload.inputs)} inputs: send at most {MAX_BATCH}")
    started = now_iso()
    results, missing = [], []
    for item in payload.inputs:
        if records.find(db, source, item.id) is None:
            missing.append(item.id)
            continue
        listed = _listing(db, records.associations_of(db, from_type, item.id, to_type))
        if listed:
            results.append({"from": {"id": item.id}, "to": listed})
    content: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": now_iso()}
    if missing:
        error = body(
            "OBJECT_NOT_FOUND", f"No {source.singular} with id(s) {', '.join(missing)} exist", context={"ids": missing}
        )
        content |= {"numErrors": 1, "errors": [error]}
    return JSONResponse(content, status_code=207 if missing else 200)
