"""CRM v3 pipeline routes for deals: list, create, read and change pipelines and their stages.

Research note apis-round2 §3 ("Pipelines and stages"): lists are ``{results: [...]}`` with no
paging; a create takes ``{label, displayOrder, stages: [{label, displayOrder, metadata}]}``; a
pipeline reads as ``{id, label, displayOrder, archived, createdAt, updatedAt, stages}`` and a stage as
``{id, label, displayOrder, archived, metadata, writePermissions, createdAt, updatedAt}``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field

from sandbox._framework import DB
from sandbox.systems.hubspot._errors import HubSpotError
from sandbox.systems.hubspot._limits import HubSpotRoute, authorize
from sandbox.systems.hubspot._pipelines import (
    all_pipelines,
    new_stage,
    next_id,
    require_pipeline,
    stage_metadata,
    store_pipeline,
)
from sandbox.systems.hubspot._values import now_iso

__all__ = ["router"]

router = APIRouter(route_class=HubSpotRoute, dependencies=[Depends(authorize)])

_PIPELINES = "/crm/v3/pipelines/{object_type}"


class StageIn(BaseModel):
    """A stage in a create body."""

    model_config = ConfigDict(extra="ignore")

    label: str = Field(min_length=1)
    displayOrder: int = 0
    metadata: dict[str, Any] = {}


class PipelineIn(BaseModel):
    """``POST``/``PUT`` body: a pipeline with all its stages."""

    model_config = ConfigDict(extra="ignore")

    label: str = Field(min_length=1)
    displayOrder: int = 0
    stages: list[StageIn] = Field(min_length=1)


class PipelinePatch(BaseModel):
    """``PATCH`` body: the fields to change."""

    model_config = ConfigDict(extra="ignore")

    label: str | None = Field(None, min_length=1)
    displayOrder: int | None = None
    archived: bool | None = None


class StagePatch(BaseModel):
    """``PATCH`` body of one stage."""

    model_config = ConfigDict(extra="ignore")

    label: str | None = Field(None, min_length=1)
    displayOrder: int | None = None
    archived: bool | None = None
    metadata: dict[str, Any] | None = None


def _deals_only(object_type: str) -> None:
    if object_type != "deals":
        raise HubSpotError(
            400, "VALIDATION_ERROR", f"the sandbox emulates pipelines of deals only, not of {object_type!r}"
        )


def _unique_label(db: DB, label: str, pipeline_id: str | None = None) -> None:
    if any(p["label"] == label and p["id"] != pipeline_id for p in all_pipelines(db)):
        raise HubSpotError(409, "CONFLICT", f"A pipeline with label {label!r} already exists for deals")


@router.get(_PIPELINES)
def list_pipelines(object_type: str, db: DB, archived: bool = False) -> dict[str, Any]:
    """Every pipeline with its stages, unpaged, as HubSpot answers."""
    _deals_only(object_type)
    return {"results": all_pipelines(db, archived=archived)}


@router.post(_PIPELINES, status_code=201)
def create_pipeline(object_type: str, payload: PipelineIn, db: DB) -> dict[str, Any]:
    """A new pipeline; it and its stages get numeric ids."""
    _deals_only(object_type)
    stamp = now_iso()
    with db.transaction():
        _unique_label(db, payload.label)
        pipeline = {
            "id": next_id(db),
            "label": payload.label,
            "displayOrder": payload.displayOrder,
            "archived": False,
            "createdAt": stamp,
            "updatedAt": stamp,
            "stages": [new_stage(db, stage.model_dump(), stamp) for stage in payload.stages],
        }
        return store_pipeline(db, pipeline)


@router.get(f"{_PIPELINES}/{{pipeline_id}}")
def read_pipeline(object_type: str, pipeline_id: str, db: DB) -> dict[str, Any]:
    """One pipeline with its stages."""
    _deals_only(object_type)
    return require_pipeline(db, pipeline_id)


@router.patch(f"{_PIPELINES}/{{pipeline_id}}")
def update_pipeline(object_type: str, pipeline_id: str, payload: PipelinePatch, db: DB) -> dict[str, Any]:
    """Rename, reorder or archive a pipeline (the default one cannot be archived)."""
    _deals_only(object_type)
    with db.transaction():
        pipeline = require_pipeline(db, pipeline_id)
        changes = payload.model_dump(exclude_none=True)
        if changes.get("archived") and pipeline_id == "default":
            raise HubSpotError(400, "VALIDATION_ERROR", "the default pipeline cannot be archived")
        if "label" in changes:
            _unique_label(db, changes["label"], pipeline_id)
        if changes.get("archived"):
            changes["archivedAt"] = now_iso()
        return store_pipeline(db, {**pipeline, **changes, "updatedAt": now_iso()})


@router.delete(f"{_PIPELINES}/{{pipeline_id}}", status_code=204)
def archive_pipeline(object_type: str, pipeline_id: str, db: DB) -> Response:
    """Archive a pipeline (not the default one)."""
    update_pipeline(object_type, pipeline_id, PipelinePatch(archived=True), db)
    return Response(status_code=204)


@router.get(f"{_PIPELINES}/{{pipeline_id}}/stages")
def list_stages(object_type: str, pipeline_id: str, db: DB) -> dict[str, Any]:
    """A pipeline's stages, unpaged."""
    _deals_only(object_type)
    return {"results": require_pipeline(db, pipeline_id)["stages"]}


@router.post(f"{_PIPELINES}/{{pipeline_id}}/stages", status_code=201)
def create_stage(object_type: str, pipeline_id: str, payload: StageIn, db: DB) -> dict[str, Any]:
    """Add a stage to a pipeline."""
    _deals_only(object_type)
    with db.transaction():
        pipeline = require_pipeline(db, pipeline_id)
        stage = new_stage(db, payload.model_dump())
        store_pipeline(db, {**pipeline, "stages": [*pipeline["stages"], stage], "updatedAt": now_iso()})
    return stage


def _stage_index(pipeline: dict[str, Any], stage_id: str) -> int:
    for index, stage in enumerate(pipeline["stages"]):
        if stage["id"] == stage_id:
            return index
    raise HubSpotError(404, "OBJECT_NOT_FOUND", f"No stage with id {stage_id} in pipeline {pipeline['id']}")


@router.get(f"{_PIPELINES}/{{pipeline_id}}/stages/{{stage_id}}")
def read_stage(object_type: str, pipeline_id: str, stage_id: str, db: DB) -> dict[str, Any]:
    """One stage."""
    _deals_only(object_type)
    pipeline = require_pipeline(db, pipeline_id)
    stage: dict[str, Any] = pipeline["stages"][_stage_index(pipeline, stage_id)]
    return stage


@router.patch(f"{_PIPELINES}/{{pipeline_id}}/stages/{{stage_id}}")
def update_stage(object_type: str, pipeline_id: str, stage_id: str, payload: StagePatch, db: DB) -> dict[str, Any]:
    """Relabel, reorder, re-weight or archive a stage."""
    _deals_only(object_type)
    with db.transaction():
        pipeline = require_pipeline(db, pipeline_id)
        index = _stage_index(pipeline, stage_id)
        stage = pipeline["stages"][index]
        changes = payload.model_dump(exclude_none=True)
        if "metadata" in changes:
            changes["metadata"] = stage_metadata({**stage["metadata"], **changes["metadata"]})
        stage = {**stage, **changes, "updatedAt": now_iso()}
        stages = [*pipeline["stages"][:index], stage, *pipeline["stages"][index + 1 :]]
        store_pipeline(db, {**pipeline, "stages": stages, "updatedAt": now_iso()})
    return stage
