"""CRM v4 association label routes: list, create, rename and delete the labels between two object types.

- ``GET /crm/v4/associations/{from}/{to}/labels`` — every type from→to: ``{results: [{category,
  typeId, label}]}``, unpaged (``label`` is null for HubSpot's unlabelled types).
- ``POST .../labels`` ``{label, name, inverseLabel?}`` — the new type(s), the ``label`` direction first.
- ``PUT .../labels`` ``{associationTypeId, label, inverseLabel?}`` — rename; 204.
- ``DELETE .../labels/{associationTypeId}`` — delete it and its inverse; 204.

See research note apis-round2 §3 and `_labels`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field

from sandbox._framework import DB
from sandbox.systems.hubspot import _store as records
from sandbox.systems.hubspot._labels import create_label, delete_label, types_between, update_label
from sandbox.systems.hubspot._limits import HubSpotRoute, authorize
from sandbox.systems.hubspot._schema import AssociationType

__all__ = ["router"]

router = APIRouter(route_class=HubSpotRoute, dependencies=[Depends(authorize)])

_LABELS = "/crm/v4/associations/{from_type}/{to_type}/labels"


class LabelIn(BaseModel):
    """A label to create."""

    model_config = ConfigDict(extra="ignore")

    label: str = Field(min_length=1)
    name: str = Field(min_length=1, pattern=r"^[a-z0-9_]+$")
    inverseLabel: str | None = Field(None, min_length=1)


class LabelUpdateIn(BaseModel):
    """A label to rename."""

    model_config = ConfigDict(extra="ignore")

    associationTypeId: int
    label: str = Field(min_length=1)
    inverseLabel: str | None = Field(None, min_length=1)


def _spec(spec: AssociationType) -> dict[str, Any]:
    return {"category": spec.category, "typeId": spec.type_id, "label": spec.label}


@router.get(_LABELS)
def list_labels(from_type: str, to_type: str, db: DB) -> dict[str, Any]:
    """Every association type from one object type to another."""
    records.object_type(from_type)
    records.object_type(to_type)
    return {"results": [_spec(spec) for spec in types_between(db, from_type, to_type)]}


@router.post(_LABELS)
def create(from_type: str, to_type: str, payload: LabelIn, db: DB) -> dict[str, Any]:
    """A USER_DEFINED label; paired with ``inverseLabel`` it gets one type id per direction."""
    records.object_type(from_type)
    records.object_type(to_type)
    with db.transaction():
        created = create_label(db, from_type, to_type, payload.label, payload.name, payload.inverseLabel)
    return {"results": [_spec(spec) for spec in created]}


@router.put(_LABELS, status_code=204)
def rename(from_type: str, to_type: str, payload: LabelUpdateIn, db: DB) -> Response:
    """Rename a label (and its inverse)."""
    records.object_type(from_type)
    records.object_type(to_type)
    with db.transaction():
        update_label(db, from_type, to_type, payload.associationTypeId, payload.label, payload.inverseLabel)
    return Response(status_code=204)


@router.delete(f"{_LABELS}/{{type_id}}", status_code=204)
def delete(from_type: str, to_type: str, type_id: int, db: DB) -> Response:
    """Delete a label and its inverse; the records stay associated by their other types."""
    records.object_type(from_type)
    records.object_type(to_type)
    with db.transaction():
        delete_label(db, from_type, to_type, type_id, records.ASSOCIATION)
    return Response(status_code=204)
