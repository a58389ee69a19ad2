"""The demo firm as Workday holds it: cost centres, supervisory organisations, workers, time off.

Stored records (sandbox form, rendered by ``_render``):

- ``cost_center`` (id ``CC-ADV-UK``): ``name``.
- ``supervisory_organization`` (id ``SO-ADV-UK``): ``name``, ``manager_id`` (WID), ``cost_center_id``.
- ``worker`` (id = WID, ext key = employee id): see `worker_record`.
- ``time_off``: ``worker_id``, ``date``, ``quantity`` (hours), ``time_off_type``, ``status``.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sandbox._db import SandboxDB
from sandbox.seed import DemoFirm
from sandbox.systems.workday._common import NAME, ensure_demo_credentials, workday_id


def worker_record(
    *,
    employee_id: str,
    first_name: str,
    last_name: str,
    email: str,
    business_title: str,
    job_profile: str,
    supervisory_org_id: str,
    cost_center_id: str,
    location: str,
    skills: list[str],
    manager_id: str | None,
    hire_date: date,
    hourly_cost_rate: Decimal | None = None,
    currency: str | None = None,
) -> dict[str, Any]:
    """The stored form of an active worker."""
    return {
        "employee_id": employee_id,
        "first_name": first_name,
        "last_name": last_name,
        "email": email,
        "business_title": business_title,
        "job_profile": job_profile,
        "supervisory_org_id": supervisory_org_id,
        "cost_center_id": cost_center_id,
        "location": location,
        "skills": skills,
        "manager_id": manager_id,
        "hire_date": hire_date.isoformat(),
        "termination_date": None,
        "active": True,
        "hourly_cost_rate": hourly_cost_rate,
        "currency": currency,
    }


def time_off_record(worker_id: str, day: date, hours: Decimal, kind: str, status: str) -> dict[str, Any]:
    """The stored form of one day of time off."""
    return {"worker_id": worker_id, "date": day.isoformat(), "quantity": hours, "time_off_type": kind, "status": status}


def seed(db: SandboxDB, firm: DemoFirm) -> None:
    """Write every consultant of the demo firm as a worker, with their organisation and time off."""
    ensure_demo_credentials(db)
    wids = {c.employee_id: workday_id("worker", c.employee_id) for c in firm.consultants}
    for cost_centre in firm.cost_centres:
        db.insert(NAME, "cost_center", {"name": cost_centre.name}, id=cost_centre.id)
    for org in firm.supervisory_orgs:
        body = {"name": org.name, "manager_id": wids[org.manager_id], "cost_center_id": org.cost_centre}
        db.insert(NAME, "supervisory_organization", body, id=org.id)
    for person in firm.consultants:
        wid = wids[person.employee_id]
        record = worker_record(
            employee_id=person.employee_id,
            first_name=person.first_name,
            last_name=person.last_name,
            email=person.email,
            business_title=person.title,
            job_profile=person.grade,
            supervisory_org_id=person.supervisory_org,
            cost_center_id=person.cost_centre,
            location=person.location,
            skills=list(person.skills),
            manager_id=wids[person.manager_id] if person.manager_id else None,
            hire_date=person.hire_date,
            hourly_cost_rate=person.cost_rate,
            currency=person.cost_currency,
        )
        record["scheduled_weekly_hours"] = person.weekly_hours
        db.insert(NAME, "worker", record, id=wid, ext_key=person.employee_id)
        for day in person.time_off:
            db.insert(NAME, "time_off", time_off_record(wid, day.day, day.hours, day.type, "Approved"))
