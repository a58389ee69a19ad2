"""Pure BambooHR ↔ canonical mapping: employees to `Consultant`, time off requests to `TimeOff`.

Research: ``apis-round2.md`` §4 (BambooHR). A canonical worker id is ``bamboohr:<employee id>``.
Ids may come as numbers or strings (§4 "Time off": "accept both").
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from canonical import Consultant, SystemName, SystemRef, TimeOff, TimeOffStatus
from connectors._core import own_id

__all__ = [
    "EMPLOYEE_FIELDS",
    "STATUSES",
    "canonical_id",
    "consultant_from_employee",
    "employee_id_of",
    "time_off_from_request",
]

PREFIX = f"{SystemName.BAMBOOHR.value}:"
EMPLOYEE_FIELDS = (
    "employeeNumber",
    "firstName",
    "lastName",
    "displayName",
    "workEmail",
    "jobTitle",
    "department",
    "location",
    "supervisorEId",
    "hireDate",
    "terminationDate",
    "status",
)
STATUSES = {
    "approved": TimeOffStatus.APPROVED,
    "requested": TimeOffStatus.REQUESTED,
    "denied": TimeOffStatus.DENIED,
    "declined": TimeOffStatus.DENIED,
    "canceled": TimeOffStatus.CANCELLED,
    "cancelled": TimeOffStatus.CANCELLED,
    "superceded": TimeOffStatus.SUPERSEDED,  # BambooHR's spelling (§4 "Time off")
    "superseded": TimeOffStatus.SUPERSEDED,
}


def canonical_id(employee_id: Any) -> str:
    """``bamboohr:<id>``."""
    return f"{PREFIX}{employee_id}"


def employee_id_of(worker_id: str) -> str:
    """The BambooHR employee id from an id or a ``bamboohr:<id>`` canonical id.

    Raises:
        ValueError: Empty, or a canonical id of another system.
    """
    return own_id(worker_id, prefix=PREFIX, kind="BambooHR employee id", expected="'<id>' or 'bamboohr:<id>'")


def _text(value: Any) -> str | None:
    return None if value is None or str(value).strip() == "" else str(value).strip()


def _date(value: Any) -> date | None:
    text = _text(value)
    # BambooHR writes an unset date as 0000-00-00.
    return None if text is None or text.startswith("0000") else date.fromisoformat(text[:10])


def _hours(value: Any) -> Decimal | None:
    text = _text(value)
    if text is None:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ValueError(f"standard hours {text!r} is not a number") from None


def consultant_from_employee(
    body: Mapping[str, Any],
    *,
    cost_centre_field: str = "customCostCentre",
    skills_field: str = "customSkills",
    standard_hours_field: str = "customStandardHoursPerWeek",
    role_field: str = "customRole",
) -> Consultant:
    """An employee (``GET /employees/{id}?fields=`` or a ``GET /employees`` item) as a consultant.

    Raises:
        ValueError: No work email, or a field that does not map (the message names the employee).
    """
    emp_id = str(body["id"])
    name = _text(body.get("displayName")) or " ".join(
        p for p in (_text(body.get("firstName")), _text(body.get("lastName"))) if p
    )
    try:
        if not _text(body.get("workEmail")):
            raise ValueError("it has no work email")
        skills = tuple(
            s.strip() for s in (_text(body.get(skills_field)) or "").replace(",", ";").split(";") if s.strip()
        )
        manager = _text(body.get("supervisorEId"))
        return Consultant(
            id=canonical_id(emp_id),
            employee_id=_text(body.get("employeeNumber")) or emp_id,
            name=name or emp_id,
            email=str(body["workEmail"]).strip(),
            title=_text(body.get("jobTitle")),
            role=_text(body.get(role_field)),
            cost_centre=_text(body.get(cost_centre_field)),
            location=_text(body.get("location")),
            skills=skills,
            active=(_text(body.get("status")) or "Active").lower() == "active",
            source=SystemRef(system=SystemName.BAMBOOHR, id=emp_id),
            manager_id=canonical_id(manager) if manager else None,
            standard_hours_per_week=_hours(body.get(standard_hours_field)),
            hire_date=_date(body.get("hireDate")),
            termination_date=_date(body.get("terminationDate")),
        )
    except ValueError as exc:
        raise ValueError(f"employee {emp_id} ({name or 'no name'}) cannot be mapped to a consultant: {exc}") from exc


def time_off_from_request(body: Mapping[str, Any]) -> TimeOff:
    """A ``GET /time_off/requests`` item as canonical `TimeOff` (§4 "Time off" item fields).

    Raises:
        ValueError: An unknown status or inconsistent dates.
    """
    raw_status = str((body.get("status") or {}).get("status", "")).lower()
    if raw_status not in STATUSES:
        raise ValueError(f"time off request {body.get('id')} has an unknown status {raw_status!r}")
    dates = {date.fromisoformat(day): Decimal(str(amount)) for day, amount in (body.get("dates") or {}).items()}
    return TimeOff(
        id=f"{PREFIX}{body['id']}",
        worker_id=canonical_id(body["employeeId"]),
        start=date.fromisoformat(str(body["start"])),
        end=date.fromisoformat(str(body["end"])),
        hours_by_day=dates,
        status=STATUSES[raw_status],
        kind=_text((body.get("type") or {}).get("name")),
        source=SystemRef(system=SystemName.BAMBOOHR, id=str(body["id"])),
    )
