"""Deal pipelines and their stages, and the rule that a deal's stage belongs to its pipeline.

Research note apis-round2 §3 ("Pipelines and stages", "What an emulator must get right (HubSpot)"):
every account has a pipeline with id ``default``; a pipeline's stages have internal ids that are not
their labels; a stage's ``metadata`` is a map of strings (a deal stage's ``probability`` is
``"0.2"``, ``isClosed`` is ``"true"``/``"false"``); ``writePermissions`` is always
``CRM_PERMISSIONS_ENFORCEMENT`` here, since a stage input cannot set it. Pipelines created through
the API get numeric ids, as do their stages.

The ``default`` pipeline is built in (an account always has it); once changed it is stored like any
other. Pipelines are records of kind ``pipeline`` with their stages inside.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox._db import SandboxDB
from sandbox.systems.hubspot._errors import HubSpotError
from sandbox.systems.hubspot._schema import DEAL_STAGES, NAME
from sandbox.systems.hubspot._values import InvalidValue, invalid_properties, now_iso

__all__ = [
    "DEFAULT",
    "PIPELINE",
    "all_pipelines",
    "check_deal_stage",
    "find_pipeline",
    "new_stage",
    "require_pipeline",
    "stage_metadata",
    "store_pipeline",
]

PIPELINE = "pipeline"
DEFAULT = "default"
_ACCOUNT_CREATED = "2024-01-15T09:00:00.000Z"
_ID_BASE = 75_000_000
_DEFAULT_LABELS = {
    "appointmentscheduled": ("Appointment Scheduled", "0.2", "false"),
    "qualifiedtobuy": ("Qualified To Buy", "0.4", "false"),
    "presentationscheduled": ("Presentation Scheduled", "0.6", "false"),
    "decisionmakerboughtin": ("Decision Maker Bought-In", "0.8", "false"),
    "contractsent": ("Contract Sent", "0.9", "false"),
    "closedwon": ("Closed Won", "1.0", "true"),
    "closedlost": ("Closed Lost", "0.0", "true"),
}


def _default_pipeline() -> dict[str, Any]:
    stages = [
        {
            "id": stage_id,
            "label": _DEFAULT_LABELS[stage_id][0],
            "displayOrder": order,
            "metadata": {"probability": _DEFAULT_LABELS[stage_id][1], "isClosed": _DEFAULT_LABELS[stage_id][2]},
            "archived": False,
            "createdAt": _ACCOUNT_CREATED,
            "updatedAt": _ACCOUNT_CREATED,
            "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
        }
        for order, stage_id in enumerate(DEAL_STAGES)
    ]
    return {
        "id": DEFAULT,
        "label": "Sales Pipeline",
        "displayOrder": 0,
        "archived": False,
        "createdAt": _ACCOUNT_CREATED,
        "updatedAt": _ACCOUNT_CREATED,
        "stages": stages,
    }


def all_pipelines(db: SandboxDB, *, archived: bool = False) -> list[dict[str, Any]]:
    """The account's deal pipelines by display order, the built-in default first unless it was stored."""
    stored = db.query(NAME, PIPELINE)
    listed = stored if any(p["id"] == DEFAULT for p in stored) else [_default_pipeline(), *stored]
    return sorted(
        (p for p in listed if bool(p.get("archived")) == archived), key=lambda p: (p["displayOrder"], p["id"])
    )


def find_pipeline(db: SandboxDB, pipeline_id: str) -> dict[str, Any] | None:
    """One pipeline by id (archived ones included), or None."""
    stored = db.get(NAME, PIPELINE, pipeline_id)
    if stored is None and pipeline_id == DEFAULT:
        return _default_pipeline()
    return stored


def require_pipeline(db: SandboxDB, pipeline_id: str) -> dict[str, Any]:
    """Like `find_pipeline`, but a missing pipeline is HubSpot's 404."""
    found = find_pipeline(db, pipeline_id)
    if found is None:
        raise HubSpotError(404, "OBJECT_NOT_FOUND", f"No pipeline with id {pipeline_id} exists for deals")
    return found


def store_pipeline(db: SandboxDB, pipeline: dict[str, Any]) -> dict[str, Any]:
    """Insert or replace a pipeline (the default one is stored on its first change)."""
    if db.get(NAME, PIPELINE, pipeline["id"]) is None:
        return db.insert(NAME, PIPELINE, pipeline, id=pipeline["id"])
    return db.replace(NAME, PIPELINE, pipeline["id"], pipeline)


def next_id(db: SandboxDB) -> str:
    """A new numeric pipeline or stage id, unique in the account."""
    return str(_ID_BASE + db.kv_incr(NAME, "pipeline:id"))


def stage_metadata(given: dict[str, Any] | None) -> dict[str, str]:
    """A deal stage's metadata as HubSpot keeps it: strings, ``probability`` in [0, 1] required.

    Raises:
        HubSpotError: 400 ``VALIDATION_ERROR`` for a missing or unreadable probability or isClosed.
    """
    metadata = {
        key: str(value).lower() if isinstance(value, bool) else str(value) for key, value in (given or {}).items()
    }
    probability = metadata.get("probability")
    try:
        valid = probability is not None and Decimal(0) <= Decimal(probability) <= Decimal(1)
    except InvalidOperation:
        valid = False
    if not valid:
        raise HubSpotError(
            400,
            "VALIDATION_ERROR",
            f"deal stages need metadata.probability between 0.0 and 1.0, got {probability!r}",
        )
    closed = metadata.setdefault("isClosed", "false")
    if closed not in ("true", "false"):
        raise HubSpotError(400, "VALIDATION_ERROR", f'metadata.isClosed must be "true" or "false", got {closed!r}')
    return metadata


def new_stage(db: SandboxDB, given: dict[str, Any], stamp: str | None = None) -> dict[str, Any]:
    """A stage to store from a create body ``{label, displayOrder, metadata}`` (its id is generated)."""
    stamp = stamp or now_iso()
    return {
        "id": given.get("id") or next_id(db),
        "label": given["label"],
        "displayOrder": given.get("displayOrder", 0),
        "metadata": stage_metadata(given.get("metadata")),
        "archived": False,
        "createdAt": stamp,
        "updatedAt": stamp,
        "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
    }


def check_deal_stage(db: SandboxDB, pipeline_id: str, stage_id: str | None) -> None:
    """A deal's pipeline must exist and hold its stage (HubSpot's 400 otherwise).

    Raises:
        HubSpotError: 400 ``VALIDATION_ERROR`` naming ``pipeline`` or ``dealstage``.
    """
    pipeline = find_pipeline(db, pipeline_id)
    if pipeline is None or pipeline.get("archived"):
        known = ", ".join(p["id"] for p in all_pipelines(db))
        raise invalid_properties(
            [InvalidValue("pipeline", "INVALID_OPTION", f"{pipeline_id} was not one of the allowed options: [{known}]")]
        )
    if stage_id is None:
        return
    stages = [stage["id"] for stage in pipeline["stages"] if not stage.get("archived")]
    if stage_id not in stages:
        raise invalid_properties(
            [
                InvalidValue(
                    "dealstage",
                    "INVALID_OPTION",
                    f"{stage_id} is not a stage of pipeline {pipeline_id}: use one of [{', '.join(stages)}]",
                )
            ]
        )
