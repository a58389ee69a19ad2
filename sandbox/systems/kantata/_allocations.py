"""Workspace resources and their allocations: who is booked on a project, when, for how long.

Kantata's ``workspace_allocations`` (its spec, mirrored in the research sources of apis-round2 §1)
belong to a ``workspace_resource`` (a person, ``user_id``, on a workspace):
``{resource_id*, start_date*, end_date*, minutes* (over the whole range), hard, notes}``, bulk up to
200, PUT changes dates, minutes, ``hard`` and notes, DELETE 204. Listing filters: ``user_ids``,
``workspace_ids``, ``workspace_resource_ids``, ``overlaps_with_date_range=D:D``, ``type=hard|soft``.
A leaver's future allocations are ended or deleted by the client; Kantata keeps the past ones.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sandbox._db import SandboxDB
from sandbox.systems.kantata import _validation as v
from sandbox.systems.kantata._store import NAME, Problem

RESOURCES_KEY = "workspace_resources"
ALLOCATIONS = "workspace_allocations"


def prepare_workspace_resource(db: SandboxDB, body: dict[str, Any], current: dict[str, Any] | None) -> list[Problem]:
    """A resource on a workspace: the workspace exists; a named resource's user exists."""
    merged = {**(current or {}), **body}
    v._ids_as_strings(body, "workspace_id", "user_id", "role_id")
    problems = v._required(merged, {"workspace_id": "workspace_id is required"})
    problems += v._exists(db, "workspaces", body, "workspace_id", "Project") + v._exists(
        db, "users", body, "user_id", "User"
    )
    return problems + v._exists(db, "roles", body, "role_id", "Role")


def prepare_allocation(db: SandboxDB, body: dict[str, Any], current: dict[str, Any] | None) -> list[Problem]:
    """An allocation: its resource exists, the dates are in order, minutes are zero or more."""
    if current is not None:
        body.pop("resource_id", None)
    merged = {**(current or {}), **body}
    required = {
        "start_date": "start_date is required",
        "end_date": "end_date is required",
        "minutes": "minutes is required",
    }
    if current is None:
        required["resource_id"] = "resource_id is required"
    problems = v._required(merged, required) + v._iso_date(body, "start_date") + v._iso_date(body, "end_date")
    problems += v._non_negative_int(body, "minutes")
    if current is None and v._present(body.get("resource_id")):
        resource = db.get(NAME, RESOURCES_KEY, str(body["resource_id"]))
        if resource is None:
            problems.append(Problem(f"Workspace resource {body['resource_id']} does not exist", "resource_id"))
        else:
            body.update(resource_id=resource["id"], workspace_resource_id=resource["id"])
            body.update(workspace_id=resource["workspace_id"], _user_id=resource.get("user_id"))
    if not problems and date.fromisoformat(str(merged["end_date"])) < date.fromisoformat(str(merged["start_date"])):
        problems.append(
            Problem(f"end_date {merged['end_date']} is before start_date {merged['start_date']}", "end_date")
        )
    if current is None:
        body.setdefault("hard", True)
    return problems


def overlaps(low: str, high: str) -> Any:
    """A predicate: the allocation overlaps ``low..high`` (ISO dates, either may be empty)."""
    top = high or "9999-12-31"
    return lambda record: str(record.get("start_date")) <= top and str(record.get("end_date")) >= low
