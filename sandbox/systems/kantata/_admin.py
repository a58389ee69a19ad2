"""Sandbox-only controls under ``/_admin/kantata`` (never faulted, no token needed).

- ``POST /time_entries/approve`` · ``/time_entries/reject`` · ``/expenses/approve`` ·
  ``/expenses/reject`` — body ``{"ids": [...]}`` and/or ``{"date": "YYYY-MM-DD"}``: approve or
  reject those line items through new submissions, as a manager would ("approve a day").
- ``POST /time_entries`` — body ``{"date", "hours", "approval"}``: one entry per participant of
  every open project on that day (default today, 8 h, submitted) — demo data for "today".
- ``POST /expenses`` — body ``{"date", "category", "amount", "approval"}``: one expense per open
  project, by its creator.
- ``GET /rate_limit`` · ``PUT /rate_limit`` — body ``{"requests", "window_s"}``; ``?scope=account_invitations``
  or ``?scope=custom_field_values`` reads or changes that endpoint's own limit instead.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, model_validator

from sandbox._db import SandboxDB
from sandbox._framework import DB, SandboxHTTPError
from sandbox.systems.kantata._approvals import EXPENSES, STATUSES, TIME, resolve, submit
from sandbox.systems.kantata._guard import API, DEFAULT_SCOPED_LIMITS, limiter, set_rate_limit
from sandbox.systems.kantata._pricing import rate_on
from sandbox.systems.kantata._store import NAME, timestamp

router = APIRouter(tags=["kantata admin"])

Approval = Literal["draft", "submitted", "approved", "rejected"]


class Selection(BaseModel):
    """Which line items to approve or reject."""

    ids: list[str] | None = None
    date: dt.date | None = None

    @model_validator(mode="after")
    def _something(self) -> Selection:
        if self.ids is None and self.date is None:
            raise ValueError('give "ids", "date" or both')
        return self


class NewTime(BaseModel):
    """Demo time for one day."""

    date: dt.date | None = None
    hours: Decimal = Field(Decimal(8), gt=0, le=24)
    approval: Approval = "submitted"


class NewExpenses(BaseModel):
    """Demo expenses for one day."""

    date: dt.date | None = None
    category: str = "Meals"
    amount: Decimal = Field(Decimal("42.50"), gt=0)
    approval: Approval = "submitted"


class RateLimit(BaseModel):
    """The API's request allowance."""

    requests: int = Field(ge=1)
    window_s: float = Field(gt=0)


def _resolve(db: SandboxDB, kind: str, selection: Selection, status: str) -> dict[str, Any]:
    return resolve(db, kind, ids=selection.ids, day=selection.date, status=status)


@router.post("/time_entries/approve")
def approve_time(selection: Selection, db: DB) -> dict[str, Any]:
    """Approve time entries by id and/or date."""
    return _resolve(db, TIME, selection, "approved")


@router.post("/time_entries/reject")
def reject_time(selection: Selection, db: DB) -> dict[str, Any]:
    """Reject time entries by id and/or date."""
    return _resolve(db, TIME, selection, "rejected")


@router.post("/expenses/approve")
def approve_expenses(selection: Selection, db: DB) -> dict[str, Any]:
    """Approve expenses by id and/or date."""
    return _resolve(db, EXPENSES, selection, "approved")


@router.post("/expenses/reject")
def reject_expenses(selection: Selection, db: DB) -> dict[str, Any]:
    """Reject expenses by id and/or date."""
    return _resolve(db, EXPENSES, selection, "rejected")


def _open_workspaces(db: SandboxDB) -> list[dict[str, Any]]:
    workspaces = db.query(NAME, "workspaces", where={"archived": False})
    if not workspaces:
        raise SandboxHTTPError(409, "conflict", "there are no open projects: seed the sandbox or create a workspace")
    return workspaces


def _finish(db: SandboxDB, kind: str, created: list[dict[str, Any]], approval: str) -> dict[str, Any]:
    if approval != "draft":
        submit(db, kind, created, STATUSES[approval])
    return {"ids": [record["id"] for record in created]}


@router.post("/time_entries")
def add_time(spec: NewTime, db: DB) -> dict[str, Any]:
    """One time entry per participant of every open project on ``date``."""
    day, now = (spec.date or dt.date.today()).isoformat(), timestamp()
    created: list[dict[str, Any]] = []
    with db.transaction():
        for workspace in _open_workspaces(db):
            stories = db.query(NAME, "stories", where={"workspace_id": workspace["id"]}, limit=1)
            for participation in db.query(NAME, "participations", where={"workspace_id": workspace["id"]}):
                role_id = participation.get("primary_role_id")
                record = {
                    "workspace_id": workspace["id"],
                    "story_id": stories[0]["id"] if stories else None,
                    "user_id": participation["user_id"],
                    "role_id": role_id,
                    "date_performed": day,
                    "time_in_minutes": int(spec.hours * 60),
                    "billable": True,
                    "rate_in_cents": rate_on(db, workspace, role_id, day),
                    "currency": workspace["currency"],
                    "notes": f"Delivery work on {workspace['title']}",
                    "approved": False,
                    "is_invoiced": False,
                    "created_at": now,
                    "updated_at": now,
                }
                created.append(db.insert(NAME, TIME, record))
        return _finish(db, TIME, created, spec.approval)


@router.post("/expenses")
def add_expenses(spec: NewExpenses, db: DB) -> dict[str, Any]:
    """One expense per open project on ``date``, by the project's creator."""
    day, now = (spec.date or dt.date.today()).isoformat(), timestamp()
    created: list[dict[str, Any]] = []
    with db.transaction():
        for workspace in _open_workspaces(db):
            record = {
                "workspace_id": workspace["id"],
                "user_id": workspace.get("creator_id") or db.query(NAME, "users", limit=1)[0]["id"],
                "date": day,
                "category": spec.category,
                "amount_in_cents": int((spec.amount * 100).to_integral_value()),
                "currency": workspace["currency"],
                "billable": True,
                "notes": f"{spec.category} - {workspace['title']}",
                "approved": False,
                "is_invoiced": False,
                "created_at": now,
                "updated_at": now,
            }
            created.append(db.insert(NAME, EXPENSES, record))
        return _finish(db, EXPENSES, created, spec.approval)


@router.get("/rate_limit")
def get_rate_limit(request: Request, db: DB, scope: str = API) -> dict[str, Any]:
    """The current request allowance and this window's count."""
    if scope != API and scope not in DEFAULT_SCOPED_LIMITS:
        raise SandboxHTTPError(400, "invalid_request", f"no rate limit scope {scope!r}")
    return limiter(request, db, scope).describe()


@router.put("/rate_limit")
def put_rate_limit(limit: RateLimit, request: Request, db: DB, scope: str = API) -> dict[str, Any]:
    """Change the request allowance of one scope (the window restarts)."""
    return set_rate_limit(request, db, limit.requests, limit.window_s, scope).describe()
