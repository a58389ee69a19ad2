"""Timesheet and expense report submissions: how time entries and expenses get approved.

In Kantata a time entry is approved through the weekly timesheet submission it is on (one
project per submission); expenses likewise through expense report submissions. A line item
records its most recent submission (``recent_submission_id``, whatever its status) and its
active one (``active_submission_id``: pending or approved). Its ``approved`` flag follows.
The seed and the admin routes use these helpers; the public API reads submissions and rejects them
(`reject`, ``PUT /timesheet_submissions/{id}/reject``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sandbox._db import SandboxDB
from sandbox.systems.kantata._store import NAME, timestamp

TIME = "time_entries"
EXPENSES = "expenses"
SUBMISSIONS = {TIME: "timesheet_submissions", EXPENSES: "expense_report_submissions"}
DATE_FIELDS = {TIME: "date_performed", EXPENSES: "date"}
STATUSES = {"approved": "approved", "submitted": "pending", "rejected": "rejected"}
"""Canonical approval state → submission status (a draft has no submission)."""


def _week(day: date) -> tuple[date, date]:
    start = day - timedelta(days=day.weekday())
    return start, start + timedelta(days=6)


def submit(
    db: SandboxDB,
    kind: str,
    items: Iterable[dict[str, Any]],
    status: str,
    *,
    backdated: bool = False,
) -> list[str]:
    """Put line items on new submissions with ``status``, one per (user, project, week).

    Args:
        db: The sandbox database.
        kind: ``"time_entries"`` or ``"expenses"``.
        items: The stored line items.
        status: ``"pending"``, ``"approved"`` or ``"rejected"``.
        backdated: Date each approval or rejection the evening of the week's last item (the
            seed's history) instead of now.

    Returns:
        The ids of the submissions created.
    """
    groups: dict[tuple[str, str, date], list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        day = date.fromisoformat(item[DATE_FIELDS[kind]])
        groups[(str(item["user_id"]), str(item["workspace_id"]), _week(day)[0])].append(item)
    created: list[str] = []
    for (user_id, workspace_id, week_start), members in sorted(groups.items()):
        last = max(date.fromisoformat(m[DATE_FIELDS[kind]]) for m in members)
        resolved_at = datetime.combine(last, time(19), UTC) if backdated else None
        resolution = None if status == "pending" else timestamp(resolved_at)
        stamp = resolution or timestamp()
        workspace = db.get(NAME, "workspaces", workspace_id) or {}
        submission = db.insert(
            NAME,
            SUBMISSIONS[kind],
            {
                "type": "TimesheetSubmission" if kind == TIME else "ExpenseReportSubmission",
                "title": f"{'Timesheet' if kind == TIME else 'Expense report'} for week of {week_start.isoformat()}",
                "status": status,
                "user_id": user_id,
                "workspace_id": workspace_id,
                "start_date": week_start.isoformat(),
                "end_date": _week(week_start)[1].isoformat(),
                "currency": workspace.get("currency", "USD"),
                "current_resolution_created_at_date": resolution,
                "created_at": stamp,
                "updated_at": stamp,
            },
        )
        created.append(submission["id"])
        changes = {
            "approved": status == "approved",
            "recent_submission_id": submission["id"],
            "active_submission_id": submission["id"] if status != "rejected" else None,
            "updated_at": stamp,
        }
        for member in members:
            db.update(NAME, kind, member["id"], changes)
    return created


def resolve(db: SandboxDB, kind: str, *, ids: list[str] | None, day: date | None, status: str) -> dict[str, Any]:
    """Approve or reject line items chosen by id or by date (the admin's "approve a day").

    Items already in the requested state are left alone, so repeating a call changes nothing.
    """
    where: dict[str, Any] = {}
    if ids is not None:
        where["id"] = [str(i) for i in ids]
    if day is not None:
        where[DATE_FIELDS[kind]] = day.isoformat()
    with db.transaction():
        candidates = db.query(NAME, kind, where=where)
        pending = [item for item in candidates if _status_of(db, kind, item) != status]
        submissions = submit(db, kind, pending, status)
    return {"changed": [item["id"] for item in pending], "submission_ids": submissions}


def _status_of(db: SandboxDB, kind: str, item: dict[str, Any]) -> str | None:
    submission_id = item.get("recent_submission_id")
    if submission_id is None:
        return None
    submission = db.get(NAME, SUBMISSIONS[kind], str(submission_id))
    return None if submission is None else submission["status"]


def reject(db: SandboxDB, key: str, submission_id: str) -> dict[str, Any] | None:
    """Reject a pending or approved submission; its line items are no longer approved.

    ``PUT /timesheet_submissions/{id}/reject`` (and ``/expense_report_submissions/{id}/reject``),
    body ``{"resolution": {"description": ...}}``, answers the submission (research note saas-apis.md
    §5a "Objects & fields": approval through ``timesheet_submissions`` with ``/cancel`` and ``/reject``).
    Rejecting an approved submission is how an approver takes an approval back [inferred: Kantata's
    reference documents the endpoint, not which statuses it accepts]. A rejection is recorded as the
    submission's current resolution (the description is not kept: the emulator has no resolution
    objects); its items keep it as their most recent submission and lose
    their active one, as a rejection by `submit` leaves them.

    Returns:
        The updated submission, or None when it does not exist.

    Raises:
        ValueError: The submission is already rejected or cancelled (the message says which).
    """
    kind = next(kind for kind, submissions in SUBMISSIONS.items() if submissions == key)
    with db.transaction():
        submission = db.get(NAME, key, submission_id)
        if submission is None:
            return None
        if submission["status"] not in ("pending", "approved"):
            status = submission["status"]
            raise ValueError(f"submission {submission_id} is {status}: only a pending or approved one can be rejected")
        stamp = timestamp()
        changes = {"status": "rejected", "current_resolution_created_at_date": stamp, "updated_at": stamp}
        updated = db.update(NAME, key, submission_id, changes)
        items = db.query(NAME, kind, where={"recent_submission_id": submission_id})
        for item in items:
            db.update(NAME, kind, item["id"], {"approved": False, "active_submission_id": None, "updated_at": stamp})
    return updated
