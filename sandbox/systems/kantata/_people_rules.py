"""People rules: time-off merge and cap, skill and skill-membership limits, invitations, memberships.

Research note apis-round2 §1 ("Time off, holidays, availability", "Skills, users, custom fields"):

- ``time_off_entries`` ``{user_id*, requested_date*, hours*}``: entries of one user-day merge (the
  hours add up) and are capped at the user's workday; PUT changes only ``hours``. The workday is
  the user's workweek membership in force that day, else the account's workweek, else 8 hours
  Monday to Friday and none at weekends; time off on a day without working hours is a 422 [inferred].
- ``workweeks`` and ``workweek_memberships`` (``user_id``): a Sunday ``start_date`` and
  ``sunday_minutes`` … ``saturday_minutes``; reads add ``total_minutes``; ``effective_date=D`` lists
  the one in force (per user for memberships).
- ``skills`` ``{name*, max_level (1 or 5), description}``: at most 5,000 per account.
- ``skill_memberships`` ``{skill_id*, user_id*, level}``: level 1 up to the skill's ``max_level``
  (0 when not given); PUT changes only ``level``.
- Users exist only through ``account_invitations``; a user's ``account_membership`` is disabled,
  never deleted, when they leave.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sandbox._db import SandboxDB
from sandbox.systems.kantata import _validation as v
from sandbox.systems.kantata._store import NAME, Problem, bad_request

TIME_OFF = "time_off_entries"
MEMBERSHIPS = "account_memberships"
INVITATIONS = "account_invitations"
SKILLS_PER_ACCOUNT = 5000
WORKDAY_HOURS = (8.0, 8.0, 8.0, 8.0, 8.0, 0.0, 0.0)
"""The default workweek's hours, Monday first."""
PERMISSIONS = (
    "administrator", "reports_viewer_with_cost", "reports_viewer", "project_lead", "project_creator",
    "collaborator", "punch_clock",
)  # fmt: skip


def workday_hours(day: date) -> float:
    """The hours a user works on ``day`` under the account's default workweek."""
    return WORKDAY_HOURS[day.weekday()]


def _hours(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        hours = float(value)
    except ValueError:
        return None
    return hours if hours > 0 else None


def capped_hours(db: SandboxDB, user_id: str, day: date, hours: float) -> tuple[float, list[Problem]]:
    """``hours`` capped at the user's workday on ``day``; a problem when the day has no working hours."""
    workday = user_workday_hours(db, user_id, day)
    if workday == 0:
        return 0.0, [Problem(f"{day} is not a working day; time off cannot be booked on it", "requested_date")]
    return min(hours, workday), []


def check_time_off(db: SandboxDB, body: dict[str, Any]) -> tuple[date | None, float | None, list[Problem]]:
    """Validate a new time-off entry: the user exists, a date, positive hours."""
    problems = v._required(
        body,
        {
            "user_id": "user_id is required",
            "requested_date": "requested_date is required",
            "hours": "hours is required",
        },
    )
    v._ids_as_strings(body, "user_id")
    problems += v._exists(db, "users", body, "user_id", "User") + v._iso_date(body, "requested_date")
    hours = _hours(body.get("hours"))
    if body.get("hours") is not None and hours is None:
        problems.append(Problem(f"hours must be a number greater than zero (got {body.get('hours')!r})", "hours"))
    day = date.fromisoformat(str(body["requested_date"])) if not problems else None
    return day, hours, problems


def prepare_time_off(db: SandboxDB, body: dict[str, Any], current: dict[str, Any] | None) -> list[Problem]:
    """Updates only: ``hours`` (capped at the workday) is the one field that changes."""
    if current is None:
        return [Problem("time off entries are created through POST /time_off_entries", "time_off_entry")]
    for name in [name for name in body if name != "hours"]:
        del body[name]
    if "hours" not in body:
        return []
    hours = _hours(body["hours"])
    if hours is None:
        return [Problem(f"hours must be a number greater than zero (got {body['hours']!r})", "hours")]
    day = date.fromisoformat(current["requested_date"])
    body["hours"], problems = capped_hours(db, current["user_id"], day, hours)
    return problems


def prepare_skill(db: SandboxDB, body: dict[str, Any], current: dict[str, Any] | None) -> list[Problem]:
    """Skills: a unique name, ``max_level`` 1 or 5 (5 when not given), 5,000 per account."""
    problems = v.prepare_named("skills", "Skill")(db, body, current)
    if "max_level" in body and body["max_level"] not in (1, 5):
        problems.append(Problem(f"max_level must be 1 or 5 (got {body['max_level']!r})", "max_level"))
    if current is None:
        body.setdefault("max_level", 5)
        if db.count(NAME, "skills") >= SKILLS_PER_ACCOUNT:
            problems.append(Problem(f"an account holds at most {SKILLS_PER_ACCOUNT} skills", "name"))
    return problems


_skill_link = v.prepare_link(
    "skill_memberships",
    {"user_id": ("users", "User"), "skill_id": ("skills", "Skill")},
    unique=("user_id", "skill_id"),
)


def _level(db: SandboxDB, skill_id: str, level: Any) -> list[Problem]:
    skill = db.get(NAME, "skills", skill_id) or {}
    top = int(skill.get("max_level", 5))
    if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= top:
        return [Problem(f"level must be a whole number from 1 to {top} for this skill (got {level!r})", "level")]
    return []


def prepare_skill_membership(db: SandboxDB, body: dict[str, Any], current: dict[str, Any] | None) -> list[Problem]:
    """A user's skill: the user and skill exist, once per pair; PUT changes only ``level``."""
    if current is not None:
        for name in [name for name in body if name != "level"]:
            del body[name]
        return _level(db, current["skill_id"], body["level"]) if "level" in body else []
    problems = _skill_link(db, body, None)
    if problems:
        return problems
    if "level" in body:
        return _level(db, body["skill_id"], body["level"])
    body["level"] = 0
    return []


def check_invitation(db: SandboxDB, body: dict[str, Any]) -> list[Problem]:
    """An invitation: a full name, an email not yet on the account, a known permission and role."""
    problems = v._required(body, {"email_address": "email_address is required", "full_name": "full_name is required"})
    email = str(body.get("email_address") or "").strip()
    if email and "@" not in email:
        problems.append(Problem(f"email_address {email!r} is not an email address", "email_address"))
    elif email and db.query(NAME, "users", where={"_email": email.lower()}, limit=1):
        problems.append(Problem(f"{email} is already a member of this account", "email_address"))
    permission = body.setdefault("permission", "collaborator")
    if permission not in PERMISSIONS:
        problems.append(
            Problem(f"permission must be one of {', '.join(PERMISSIONS)} (got {permission!r})", "permission")
        )
    v._ids_as_strings(body, "default_role_id")
    return problems + v._exists(db, "roles", body, "default_role_id", "Role")


def add_member(db: SandboxDB, invitation: dict[str, Any], now: str) -> dict[str, Any]:
    """The invited user and their (active) account membership; acceptance is immediate in the sandbox."""
    email = str(invitation["email_address"]).strip()
    user = db.insert(
        NAME,
        "users",
        {
            "full_name": invitation["full_name"],
            "email_address": email,
            "_email": email.lower(),
            "headline": None,
            "role_id": invitation.get("default_role_id"),
            "account_id": "1",
            "created_at": now,
            "updated_at": now,
        },
    )
    membership = {"user_id": user["id"], "account_id": "1", "permission": invitation["permission"], "disabled": False}
    db.insert(NAME, MEMBERSHIPS, {**membership, "created_at": now, "updated_at": now})
    return user


WORKWEEKS = "workweeks"
WORKWEEK_MEMBERSHIPS = "workweek_memberships"
DAY_FIELDS = tuple(
    f"{name}_minutes" for name in ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
)
"""A workweek's minutes per day, Sunday first, as Kantata names them (research apis-round2 §1 [K10])."""


def prepare_workweek(db: SandboxDB, body: dict[str, Any], current: dict[str, Any] | None) -> list[Problem]:
    """Workweeks and workweek memberships: a Sunday start date, whole minutes per day (0 when not given).

    ``total_minutes`` is kept with each write; a membership's user exists and has one workweek per start date.
    """
    merged = {**(current or {}), **body}
    problems = v._required(merged, {"start_date": "start_date is required"}) + v._iso_date(body, "start_date")
    if not problems and date.fromisoformat(str(merged["start_date"])).isoweekday() != 7:
        problems.append(Problem(f"start_date {merged['start_date']} must be a Sunday", "start_date"))
    for name in DAY_FIELDS:
        problems += v._non_negative_int(body, name)
        if current is None:
            body.setdefault(name, 0)
    if "user_id" in merged:
        v._ids_as_strings(body, "user_id")
        problems += v._exists(db, "users", body, "user_id", "User")
        if current is None and not problems:
            where = {"user_id": body["user_id"], "start_date": body["start_date"]}
            taken = Problem(f"user {body['user_id']} already has a workweek from {body['start_date']}", "start_date")
            problems += v._unique(db, WORKWEEK_MEMBERSHIPS, where, None, taken)
    if not problems:
        body["total_minutes"] = sum(int({**merged, **body}.get(name) or 0) for name in DAY_FIELDS)
    return problems


def in_force(db: SandboxDB, key: str, day: date, user_id: str | None = None) -> dict[str, Any] | None:
    """The workweek (a user's membership, when ``user_id`` is given) in force on ``day``."""
    where = {"user_id": user_id} if user_id is not None else None
    started = [w for w in db.query(NAME, key, where=where) if str(w["start_date"]) <= day.isoformat()]
    return max(started, key=lambda w: str(w["start_date"])) if started else None


def user_workday_hours(db: SandboxDB, user_id: str, day: date) -> float:
    """The user's working hours on ``day``: their workweek in force, else the account's, else 8 h Monday to Friday."""
    week = in_force(db, WORKWEEK_MEMBERSHIPS, day, user_id) or in_force(db, WORKWEEKS, day)
    if week is None:
        return workday_hours(day)
    return int(week.get(DAY_FIELDS[day.isoweekday() % 7]) or 0) / 60


def workweeks_in_force(db: SandboxDB, key: str, value: str) -> list[str]:
    """Ids of the workweeks (one per user for memberships) in force on the ``effective_date`` ``value``."""
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise bad_request(f"effective_date must be a date in YYYY-MM-DD format (got {value!r})") from None
    if key == WORKWEEKS:
        week = in_force(db, WORKWEEKS, day)
        return [week["id"]] if week else []
    users = {str(w["user_id"]) for w in db.query(NAME, WORKWEEK_MEMBERSHIPS)}
    found = (in_force(db, WORKWEEK_MEMBERSHIPS, day, user) for user in sorted(users))
    return [week["id"] for week in found if week is not None]
