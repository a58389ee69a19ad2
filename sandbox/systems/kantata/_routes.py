"""The ``/api/v1`` routes: one generic set of index/show/create/update/delete handlers.

Paths work with and without Kantata's ``.json`` suffix (``/workspaces.json`` and
``/workspaces``). Bodies wrap the object in its singular key (``{"workspace": {...}}``) or, for
bulk creates, a list under the plural key. Every answer is the normalized envelope; every error
is ``{"errors": [{"type", "message", "field"}]}``.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from sandbox._db import SandboxDB
from sandbox._framework import DB, SandboxHTTPError
from sandbox.systems.kantata import _approvals
from sandbox.systems.kantata._guard import guard
from sandbox.systems.kantata._include import include
from sandbox.systems.kantata._query import fetch_page, select
from sandbox.systems.kantata._resources import EXTERNAL_REFERENCE_RESOURCE, RESOURCES, SUBJECT_TYPES, Resource
from sandbox.systems.kantata._store import (
    EXTERNAL_REFERENCES,
    NAME,
    Problem,
    bad_request,
    envelope,
    not_found,
    timestamp,
    upsert_reference,
    validate_reference,
)

router = APIRouter(prefix="/api/v1", dependencies=[Depends(guard)])
_NOT_CREATABLE = {"users": "Kantata creates users only through POST /account_invitations"}
_NOT_DELETABLE = {"users": "disable a leaver's membership with PUT /account_memberships/{id}/disable"}


def _strip(segment: str) -> str:
    return segment.removesuffix(".json")


def _resource(name: str, *, writing: bool = False) -> Resource:
    resource = RESOURCES.get(_strip(name))
    if resource is None:
        raise SandboxHTTPError(404, "system", f"there is no /{_strip(name)} endpoint in the Kantata sandbox")
    if writing and resource.read_only:
        raise SandboxHTTPError(404, "system", f"{resource.key} cannot be written through this endpoint")
    return resource


def _failed(problems: list[Problem]) -> JSONResponse:
    return JSONResponse({"errors": [p.as_json() for p in problems]}, status_code=422)


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else {}
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise bad_request(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    return body


def _respond(db: SandboxDB, resource: Resource, records: list[dict[str, Any]], request: Request) -> dict[str, Any]:
    included = include(db, resource, records, request.query_params.get("include"))
    return envelope(resource.key, records, included=included)


@router.post("/external_references/create_or_update")
@router.post("/external_references/create_or_update.json")
async def create_or_update_reference(request: Request, db: DB) -> Any:
    """Attach (or update) an external reference on any supported object."""
    payload = (await _json_body(request)).get("external_reference")
    problems = validate_reference(payload)
    if problems or not isinstance(payload, dict):
        return _failed(problems)
    subject_type, subject_id = str(payload.get("subject_type")), str(payload.get("subject_id") or "")
    key = SUBJECT_TYPES.get(subject_type)
    if key is None:
        return _failed([Problem(f"subject_type {subject_type!r} cannot have external references", "subject_type")])
    if db.get(NAME, key, subject_id) is None:
        return _failed([Problem(f"{subject_type} {subject_id or '(none)'} does not exist", "subject_id")])
    reference = upsert_reference(db, subject_type, subject_id, payload)
    return _respond(db, EXTERNAL_REFERENCE_RESOURCE, [reference], request)


@router.put("/{name}/{id}/reject")
@router.put("/{name}/{id}/reject.json")
async def reject_submission(name: str, id: str, request: Request, db: DB) -> Any:
    """Reject a timesheet or expense report submission (see `_approvals.reject`)."""
    resource = _resource(name)
    if resource.key not in _approvals.SUBMISSIONS.values():
        raise SandboxHTTPError(404, "system", f"there is no /{resource.key}/{{id}}/reject endpoint")
    resolution = (await _json_body(request)).get("resolution") or {}
    if not isinstance(resolution, dict):
        return _failed([Problem("resolution must be an object", "resolution")])
    try:
        submission = _approvals.reject(db, resource.key, _strip(id))
    except ValueError as exc:
        return _failed([Problem(str(exc))])
    if submission is None:
        raise not_found(resource.key, _strip(id))
    return _respond(db, resource, [submission], request)


@router.get("/{name}")
def index(name: str, request: Request, db: DB) -> dict[str, Any]:
    """List objects of one type, filtered, ordered and paged."""
    resource = _resource(name)
    params = dict(request.query_params)
    if resource.key == EXTERNAL_REFERENCES and not params.get("subject_type"):
        raise bad_request("subject_type is required, e.g. subject_type=Workspace")
    records, meta = fetch_page(db, resource, select(db, resource, params), params)
    return envelope(resource.key, records, meta=meta, included=include(db, resource, records, params.get("include")))


@router.get("/{name}/{id}")
def show(name: str, id: str, request: Request, db: DB) -> dict[str, Any]:
    """One object by id; 404 when it is missing or hidden by the endpoint's default filters."""
    resource = _resource(name)
    params = {**request.query_params, "only": _strip(id)}
    if resource.key == EXTERNAL_REFERENCES:
        record = db.get(NAME, EXTERNAL_REFERENCES, _strip(id))
        records = [record] if record else []
    else:
        records, _ = fetch_page(db, resource, select(db, resource, params), {})
    if not records:
        raise not_found(resource.key, _strip(id))
    return _respond(db, resource, records, request)


def _writable(resource: Resource, payload: Any, where: str) -> tuple[dict[str, Any], Any, list[Problem]]:
    if not isinstance(payload, dict):
        return {}, None, [Problem(f"{where} must be an object", where)]
    fields = {k: v for k, v in payload.items() if k in resource.writable}
    reference = payload.get("external_reference")
    problems = validate_reference(reference) if reference is not None else []
    return fields, reference, problems


@router.post("/{name}")
async def create(name: str, request: Request, db: DB) -> Any:
    """Create one object (``{"workspace": {...}}``) or several (``{"workspaces": [...]}``)."""
    resource = _resource(name, writing=True)
    if not resource.creatable:
        raise SandboxHTTPError(
            404, "system", f"there is no POST /{resource.key} endpoint: {_NOT_CREATABLE[resource.key]}"
        )
    body = await _json_body(request)
    if resource.singular in body:
        payloads = [body[resource.singular]]
    elif resource.bulk_limit and isinstance(body.get(resource.key), list):
        payloads = body[resource.key]
        if not 1 <= len(payloads) <= resource.bulk_limit:
            raise bad_request(f"a bulk create takes 1 to {resource.bulk_limit} {resource.key}, got {len(payloads)}")
    else:
        raise bad_request(f'wrap the object in "{resource.singular}" (e.g. {{"{resource.singular}": {{...}}}})')
    now = timestamp()
    created: list[dict[str, Any]] = []
    with db.transaction():
        prepared = []
        problems: list[Problem] = []
        for payload in payloads:
            fields, reference, found = _writable(resource, payload, resource.singular)
            if not found and resource.prepare is not None:
                found = resource.prepare(db, fields, None)
            problems += found
            prepared.append((fields, reference))
        if problems:
            return _failed(problems)
        for fields, reference in prepared:
            record = db.insert(NAME, resource.key, {**fields, "created_at": now, "updated_at": now})
            if resource.created is not None:
                resource.created(db, record)
            if reference is not None:
                upsert_reference(db, resource.subject_type, record["id"], reference)
            created.append(record)
    return _respond(db, resource, created, request)


@router.put("/{name}/{id}")
async def update(name: str, id: str, request: Request, db: DB) -> Any:
    """Change some fields of one object (``{"workspace": {"archived": true}}``)."""
    resource = _resource(name, writing=True)
    current = db.get(NAME, resource.key, _strip(id))
    if current is None:
        raise not_found(resource.key, _strip(id))
    body = await _json_body(request)
    fields, reference, problems = _writable(resource, body.get(resource.singular), resource.singular)
    if not problems and resource.prepare is not None:
        problems = resource.prepare(db, fields, current)
    if problems:
        return _failed(problems)
    with db.transaction():
        record = db.update(NAME, resource.key, current["id"], {**fields, "updated_at": timestamp()})
        if reference is not None:
            upsert_reference(db, resource.subject_type, record["id"], reference)
    return _respond(db, resource, [record], request)


@router.delete("/{name}/{id}", status_code=204)
def delete(name: str, id: str, db: DB) -> Response:
    """Delete one object (and the external references and custom field values on it)."""
    resource = _resource(name, writing=_strip(name) != EXTERNAL_REFERENCES)
    if not resource.deletable:
        raise SandboxHTTPError(
            404, "system", f"there is no DELETE /{resource.key} endpoint: {_NOT_DELETABLE[resource.key]}"
        )
    with db.transaction():
        if not db.delete(NAME, resource.key, _strip(id)):
            raise not_found(resource.key, _strip(id))
        for kind in (EXTERNAL_REFERENCES, "custom_field_values"):
            db.delete_where(NAME, kind, where={"subject_type": resource.subject_type, "subject_id": _strip(id)})
    return Response(status_code=204)
