"""Stored records → the JSON Workday returns: workers, time off details and report rows.

Workers are stored in the sandbox's own snake_case form (see ``_seed``) and rendered here, so
the wire shapes live in one place. Fields the stored research marks as third-party or inferred
are rendered as documented in ``docs/connectors/workday.md``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sandbox._db import SandboxDB
from sandbox.systems.workday._common import NAME, workday_id


def reference(id: str, descriptor: str, href: str | None = None) -> dict[str, Any]:
    """A Workday instance reference: ``{"id", "descriptor"}`` plus ``href`` when addressable."""
    ref: dict[str, Any] = {"id": id, "descriptor": descriptor}
    if href is not None:
        ref["href"] = href
    return ref


def _slug(text: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in text.upper()).split())


class Directory:
    """Supervisory organisations and cost centres, read once to render many workers."""

    def __init__(self, db: SandboxDB) -> None:
        self.orgs = {org["id"]: org for org in db.query(NAME, "supervisory_organization")}
        self.cost_centers = {cc["id"]: cc for cc in db.query(NAME, "cost_center")}

    def org_name(self, org_id: str) -> str:
        """The organisation's name (its id when unknown)."""
        return str(self.orgs.get(org_id, {}).get("name", org_id))

    def cost_center_name(self, cost_center_id: str) -> str:
        """The cost centre's name (its id when unknown)."""
        return str(self.cost_centers.get(cost_center_id, {}).get("name", cost_center_id))

    def managed_by(self, worker_id: str) -> list[str]:
        """Ids of the organisations this worker heads."""
        return sorted(org_id for org_id, org in self.orgs.items() if org.get("manager_id") == worker_id)


def worker_name(worker: dict[str, Any]) -> str:
    """The worker's display name (Workday's ``descriptor``)."""
    return f"{worker['first_name']} {worker['last_name']}"


def render_worker(worker: dict[str, Any], directory: Directory, root: str, *, today: date) -> dict[str, Any]:
    """A worker as ``GET /workers`` returns it (common v1 fields, then the sandbox's extensions)."""
    org_id = worker["supervisory_org_id"]
    managed = directory.managed_by(worker["id"])
    hired = date.fromisoformat(worker["hire_date"])
    years = today.year - hired.year - ((today.month, today.day) < (hired.month, hired.day))
    return {
        "id": worker["id"],
        "descriptor": worker_name(worker),
        "href": f"{root}/workers/{worker['id']}",
        "businessTitle": worker["business_title"],
        "primaryWorkEmail": worker["email"],
        "isManager": bool(managed),
        "location": reference(f"LOC-{_slug(worker['location'])}", worker["location"]),
        "primarySupervisoryOrganization": reference(
            org_id, directory.org_name(org_id), f"{root}/supervisoryOrganizations/{org_id}"
        ),
        "supervisoryOrganizationsManaged": [
            reference(o, directory.org_name(o), f"{root}/supervisoryOrganizations/{o}") for o in managed
        ],
        "yearsOfService": max(0, years),
        # Not in the common v1 worker (staffing v6 / reports carry them): emulator extensions.
        "workerId": worker["employee_id"],
        "jobProfile": reference(f"JP-{_slug(worker['job_profile'])}", worker["job_profile"]),
        "costCenter": reference(worker["cost_center_id"], directory.cost_center_name(worker["cost_center_id"])),
        "skills": [reference(f"SKILL-{_slug(skill)}", skill) for skill in worker["skills"]],
        "active": worker["active"],
        "hireDate": worker["hire_date"],
        "terminationDate": worker.get("termination_date"),
    }


def render_audit(entry: dict[str, Any], root: str) -> dict[str, Any]:
    """One ``auditLogs`` entry: the task, when it was requested, and the worker it was about (inferred)."""
    return {
        "id": workday_id("audit_log", entry["id"]),
        "descriptor": entry["task"],
        "requestTime": entry["at"],
        "taskDisplayName": entry["task"],
        "target": reference(entry["worker_id"], entry["worker_name"], f"{root}/workers/{entry['worker_id']}"),
    }


def render_organization(org: dict[str, Any], manager: dict[str, Any] | None, root: str) -> dict[str, Any]:
    """A supervisory organisation as ``GET /supervisoryOrganizations/{id}`` returns it."""
    href = f"{root}/supervisoryOrganizations/{org['id']}"
    rendered: dict[str, Any] = {
        "id": org["id"],
        "descriptor": org["name"],
        "href": href,
        "name": org["name"],
        "code": org["id"],
        "workers": f"{href}/workers",
    }
    if manager is not None:
        rendered["manager"] = reference(manager["id"], worker_name(manager), f"{root}/workers/{manager['id']}")
    return rendered


def render_time_off(entry: dict[str, Any], worker: dict[str, Any]) -> dict[str, Any]:
    """One day of time off as ``GET /workers/{id}/timeOffDetails`` returns it."""
    kind = entry["time_off_type"]
    return {
        "id": workday_id("time_off", entry["id"]),
        "descriptor": f"{kind} ({entry['date']})",
        "date": entry["date"],
        "quantity": entry["quantity"],
        "unit": reference("HOURS", "Hours"),
        "status": reference(entry["status"].upper(), entry["status"]),
        "timeOffType": reference(workday_id("time_off_type", kind), kind),
        "worker": reference(worker["id"], worker_name(worker)),
    }


def staffing_row(worker: dict[str, Any], directory: Directory) -> dict[str, Any]:
    """A ``Report_Entry`` of the staffing custom report: one column per report field alias."""
    row: dict[str, Any] = {
        "WID": worker["id"],
        "Employee_ID": worker["employee_id"],
        "Worker": worker_name(worker),
        "Job_Profile": worker["job_profile"],
        "Supervisory_Organization_ID": worker["supervisory_org_id"],
        "Supervisory_Organization": directory.org_name(worker["supervisory_org_id"]),
        "Cost_Center_ID": worker["cost_center_id"],
        "Cost_Center": directory.cost_center_name(worker["cost_center_id"]),
        "Location": worker["location"],
        "Skills": "; ".join(worker["skills"]),
        "Active": "1" if worker["active"] else "0",
    }
    if worker.get("manager_id"):
        row["Manager_ID"] = worker["manager_id"]
    if worker.get("scheduled_weekly_hours") is not None:
        row["Scheduled_Weekly_Hours"] = str(worker["scheduled_weekly_hours"])
    if worker.get("hourly_cost_rate") is not None:
        row["Hourly_Cost_Rate"] = str(worker["hourly_cost_rate"])
        row["Currency"] = worker["currency"]
    return row
