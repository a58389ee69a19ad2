"""The demo firm as BambooHR holds it: one employee per consultant, their time off, and the change log.

Research: ``apis-round2.md`` §4 (BambooHR). Stored records (what the API renders, in BambooHR's
field names):

- ``employee`` (id = BambooHR's numeric employee id, ext key = ``employeeNumber`` such as ``E-1001``,
  the same number the Workday seed uses): ``firstName``, ``lastName``, ``workEmail``, ``jobTitle``,
  ``department``, ``division``, ``location``, ``supervisorEId`` (the manager's employee id),
  ``hireDate``, ``terminationDate``, ``status`` (``Active``/``Inactive``), ``lastChanged`` and the
  account's custom fields ``customRole``, ``customCostCentre``, ``customSkills`` (``"a; b"``) and
  ``customStandardHoursPerWeek`` (BambooHR has no standard fields for these; a firm adds them).
- ``time_off_request``: see `time_off_record`.
- ``holiday``: ``name``, ``start``, ``end`` (1 January and 25 December of the anchor's year and the next).
- ``change``: ``employee_id``, ``action`` (``Inserted|Updated|Deleted``), ``at`` — what
  ``GET /employees/changed`` reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sandbox._db import SandboxDB
from sandbox.seed import DemoFirm
from sandbox.systems.bamboohr._common import NAME, stamp

TIME_OFF_TYPES = {"Vacation": "77", "Sick": "78", "Personal": "79"}
"""Time off type ids of the sandbox account (``/meta/time_off/types``)."""


def employee_record(
    *,
    employee_number: str,
    first_name: str,
    last_name: str,
    email: str,
    job_title: str,
    role: str,
    department: str,
    cost_centre: str,
    location: str,
    skills: list[str] | tuple[str, ...],
    supervisor_id: str | None,
    hire_date: date,
    standard_hours: Decimal | None,
) -> dict[str, Any]:
    """The stored form of an active employee."""
    return {
        "employeeNumber": employee_number,
        "firstName": first_name,
        "lastName": last_name,
        "displayName": f"{first_name} {last_name}",
        "workEmail": email,
        "jobTitle": job_title,
        "department": department,
        "division": cost_centre.rsplit("-", 1)[-1],
        "location": location,
        "supervisorEId": supervisor_id,
        "hireDate": hire_date.isoformat(),
        "terminationDate": None,
        "status": "Active",
        "customRole": role,
        "customCostCentre": cost_centre,
        "customSkills": "; ".join(skills),
        "customStandardHoursPerWeek": None if standard_hours is None else str(standard_hours),
        "lastChanged": None,
    }


def time_off_record(
    employee: Mapping[str, Any],
    *,
    start: date,
    end: date,
    dates: Mapping[date, Decimal],
    kind: str,
    status: str,
    changed: str,
    note: str | None = None,
) -> dict[str, Any]:
    """A time off request in the shape ``GET /time_off/requests`` returns (§4 "Time off" item fields)."""
    type_id = TIME_OFF_TYPES.get(kind, "77")
    return {
        "employeeId": employee["id"],
        "name": employee["displayName"],
        "start": start.isoformat(),
        "end": end.isoformat(),
        "created": changed[:10],
        "status": {"status": status, "lastChanged": changed[:10], "lastChangedByUserId": "1"},
        "type": {"id": type_id, "name": kind, "icon": "palm-trees"},
        "amount": {"unit": "hours", "amount": str(sum(dates.values(), Decimal(0)))},
        "actions": {"view": True, "edit": True, "cancel": True, "approve": True, "deny": True, "bypass": True},
        "dates": {day.isoformat(): str(hours) for day, hours in sorted(dates.items())},
        "notes": {"employee": note} if note else {},
    }


def seed(db: SandboxDB, firm: DemoFirm) -> None:
    """Write every consultant of the demo firm as an employee, with their approved time off."""
    moment = stamp(datetime.combine(firm.today, time(0), tzinfo=UTC))
    for year in (firm.today.year, firm.today.year + 1):
        for holiday, name in ((date(year, 1, 1), "New Year's Day"), (date(year, 12, 25), "Christmas Day")):
            db.insert(NAME, "holiday", {"name": name, "start": holiday.isoformat(), "end": holiday.isoformat()})
    ids = {c.employee_id: str(n) for n, c in enumerate(firm.consultants, start=1)}
    for person in firm.consultants:
        record = employee_record(
            employee_number=person.employee_id,
            first_name=person.first_name,
            last_name=person.last_name,
            email=person.email,
            job_title=person.title,
            role=person.grade,
            department=person.practice,
            cost_centre=person.cost_centre,
            location=person.location,
            skills=person.skills,
            supervisor_id=ids[person.manager_id] if person.manager_id else None,
            hire_date=person.hire_date,
            standard_hours=person.weekly_hours,
        )
        record["lastChanged"] = moment
        employee = db.insert(NAME, "employee", record, id=ids[person.employee_id], ext_key=person.employee_id)
        db.insert(NAME, "change", {"employee_id": employee["id"], "action": "Inserted", "at": moment})
        for day in person.time_off:
            body = time_off_record(
                employee,
                start=day.day,
                end=day.day,
                dates={day.day: day.hours},
                kind=day.type,
                status="approved",
                changed=moment,
            )
            db.insert(NAME, "time_off_request", body)


BULK_PREFIX = "B-"
"""Employee numbers of bulk-hired employees (``B-000001``...), apart from the demo firm's ``E-1001``..."""
_BULK_FIRST = ("Ada", "Ben", "Chloe", "Dev", "Elif", "Femi", "Greta", "Hiro", "Ines", "Jonas", "Kira", "Luca")
_BULK_LAST = ("Moreau", "Novak", "Okafor", "Patel", "Quinn", "Rossi", "Sato", "Tanaka", "Ueda", "Vargas", "Weber")
_FALLBACK_TEMPLATE: dict[str, Any] = {
    "jobTitle": "Consultant",
    "customRole": "Consultant",
    "department": "Strategy",
    "customCostCentre": "CC-100-STR",
    "location": "London",
    "customSkills": "Strategy; Analytics",
}
_TEMPLATE_FIELDS = tuple(_FALLBACK_TEMPLATE)


def _business_days(first: date, count: int) -> list[date]:
    days: list[date] = []
    day = first
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def bulk_hire(
    db: SandboxDB,
    *,
    employees: int,
    time_off_requests: int,
    today: date,
    moment: datetime,
    days_back: int = 7,
    days_ahead: int = 90,
) -> dict[str, int]:
    """Hire ``employees`` generated employees with ``time_off_requests`` requests among them, in one transaction.

    For load tests (a 10k-worker resource sync): titles, roles, departments, cost centres,
    locations and skills cycle through the employees already stored (the demo firm's), so the
    PSA knows them; numbers continue after the last bulk hire (``B-000001``...), emails are
    ``<first>.<last>.<n>@bulk.psflow.example``; every 5th reports to the bulk hire 4 before it,
    every 7th works 32 hours a week (else 40). Each is an ``Inserted`` change at ``moment``.

    Time off falls between ``today - days_back`` and ``today + days_ahead``, one to five business
    days of 8 hours (every 4th request half days), spread evenly over the new employees: 17 in
    20 are approved, 2 requested and 1 cancelled (BambooHR keeps cancelled requests, §4 "Time off").
    """
    stamp_ = stamp(moment)
    templates: list[Mapping[str, Any]] = [
        {field: row.get(field) for field in _TEMPLATE_FIELDS}
        for row in db.query(NAME, "employee", where={"status": "Active"})
        if row.get("customCostCentre")
    ] or [_FALLBACK_TEMPLATE]
    done = sum(1 for _ in db.query(NAME, "employee", predicate=_is_bulk))
    span = days_back + days_ahead + 1
    new: list[dict[str, Any]] = []
    with db.transaction():
        for index in range(employees):
            n = done + index + 1
            template = templates[n % len(templates)]
            first, last = _BULK_FIRST[n % len(_BULK_FIRST)], _BULK_LAST[(n // len(_BULK_FIRST)) % len(_BULK_LAST)]
            record = employee_record(
                employee_number=f"{BULK_PREFIX}{n:06d}",
                first_name=first,
                last_name=f"{last} {n}",
                email=f"{first}.{last}.{n}@bulk.psflow.example".lower(),
                job_title=str(template["jobTitle"]),
                role=str(template["customRole"]),
                department=str(template["department"]),
                cost_centre=str(template["customCostCentre"]),
                location=str(template["location"]),
                skills=[s.strip() for s in str(template["customSkills"] or "").split(";") if s.strip()],
                supervisor_id=new[index - 4]["id"] if index >= 4 and n % 5 == 0 else None,
                hire_date=today - timedelta(days=30 + n % 3000),
                standard_hours=Decimal(32 if n % 7 == 0 else 40),
            )
            record["lastChanged"] = stamp_
            employee = db.insert(NAME, "employee", record, ext_key=record["employeeNumber"])
            db.insert(NAME, "change", {"employee_id": employee["id"], "action": "Inserted", "at": stamp_})
            new.append(employee)
        for index in range(time_off_requests if new else 0):
            employee = new[index * len(new) // time_off_requests]
            days = _business_days(today + timedelta(days=index % span - days_back), 1 + index % 5)
            hours = Decimal(4) if index % 4 == 3 else Decimal(8)
            status = {17: "requested", 18: "requested", 19: "canceled"}.get(index % 20, "approved")
            body = time_off_record(
                employee,
                start=days[0],
                end=days[-1],
                dates=dict.fromkeys(days, hours),
                kind=("Vacation", "Sick", "Personal")[index % 3],
                status=status,
                changed=stamp_,
            )
            db.insert(NAME, "time_off_request", body)
    return {"employees": len(new), "time_off_requests": time_off_requests if new else 0}


def _is_bulk(row: Mapping[str, Any]) -> bool:
    return str(row.get("employeeNumber") or "").startswith(BULK_PREFIX)
