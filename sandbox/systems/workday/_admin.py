"""Sandbox-only controls under ``/_admin/workday`` (never faulted): HR changes and token knobs.

- ``POST /workers`` hire, ``PATCH /workers/{wid}`` change, ``POST /workers/{wid}/terminate``.
- ``POST /workers/{wid}/time-off`` add days of time off; ``POST /workers/{wid}/time-off/cancel``
  cancel days (they disappear from ``timeOffDetails``, research ``apis-round2.md`` §5).
- ``PUT /clock`` pin the clock that stamps audit log entries (``{"now": null}`` releases it).
- ``PUT /token-ttl`` lifetime of new access tokens; ``POST /expire-access-tokens``.
- ``POST /refresh-tokens`` issue one (optionally revoking the others); ``DELETE /refresh-tokens/{token}``.
"""

from __future__ import annotations

import datetime as dt
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from sandbox._auth import expire_all_tokens, revoke_token
from sandbox._db import DuplicateKey, SandboxDB
from sandbox._framework import DB, SandboxHTTPError
from sandbox.systems.workday._common import (
    CLOCK_KEY,
    NAME,
    REFRESH_TOKENS_KEY,
    TTL_KEY,
    api_root,
    audit,
    ensure_demo_credentials,
    register_refresh_token,
    workday_id,
)
from sandbox.systems.workday._render import Directory, render_worker
from sandbox.systems.workday._seed import time_off_record, worker_record

router = APIRouter(tags=["workday admin"])

_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Hire(_Strict):
    """A new worker; ``employee_id`` defaults to the next free ``E-nnnn``."""

    first_name: str = Field(min_length=1)
    last_name: str = Field(min_length=1)
    email: str = Field(pattern=_EMAIL)
    business_title: str = Field(min_length=1)
    job_profile: str = Field(min_length=1, description="The rate-card role, e.g. 'Consultant'")
    supervisory_org_id: str
    cost_center_id: str | None = Field(None, description="Defaults to the organisation's cost centre")
    location: str = Field(min_length=1)
    skills: list[str] = []
    manager_id: str | None = Field(None, description="WID; defaults to the organisation's manager")
    employee_id: str | None = None
    hire_date: date | None = None
    hourly_cost_rate: Decimal | None = Field(None, gt=0)
    currency: str | None = Field(None, min_length=3, max_length=3)


class Change(_Strict):
    """Fields to change on a worker; omitted (or null) fields stay as they are."""

    first_name: str | None = Field(None, min_length=1)
    last_name: str | None = Field(None, min_length=1)
    email: str | None = Field(None, pattern=_EMAIL)
    business_title: str | None = Field(None, min_length=1)
    job_profile: str | None = Field(None, min_length=1)
    supervisory_org_id: str | None = None
    cost_center_id: str | None = None
    location: str | None = Field(None, min_length=1)
    skills: list[str] | None = None
    manager_id: str | None = Field(None, description="WID of the new manager")
    hourly_cost_rate: Decimal | None = Field(None, gt=0)
    currency: str | None = Field(None, min_length=3, max_length=3)


class Termination(_Strict):
    """When the worker leaves (default: today)."""

    termination_date: date | None = None


class TimeOffDay(_Strict):
    """One day of time off."""

    date: dt.date
    hours: Decimal = Field(Decimal(8), gt=0, le=24)
    type: str = "Vacation"
    status: str = "Approved"


class TimeOffRequest(_Strict):
    """Days of time off to add."""

    days: list[TimeOffDay] = Field(min_length=1)


class TokenTtl(_Strict):
    """Lifetime of access tokens issued from now on."""

    seconds: int = Field(ge=1, le=86_400)


class NewRefreshToken(_Strict):
    """Whether the refresh tokens issued so far stop working."""

    revoke_existing: bool = False


def _bad(message: str) -> SandboxHTTPError:
    return SandboxHTTPError(400, "invalid_request", message)


def _rendered(request: Request, db: SandboxDB, worker: dict[str, Any]) -> dict[str, Any]:
    return render_worker(worker, Directory(db), api_root(request, "common", "v1"), today=date.today())


def _stored_worker(db: SandboxDB, wid: str) -> dict[str, Any]:
    worker = db.get(NAME, "worker", wid)
    if worker is None:
        raise SandboxHTTPError(404, "not_found", f"no worker with WID {wid!r}")
    return worker


def _check_org(db: SandboxDB, org_id: str | None, cost_center_id: str | None) -> None:
    if org_id is not None and db.get(NAME, "supervisory_organization", org_id) is None:
        known = ", ".join(o["id"] for o in db.query(NAME, "supervisory_organization"))
        raise _bad(f"unknown supervisory organization {org_id!r}; known: {known or 'none (seed the sandbox)'}")
    if cost_center_id is not None and db.get(NAME, "cost_center", cost_center_id) is None:
        known = ", ".join(c["id"] for c in db.query(NAME, "cost_center"))
        raise _bad(f"unknown cost center {cost_center_id!r}; known: {known or 'none (seed the sandbox)'}")


def _next_employee_id(db: SandboxDB) -> str:
    numbers = [int(w["employee_id"][2:]) for w in db.query(NAME, "worker") if w["employee_id"][2:].isdigit()]
    return f"E-{max(numbers, default=1000) + 1}"


@router.post("/workers", status_code=201)
def hire(request: Request, db: DB, body: Hire) -> dict[str, Any]:
    """Hire a worker: they appear in the next ``GET /workers``."""
    _check_org(db, body.supervisory_org_id, body.cost_center_id)
    org = db.get(NAME, "supervisory_organization", body.supervisory_org_id) or {}
    with db.transaction():
        employee_id = body.employee_id or _next_employee_id(db)
        record = worker_record(
            employee_id=employee_id,
            first_name=body.first_name,
            last_name=body.last_name,
            email=body.email,
            business_title=body.business_title,
            job_profile=body.job_profile,
            supervisory_org_id=body.supervisory_org_id,
            cost_center_id=body.cost_center_id or org["cost_center_id"],
            location=body.location,
            skills=body.skills,
            manager_id=body.manager_id or org.get("manager_id"),
            hire_date=body.hire_date or date.today(),
            hourly_cost_rate=body.hourly_cost_rate,
            currency=body.currency,
        )
        try:
            worker = db.insert(NAME, "worker", record, id=workday_id("worker", employee_id), ext_key=employee_id)
        except DuplicateKey:
            raise SandboxHTTPError(409, "conflict", f"employee id {employee_id!r} is already taken") from None
        audit(db, worker, "Hire Employee")
    return _rendered(request, db, worker)


@router.patch("/workers/{wid}")
def change(request: Request, db: DB, wid: str, body: Change) -> dict[str, Any]:
    """Change a worker's job, organisation, skills or contact details."""
    _stored_worker(db, wid)
    _check_org(db, body.supervisory_org_id, body.cost_center_id)
    if body.manager_id is not None:
        _stored_worker(db, body.manager_id)
    with db.transaction():
        worker = db.update(NAME, "worker", wid, body.model_dump(exclude_unset=True, exclude_none=True, mode="json"))
        audit(db, worker, "Change Job")
    return _rendered(request, db, worker)


@router.post("/workers/{wid}/terminate")
def terminate(request: Request, db: DB, wid: str, body: Termination | None = None) -> dict[str, Any]:
    """Terminate a worker: they drop out of ``GET /workers`` unless terminated workers are asked for."""
    _stored_worker(db, wid)
    when = (body.termination_date if body else None) or date.today()
    with db.transaction():
        worker = db.update(NAME, "worker", wid, {"active": False, "termination_date": when.isoformat()})
        audit(db, worker, "Terminate Employee")
    return _rendered(request, db, worker)


@router.post("/workers/{wid}/time-off", status_code=201)
def add_time_off(db: DB, wid: str, body: TimeOffRequest) -> dict[str, Any]:
    """Add approved (or other status) days of time off."""
    _stored_worker(db, wid)
    with db.transaction():
        for day in body.days:
            db.insert(NAME, "time_off", time_off_record(wid, day.date, day.hours, day.type, day.status))
    return {"worker": wid, "added": len(body.days)}


class Cancellation(_Strict):
    """Days of time off to cancel."""

    dates: list[dt.date] = Field(min_length=1)
    status: Literal["Canceled", "Denied"] = "Canceled"


class Clock(_Strict):
    """The moment the emulator says it is (with an offset), or null for wall time."""

    now: dt.datetime | None


@router.post("/workers/{wid}/time-off/cancel")
def cancel_time_off(db: DB, wid: str, body: Cancellation) -> dict[str, Any]:
    """Cancel (or deny) days of time off: ``timeOffDetails`` stops returning them."""
    _stored_worker(db, wid)
    days = [d.isoformat() for d in body.dates]
    changed = 0
    with db.transaction():
        for entry in db.query(NAME, "time_off", where={"worker_id": wid, "date": days}):
            db.update(NAME, "time_off", entry["id"], {"status": body.status})
            changed += 1
    return {"worker": wid, "changed": changed}


@router.put("/clock")
def set_clock(db: DB, body: Clock) -> dict[str, Any]:
    """Pin (or release) the clock that stamps audit log entries."""
    if body.now is None:
        db.kv_delete(NAME, CLOCK_KEY)
        return {"now": None}
    if body.now.tzinfo is None:
        raise _bad("now needs a time zone offset")
    db.kv_set(NAME, CLOCK_KEY, body.now.isoformat())
    return {"now": body.now.isoformat()}


@router.put("/token-ttl")
def set_token_ttl(db: DB, body: TokenTtl) -> dict[str, int]:
    """Set the lifetime (``expires_in``) of access tokens issued from now on."""
    db.kv_set(NAME, TTL_KEY, body.seconds)
    return {"seconds": body.seconds}


@router.post("/expire-access-tokens")
def expire_access_tokens(db: DB) -> dict[str, bool]:
    """Make every access token issued so far invalid (refresh tokens keep working)."""
    expire_all_tokens(db, NAME)
    return {"expired": True}


@router.post("/refresh-tokens", status_code=201)
def new_refresh_token(db: DB, body: NewRefreshToken | None = None) -> dict[str, Any]:
    """Issue a refresh token for the demo API client, as "Manage Refresh Tokens for Integrations" does."""
    ensure_demo_credentials(db)
    revoked = 0
    with db.transaction():
        if body is not None and body.revoke_existing:
            for token in db.kv_get(NAME, REFRESH_TOKENS_KEY, []):
                revoked += int(revoke_token(db, NAME, token))
            db.kv_set(NAME, REFRESH_TOKENS_KEY, [])
        token = register_refresh_token(db)
    return {"refresh_token": token, "revoked": revoked}


@router.delete("/refresh-tokens/{token}", status_code=204)
def revoke_refresh_token(db: DB, token: str) -> Response:
    """Revoke one refresh token; the next token request with it fails with ``invalid_grant``."""
    ensure_demo_credentials(db)
    if not revoke_token(db, NAME, token):
        raise SandboxHTTPError(404, "not_found", "no such refresh token")
    db.kv_set(NAME, REFRESH_TOKENS_KEY, [t for t in db.kv_get(NAME, REFRESH_TOKENS_KEY, []) if t != token])
    return Response(status_code=204)
