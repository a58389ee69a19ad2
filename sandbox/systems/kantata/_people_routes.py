"""The people routes that are more than the generic index/show/create/update/delete.

Research note apis-round2 §1 ("Skills, users, custom fields", "Time off, holidays, availability",
"Envelope, limits, events", "What an emulator must get right (Kantata)" 5, 7, 8, 9):

- ``POST /account_invitations`` (``{"account_invitation": {...}}`` or up to 50 under
  ``"account_invitations"``), under its own rate limit: the only way a user comes to exist. The
  sandbox accepts an invitation at once: the user is in ``/users`` (with an active
  ``account_membership``) as soon as the invitation answers. An email already on the account is a 422.
- ``PUT /account_memberships/{id}/disable``: a leaver's membership is disabled; the user and
  everything they logged stay.
- ``POST /time_off_entries`` (one, or up to 100 under ``"time_off_entries"`` [inferred limit]):
  an entry for a user-day that has one merges into it (hours added), capped at the workday.
- ``POST /custom_field_values`` (one, or up to 100), under its own rate limit for create and
  list: an upsert per (subject, field) that replaces the value and issues a new value id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from sandbox._db import SandboxDB
from sandbox._framework import DB
from sandbox.systems.kantata import _people_rules as p
from sandbox.systems.kantata._guard import guard, scoped_guard
from sandbox.systems.kantata._resources import RESOURCES, Resource
from sandbox.systems.kantata._routes import _json_body, _respond, index
from sandbox.systems.kantata._store import NAME, Problem, bad_request, not_found, timestamp
from sandbox.systems.kantata._validation import prepare_custom_value

router = APIRouter(prefix="/api/v1", dependencies=[Depends(guard)])

INVITATION_BULK_LIMIT = 50
_INVITATION_FIELDS = frozenset({
    "email_address", "full_name", "default_role_id", "permission", "bill_rate_in_cents", "cost_rate_in_cents",
    "billability_target",
})  # fmt: skip


def _failed(problems: list[Problem]) -> JSONResponse:
    return JSONResponse({"errors": [p.as_json() for p in problems]}, status_code=422)


def _payloads(body: dict[str, Any], resource: Resource, limit: int) -> list[dict[str, Any]]:
    """The objects of a single (``singular``) or bulk (plural key, 1 to ``limit``) create."""
    if isinstance(body.get(resource.singular), dict):
        return [body[resource.singular]]
    many = body.get(resource.key)
    if isinstance(many, list):
        if not 1 <= len(many) <= limit:
            raise bad_request(f"a bulk create takes 1 to {limit} {resource.key}, got {len(many)}")
        if all(isinstance(item, dict) for item in many):
            return many
    raise bad_request(f'wrap the object in "{resource.singular}" (e.g. {{"{resource.singular}": {{...}}}})')


def _bulk(
    request: Request,
    db: SandboxDB,
    resource: Resource,
    payloads: list[dict[str, Any]],
    write: Callable[[dict[str, Any], str], tuple[dict[str, Any] | None, list[Problem]]],
) -> Any:
    """Write every payload in one transaction, or none of them when one has problems."""
    now = timestamp()
    problems: list[Problem] = []
    written: list[dict[str, Any]] = []
    try:
        with db.transaction():
            for payload in payloads:
                record, found = write(payload, now)
                problems += found
                if record is not None:
                    written.append(record)
            if problems:
                raise _Rollback
    except _Rollback:
        return _failed(problems)
    unique = list({record["id"]: record for record in written}.values())
    return _respond(db, resource, unique, request)


class _Rollback(Exception):
    """Undo a bulk write that had problems."""


@router.post("/account_invitations", dependencies=[Depends(scoped_guard(p.INVITATIONS))])
@router.post("/account_invitations.json", dependencies=[Depends(scoped_guard(p.INVITATIONS))])
async def invite(request: Request, db: DB) -> Any:
    """Invite people to the account; each becomes a user with an active membership."""
    resource = RESOURCES[p.INVITATIONS]
    payloads = _payloads(await _json_body(request), resource, INVITATION_BULK_LIMIT)

    def write(payload: dict[str, Any], now: str) -> tuple[dict[str, Any] | None, list[Problem]]:
        fields = {k: v for k, v in payload.items() if k in _INVITATION_FIELDS}
        problems = p.check_invitation(db, fields)
        if problems:
            return None, problems
        user = p.add_member(db, fields, now)
        record = {**fields, "user_id": user["id"], "status": "accepted", "created_at": now, "updated_at": now}
        return db.insert(NAME, p.INVITATIONS, record), []

    return _bulk(request, db, resource, payloads, write)


@router.put("/account_memberships/{id}/disable")
@router.put("/account_memberships/{id}/disable.json")
def disable(id: str, request: Request, db: DB) -> Any:
    """Disable a member (a leaver): they can no longer sign in; their user and history stay."""
    membership = db.get(NAME, p.MEMBERSHIPS, id)
    if membership is None:
        raise not_found(p.MEMBERSHIPS, id)
    if not membership.get("disabled"):
        membership = db.update(NAME, p.MEMBERSHIPS, id, {"disabled": True, "updated_at": timestamp()})
    return _respond(db, RESOURCES[p.MEMBERSHIPS], [membership], request)


@router.post("/time_off_entries")
@router.post("/time_off_entries.json")
async def book_time_off(request: Request, db: DB) -> Any:
    """Book time off: a user-day's entries merge into one, capped at the workday."""
    resource = RESOURCES[p.TIME_OFF]
    payloads = _payloads(await _json_body(request), resource, resource.bulk_limit)

    def write(payload: dict[str, Any], now: str) -> tuple[dict[str, Any] | None, list[Problem]]:
        fields = {k: v for k, v in payload.items() if k in resource.writable}
        day, hours, problems = p.check_time_off(db, fields)
        if problems or day is None or hours is None:
            return None, problems
        where = {"user_id": fields["user_id"], "requested_date": day.isoformat()}
        existing = db.query(NAME, p.TIME_OFF, where=where, limit=1)
        already = float(existing[0]["hours"]) if existing else 0.0
        total, problems = p.capped_hours(db, fields["user_id"], day, hours + already)
        if problems:
            return None, problems
        if existing:
            return db.update(NAME, p.TIME_OFF, existing[0]["id"], {"hours": total, "updated_at": now}), []
        return db.insert(NAME, p.TIME_OFF, {**where, "hours": total, "created_at": now, "updated_at": now}), []

    return _bulk(request, db, resource, payloads, write)


_custom_values_limit = [Depends(scoped_guard("custom_field_values"))]


@router.get("/custom_field_values", dependencies=_custom_values_limit)
@router.get("/custom_field_values.json", dependencies=_custom_values_limit)
def list_custom_values(request: Request, db: DB) -> dict[str, Any]:
    """Custom field values, under their own rate limit (otherwise the generic index)."""
    return index("custom_field_values", request, db)


@router.post("/custom_field_values", dependencies=_custom_values_limit)
@router.post("/custom_field_values.json", dependencies=_custom_values_limit)
async def upsert_custom_values(request: Request, db: DB) -> Any:
    """Set custom field values: one per (subject, field), replaced by each write with a new id."""
    resource = RESOURCES["custom_field_values"]
    payloads = _payloads(await _json_body(request), resource, resource.bulk_limit)

    def write(payload: dict[str, Any], now: str) -> tuple[dict[str, Any] | None, list[Problem]]:
        fields = {k: v for k, v in payload.items() if k in resource.writable}
        where = {
            "subject_type": fields.get("subject_type"),
            "subject_id": str(fields.get("subject_id") or ""),
            "custom_field_id": str(fields.get("custom_field_id") or ""),
        }
        existing = db.query(NAME, resource.key, where=where, limit=1)
        problems = prepare_custom_value(db, fields, existing[0] if existing else None)
        if problems:
            return None, problems
        if existing:
            db.delete(NAME, resource.key, existing[0]["id"])
        created_at = existing[0]["created_at"] if existing and existing[0].get("created_at") else now
        return db.insert(NAME, resource.key, {**fields, "created_at": created_at, "updated_at": now}), []

    return _bulk(request, db, resource, payloads, write)
