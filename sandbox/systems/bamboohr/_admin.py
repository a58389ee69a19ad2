"""Sandbox-only controls under ``/_admin/bamboohr`` (never faulted or throttled).

Hires, changes, terminations and leave go through the emulated API itself (``POST /employees``,
``POST /employees/{id}``, the ``employmentStatus`` table, ``PUT .../time_off/request``), as
BambooHR offers them; these routes set what a test needs that BambooHR configures elsewhere:

- ``PUT /clock`` pin the emulator's clock (``{"now": null}`` releases it).
- ``PUT /throttle`` rate limiting: ``{"mode": "2026"|"legacy", "limit": n, "window_s": s}``
  (§4 "Errors, limits, webhooks"; ``limit: null`` switches it off).
- ``PUT /directory-sharing`` ``{"enabled": false}`` makes the directory answer 403.
- ``POST /bulk-hire`` ``{"employees": n, "time_off_requests": m}`` hires n generated employees with m
  time off requests among them in one transaction (load tests; see `bulk_hire`): what n calls of
  ``POST /employees`` and m of ``PUT .../time_off/request`` would leave, without their HTTP cost.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from sandbox._framework import DB
from sandbox.systems.bamboohr._common import CLOCK_KEY, DIRECTORY_KEY, NAME, THROTTLE_KEY, WINDOW_KEY, now, stamp
from sandbox.systems.bamboohr._seed import bulk_hire

router = APIRouter(tags=["bamboohr admin"])


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Clock(_Strict):
    """The moment the emulator says it is (with an offset), or null for wall time."""

    now: datetime | None


class Throttle(_Strict):
    """At most ``limit`` requests per ``window_s`` seconds; over it, 429 + Retry-After or legacy 503."""

    mode: Literal["2026", "legacy"] = "2026"
    limit: int | None = Field(None, ge=0)
    window_s: float = Field(1.0, gt=0, le=3600)


class Sharing(_Strict):
    """Whether the directory is shared with API keys."""

    enabled: bool


@router.put("/clock")
def set_clock(db: DB, body: Clock) -> dict[str, Any]:
    """Pin (or release) the clock that stamps changes and decides what has started."""
    if body.now is None:
        db.kv_delete(NAME, CLOCK_KEY)
    else:
        if body.now.tzinfo is None:
            from sandbox._framework import SandboxHTTPError

            raise SandboxHTTPError(400, "invalid_request", "now needs a time zone offset")
        db.kv_set(NAME, CLOCK_KEY, body.now.isoformat())
    return {"now": None if body.now is None else body.now.isoformat()}


@router.put("/throttle")
def set_throttle(db: DB, body: Throttle) -> dict[str, Any]:
    """Configure the rate limit; the window restarts."""
    db.kv_set(NAME, THROTTLE_KEY, body.model_dump())
    db.kv_delete(NAME, WINDOW_KEY)
    return body.model_dump()


@router.put("/directory-sharing")
def set_sharing(db: DB, body: Sharing) -> dict[str, bool]:
    """Turn directory sharing on or off."""
    db.kv_set(NAME, DIRECTORY_KEY, body.enabled)
    return {"enabled": body.enabled}


class BulkHire(_Strict):
    """How many employees and time off requests to generate, around which day (default: the clock's)."""

    employees: int = Field(ge=1, le=100_000)
    time_off_requests: int = Field(0, ge=0, le=100_000)
    today: date | None = None
    days_back: int = Field(7, ge=0, le=366)
    days_ahead: int = Field(90, ge=0, le=366)


@router.post("/bulk-hire")
def post_bulk_hire(db: DB, body: BulkHire) -> dict[str, Any]:
    """Hire generated employees (``Inserted`` changes stamped with the clock, returned as ``at``) and their time off."""
    moment = now(db)
    hired = bulk_hire(
        db,
        employees=body.employees,
        time_off_requests=body.time_off_requests,
        today=body.today or moment.date(),
        moment=moment,
        days_back=body.days_back,
        days_ahead=body.days_ahead,
    )
    return {**hired, "at": stamp(moment)}
