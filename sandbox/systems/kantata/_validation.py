"""Validation and defaults for creates and updates, one ``prepare`` function per object type.

A ``prepare(db, body, current)`` checks a create (``current`` is None) or an update, fills the
defaults Kantata applies, and returns the problems found; the route answers them with a 422 in
Kantata's ``{"errors": [{"type": "validation", "message", "field"}]}`` shape.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from sandbox._db import SandboxDB
from sandbox.systems.kantata._budget import prepare_budget
from sandbox.systems.kantata._pricing import rate_on
from sandbox.systems.kantata._store import NAME, Problem

Prepare = Callable[[SandboxDB, dict[str, Any], dict[str, Any] | None], list[Problem]]

WORKSPACE_STATUS_ACTIVE = {"color": "green", "key": "200", "message": "Active"}
STORY_TYPES = ("task", "milestone", "deliverable", "issue")
CURRENCIES = ("USD", "GBP", "EUR", "CAD", "AUD", "JPY", "CHF", "NZD", "SEK", "DKK", "NOK", "INR", "ZAR")


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _required(body: Mapping[str, Any], fields: Mapping[str, str]) -> list[Problem]:
    return [Problem(message, name) for name, message in fields.items() if not _present(body.get(name))]


def _exists(db: SandboxDB, key: str, body: Mapping[str, Any], field_name: str, what: str) -> list[Problem]:
    value = body.get(field_name)
    if _present(value) and db.get(NAME, key, str(value)) is None:
        return [Problem(f"{what} {value} does not exist or is not visible to you", field_name)]
    return []


def _ids_as_strings(body: dict[str, Any], *names: str) -> None:
    for name in names:
        if _present(body.get(name)):
            body[name] = str(body[name])


def _non_negative_int(body: Mapping[str, Any], name: str) -> list[Problem]:
    value = body.get(name)
    if value is None:
        return []
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return [Problem(f"{name} must be a whole number of cents/minutes, zero or more (got {value!r})", name)]
    return []


def _iso_date(body: Mapping[str, Any], name: str) -> list[Problem]:
    value = body.get(name)
    if value is None:
        return []
    try:
        date.fromisoformat(str(value))
    except ValueError:
        return [Problem(f"{name} must be a date in YYYY-MM-DD format (got {value!r})", name)]
    return []


def _currency(body: Mapping[str, Any]) -> list[Problem]:
    value = body.get("currency")
    if value is not None and value not in CURRENCIES:
        return [Problem(f"currency {value!r} is not supported; use one of {', '.join(CURRENCIES)}", "currency")]
    return []


def _ends_after_start(workspace: Mapping[str, Any]) -> list[Problem]:
    start, due = workspace.get("start_date"), workspace.get("due_date")
    if not (_present(start) and _present(due)) or _iso_date(workspace, "start_date") + _iso_date(workspace, "due_date"):
        return []
    if date.fromisoformat(str(due)) < date.fromisoformat(str(start)):
        return [Problem(f"due_date {due} must not be before the start date {start}", "due_date")]
    return []


def prepare_workspace(db: SandboxDB, body: dict[str, Any], current: dict[str, Any] | None) -> list[Problem]:
    """Workspaces (projects): title and creator role are required; groups are the clients."""
    merged = {**(current or {}), **body}
    problems = _required(
        merged,
        {"title": "Please give your project a title", "creator_role": "Please select a role for this project"},
    )
    if merged.get("creator_role") not in (None, "maven", "buyer"):
        problems.append(Problem("creator_role must be 'maven' (provider) or 'buyer' (client)", "creator_role"))
    problems += _currency(body) + _iso_date(body, "start_date") + _iso_date(body, "due_date")
    problems += _ends_after_start(merged) + prepare_budget(body, current)
    groups = body.pop("workspace_group_ids", None)
    if groups is not None:
        body["_workspace_group_ids"] = [str(g) for g in groups]
        for group in body["_workspace_group_ids"]:
            problems += _exists(db, "workspace_groups", {"group": group}, "group", "Group")
    _ids_as_strings(body, "rate_card_id")
    problems += _exists(db, "rate_cards", body, "rate_card_id", "Rate card")
    if current is None:
        body.setdefault("archived", False)
        body.setdefault("status", dict(WORKSPACE_STATUS_ACTIVE))
        body.setdefault("currency", "USD")
        body.setdefault("require_time_approvals", True)
        body.setdefault("require_expense_approvals", True)
        body.setdefault("stories_are_fixed_fee_by_default", False)
    return problems


def prepare_story(db: SandboxDB, body: dict[str, Any], current: dict[str, Any] | None) -> list[Problem]:
    """Stories (tasks) belong to a workspace; ``story_type`` defaults to ``task``."""
    merged = {**(current or {}), **body}
    _ids_as_strings(body, "workspace_id", "parent_id")
    problems = _required(merged, {"title": "Please give your task a title", "workspace_id": "workspace_id is required"})
    problems += _exists(db, "workspaces", body, "workspace_id", "Project")
    if merged.get("story_type", "task") not in STORY_TYPES:
        problems.append(Problem(f"story_type must be one of {', '.join(STORY_TYPES)}", "story_type"))
    problems += _non_negative_int(body, "time_estimate_in_minutes") + _non_negative_int(
        body, "budget_estimate_in_cents"
    )
    if current is None:
        body.setdefault("story_type", "task")
        body.setdefault("state", "not started")
        body.setdefault("billable", True)
        body.setdefault("archived", False)
    return problems


def prepare_line_item(kind: str) -> Prepare:
    """Time entries and expenses: the project decides the currency; approval is read-only."""
    date_field = "date_performed" if kind == "time_entries" else "date"

    def prepare(db: SandboxDB, body: dict[str, Any], current: dict[str, Any] | None) -> list[Problem]:
        merged = {**(current or {}), **body}
        _ids_as_strings(body, "workspace_id", "story_id", "user_id", "role_id")
        required = {"workspace_id": "workspace_id is required", date_field: f"{date_field} is required"}
        if kind == "time_entries":
            required["time_in_minutes"] = "time_in_minutes is required"
        else:
            required |= {"category": "category is required", "amount_in_cents": "amount_in_cents is required"}
        problems = _required(merged, required) + _iso_date(body, date_field)
        problems += _exists(db, "workspaces", body, "workspace_id", "Project")
        problems += _exists(db, "stories", body, "story_id", "Task") + _exists(db, "users", body, "user_id", "User")
        problems += _non_negative_int(body, "time_in_minutes") + _non_negative_int(body, "amount_in_cents")
        problems += _non_negative_int(body, "rate_in_cents")
        if kind == "time_entries" and body.get("time_in_minutes") == 0:
            problems.append(Problem("time_in_minutes must be more than zero", "time_in_minutes"))
        if current is None and not problems:
            _line_item_defaults(db, kind, body)
        return problems

    return prepare


def _line_item_defaults(db: SandboxDB, kind: str, body: dict[str, Any]) -> None:
    workspace = db.get(NAME, "workspaces", body["workspace_id"]) or {}
    if not _present(body.get("user_id")):
        # Kantata defaults to the authenticated user; the emulator's API user is the first user.
        first = db.query(NAME, "users", limit=1)
        body["user_id"] = first[0]["id"] if first else None
    story = db.get(NAME, "stories", body["story_id"]) if _present(body.get("story_id")) else None
    body.setdefault("billable", story["billable"] if story else True)
    body["currency"] = workspace.get("currency", "USD")
    body.update(approved=False, is_invoiced=False, recent_submission_id=None, active_submission_id=None)
    if kind == "time_entries" and "rate_in_cents" not in body:
        # Priced from the card version in force on the entry's day (``_pricing``); an explicit rate wins.
        body["rate_in_cents"] = rate_on(db, workspace, body.get("role_id"), str(body["date_performed"]))


def _unique(
    db: SandboxDB, key: str, where: Mapping[str, Any], current: dict[str, Any] | None, problem: Problem
) -> list[Problem]:
    clash = [r for r in db.query(NAME, key, where=where) if current is None or r["id"] != current["id"]]
    return [problem] if clash else []


def prepare_user(db: SandboxDB, body: dict[str, Any], current: dict[str, Any] | None) -> list[Problem]:
    """Users: a full name and an email address unique on the account (compared case-insensitively)."""
    merged = {**(current or {}), **body}
    _ids_as_strings(body, "role_id", "manager_id")
    problems = _required(merged, {"full_name": "full_name is required", "email_address": "email_address is required"})
    if _present(body.get("email_address")):
        email = str(body["email_address"]).strip()
        if "@" not in email:
            problems.append(Problem(f"email_address {email!r} is not an email address", "email_address"))
        body["_email"] = email.lower()
        taken = Problem(f"email_address {email} is already taken by another user", "email_address")
        problems += _unique(db, "users", {"_email": body["_email"]}, current, taken)
    problems += _exists(db, "roles", body, "role_id", "Role")
    if current is None:
        body.setdefault("headline", None)
        body.setdefault("account_id", "1")
    return problems


def prepare_named(key: str, what: str, *, unique: bool = True) -> Prepare:
    """Objects known by name (roles, skills, custom fields: unique; groups: not unique)."""

    def prepare(db: SandboxDB, body: dict[str, Any], current: dict[str, Any] | None) -> list[Problem]:
        problems = _required({**(current or {}), **body}, {"name": f"{what} name is required"})
        if unique and _present(body.get("name")):
            taken = Problem(f"{what} {body['name']!r} already exists", "name")
            problems += _unique(db, key, {"name": body["name"]}, current, taken)
        return problems

    return prepare


def prepare_link(
    key: str, fields: Mapping[str, tuple[str, str]], *, unique: tuple[str, ...], extra: tuple[str, ...] = ()
) -> Prepare:
    """Join objects: every linked object must exist and the link must not exist yet."""

    def prepare(db: SandboxDB, body: dict[str, Any], current: dict[str, Any] | None) -> list[Problem]:
        merged = {**(current or {}), **body}
        _ids_as_strings(body, *fields)
        problems = _required(merged, {name: f"{name} is required" for name in (*fields, *extra)})
        for name, (target, what) in fields.items():
            problems += _exists(db, target, body, name, what)
        if current is None and not problems:
            where = {name: body[name] for name in unique}
            what = key[:-1].replace("_", " ")
            problems += _unique(db, key, where, None, Problem(f"this {what} already exists", unique[-1]))
        return problems

    return prepare


_custom_value_link = prepare_link(
    "custom_field_values",
    {"custom_field_id": ("custom_fields", "Custom field")},
    unique=("subject_type", "subject_id", "custom_field_id"),
    extra=("subject_type", "subject_id"),
)


def prepare_custom_value(db: SandboxDB, body: dict[str, Any], current: dict[str, Any] | None) -> list[Problem]:
    """Custom field values: one value per (subject, field); ``display_value`` mirrors ``value``."""
    _ids_as_strings(body, "subject_id")
    problems = _custom_value_link(db, body, current)
    if "value" in body:
        body["display_value"] = None if body["value"] is None else str(body["value"])
    return problems
