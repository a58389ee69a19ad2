"""The REST resources: workers (common v1), time off details (absence management v1), and RaaS.

- ``GET /ccx/api/common/v1/{tenant}/workers?limit=&offset=&search=&includeTerminatedWorkers=``
  (also under the older alias ``/ccx/api/v1/{tenant}``) → ``{"total", "data"}``.
- ``GET /ccx/api/common/v1/{tenant}/workers/{id}`` → one worker.
- ``GET /ccx/api/common/v1/{tenant}/supervisoryOrganizations[/{id}]`` → organisations (each with
  its manager and a ``workers`` link), ``…/{id}/workers`` → the active workers it holds.
- ``GET /ccx/api/absenceManagement/v1/{tenant}/workers/{id}/timeOffDetails?fromDate=&toDate=&limit=&offset=``.
- ``GET /ccx/api/common/v1/{tenant}/auditLogs?from=&to=&limit=&offset=`` → business processes on
  workers (hire, job change, termination), oldest first: the change feed (research
  ``apis-round2.md`` §5 "Changed since"; the entry shape is inferred).
- ``GET /ccx/service/customreport2/{tenant}/{owner}/{report}?format=json`` → ``{"Report_Entry": [...]}``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from sandbox._db import SandboxDB
from sandbox._framework import DB, SandboxHTTPError
from sandbox.systems.workday._common import (
    NAME,
    STAFFING_REPORT,
    api_root,
    authorise,
    check_tenant,
    page_bounds,
)
from sandbox.systems.workday._render import (
    Directory,
    render_audit,
    render_organization,
    render_time_off,
    render_worker,
    staffing_row,
)

router = APIRouter()


def _worker_or_404(db: SandboxDB, worker_id: str) -> dict[str, Any]:
    worker = db.get(NAME, "worker", worker_id)
    if worker is None:
        raise SandboxHTTPError(404, "not_found", f"Resource not found: no worker with id {worker_id!r}")
    return worker


def _matches(search: str | None, include_terminated: bool) -> Any:
    needle = (search or "").strip().casefold()

    def keep(worker: dict[str, Any]) -> bool:
        if not include_terminated and not worker["active"]:
            return False
        text = f"{worker['first_name']} {worker['last_name']} {worker['email']} {worker['employee_id']}"
        return not needle or needle in text.casefold()

    return keep


def _list_workers(
    request: Request,
    db: SandboxDB,
    tenant: str,
    limit: int | None,
    offset: int | None,
    search: str | None,
    include_terminated: bool,
) -> dict[str, Any]:
    check_tenant(tenant)
    authorise(db, request)
    size, start = page_bounds(limit, offset)
    keep = _matches(search, include_terminated)
    matched = db.query(NAME, "worker", predicate=keep)
    directory = Directory(db)
    root = api_root(request, "common", "v1")
    today = date.today()
    return {
        "total": len(matched),
        "data": [render_worker(w, directory, root, today=today) for w in matched[start : start + size]],
    }


@router.get("/ccx/api/common/v1/{tenant}/workers")
def list_workers(
    request: Request,
    db: DB,
    tenant: str,
    limit: int | None = None,
    offset: int | None = None,
    search: str | None = None,
    include_terminated: Annotated[bool, Query(alias="includeTerminatedWorkers")] = False,
) -> dict[str, Any]:
    """Workers of the tenant (active ones unless terminated workers are asked for)."""
    return _list_workers(request, db, tenant, limit, offset, search, include_terminated)


@router.get("/ccx/api/v1/{tenant}/workers")
def list_workers_alias(
    request: Request,
    db: DB,
    tenant: str,
    limit: int | None = None,
    offset: int | None = None,
    search: str | None = None,
    include_terminated: Annotated[bool, Query(alias="includeTerminatedWorkers")] = False,
) -> dict[str, Any]:
    """The older ``/ccx/api/v1`` alias of common v1 workers."""
    return _list_workers(request, db, tenant, limit, offset, search, include_terminated)


def _get_worker(request: Request, db: SandboxDB, tenant: str, worker_id: str) -> dict[str, Any]:
    check_tenant(tenant)
    authorise(db, request)
    worker = _worker_or_404(db, worker_id)
    return render_worker(worker, Directory(db), api_root(request, "common", "v1"), today=date.today())


@router.get("/ccx/api/common/v1/{tenant}/workers/{worker_id}")
def get_worker(request: Request, db: DB, tenant: str, worker_id: str) -> dict[str, Any]:
    """One worker by WID."""
    return _get_worker(request, db, tenant, worker_id)


@router.get("/ccx/api/v1/{tenant}/workers/{worker_id}")
def get_worker_alias(request: Request, db: DB, tenant: str, worker_id: str) -> dict[str, Any]:
    """One worker by WID, under the older alias."""
    return _get_worker(request, db, tenant, worker_id)


def _organization(db: SandboxDB, org: dict[str, Any], root: str) -> dict[str, Any]:
    manager = db.get(NAME, "worker", org["manager_id"]) if org.get("manager_id") else None
    return render_organization(org, manager, root)


@router.get("/ccx/api/common/v1/{tenant}/supervisoryOrganizations")
def list_organizations(
    request: Request, db: DB, tenant: str, limit: int | None = None, offset: int | None = None
) -> dict[str, Any]:
    """The tenant's supervisory organisations."""
    check_tenant(tenant)
    authorise(db, request)
    size, start = page_bounds(limit, offset)
    orgs = db.query(NAME, "supervisory_organization")
    root = api_root(request, "common", "v1")
    return {"total": len(orgs), "data": [_organization(db, org, root) for org in orgs[start : start + size]]}


def _org_or_404(db: SandboxDB, org_id: str) -> dict[str, Any]:
    org = db.get(NAME, "supervisory_organization", org_id)
    if org is None:
        raise SandboxHTTPError(404, "not_found", f"Resource not found: no supervisory organization {org_id!r}")
    return org


@router.get("/ccx/api/common/v1/{tenant}/supervisoryOrganizations/{org_id}")
def get_organization(request: Request, db: DB, tenant: str, org_id: str) -> dict[str, Any]:
    """One supervisory organisation, with its manager and a link to its workers."""
    check_tenant(tenant)
    authorise(db, request)
    return _organization(db, _org_or_404(db, org_id), api_root(request, "common", "v1"))


@router.get("/ccx/api/common/v1/{tenant}/supervisoryOrganizations/{org_id}/workers")
def organization_workers(
    request: Request, db: DB, tenant: str, org_id: str, limit: int | None = None, offset: int | None = None
) -> dict[str, Any]:
    """The active workers whose primary supervisory organisation this is."""
    check_tenant(tenant)
    authorise(db, request)
    size, start = page_bounds(limit, offset)
    _org_or_404(db, org_id)
    members = db.query(NAME, "worker", where={"supervisory_org_id": org_id, "active": True})
    directory, root, today = Directory(db), api_root(request, "common", "v1"), date.today()
    return {
        "total": len(members),
        "data": [render_worker(w, directory, root, today=today) for w in members[start : start + size]],
    }


def _date_param(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise SandboxHTTPError(
            400, "invalid_parameter", f"{name} must be a date in yyyy-mm-dd format, got {value!r}"
        ) from None


@router.get("/ccx/api/absenceManagement/v1/{tenant}/workers/{worker_id}/timeOffDetails")
def time_off_details(
    request: Request,
    db: DB,
    tenant: str,
    worker_id: str,
    from_date: Annotated[str | None, Query(alias="fromDate")] = None,
    to_date: Annotated[str | None, Query(alias="toDate")] = None,
    limit: int | None = None,
    offset: int | None = None,
) -> dict[str, Any]:
    """A worker's time off, one entry per day, optionally between two dates (inclusive)."""
    check_tenant(tenant)
    authorise(db, request)
    size, start = page_bounds(limit, offset)
    first, last = _date_param("fromDate", from_date), _date_param("toDate", to_date)
    if first is not None and last is not None and last < first:
        raise SandboxHTTPError(400, "invalid_parameter", f"toDate {last} is before fromDate {first}")
    worker = _worker_or_404(db, worker_id)

    def in_range(entry: dict[str, Any]) -> bool:
        return (first is None or entry["date"] >= first) and (last is None or entry["date"] <= last)

    # Research apis-round2.md §5: Canceled and Denied entries are never returned.
    def standing(entry: dict[str, Any]) -> bool:
        return in_range(entry) and entry["status"] not in {"Canceled", "Denied"}

    matched = db.query(NAME, "time_off", where={"worker_id": worker_id}, predicate=standing, order_by="date")
    return {"total": len(matched), "data": [render_time_off(e, worker) for e in matched[start : start + size]]}


def _moment_param(name: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise SandboxHTTPError(
            400,
            "invalid_parameter",
            f"{name} must be a date-time with an offset (e.g. 2026-01-01T00:00:00Z), got {value!r}",
        )
    return moment


@router.get("/ccx/api/common/v1/{tenant}/auditLogs")
def audit_logs(
    request: Request,
    db: DB,
    tenant: str,
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: str | None = None,
    limit: int | None = None,
    offset: int | None = None,
) -> dict[str, Any]:
    """Business processes on workers between ``from`` (inclusive) and ``to`` (exclusive), oldest first."""
    check_tenant(tenant)
    authorise(db, request)
    size, start = page_bounds(limit, offset)
    first, last = _moment_param("from", from_), _moment_param("to", to)

    def keep(entry: dict[str, Any]) -> bool:
        at = datetime.fromisoformat(entry["at"])
        return (first is None or at >= first) and (last is None or at < last)

    matched = db.query(NAME, "audit_log", predicate=keep, order_by="id")
    root = api_root(request, "common", "v1")
    return {"total": len(matched), "data": [render_audit(e, root) for e in matched[start : start + size]]}


@router.get("/ccx/service/customreport2/{tenant}/{owner}/{report}")
def custom_report(
    request: Request,
    db: DB,
    tenant: str,
    owner: str,
    report: str,
    format: str | None = None,
) -> dict[str, Any]:
    """Report-as-a-Service: the staffing report (cost centre, skills, cost rate) of every worker."""
    check_tenant(tenant)
    authorise(db, request)
    if (owner, report) != STAFFING_REPORT:
        raise SandboxHTTPError(
            404,
            "not_found",
            f"No web-service-enabled report {owner}/{report}: this tenant offers {'/'.join(STAFFING_REPORT)}",
        )
    if format != "json":
        raise SandboxHTTPError(
            400, "invalid_parameter", f"format must be 'json' in this sandbox (XML is not emulated), got {format!r}"
        )
    directory = Directory(db)
    return {"Report_Entry": [staffing_row(w, directory) for w in db.query(NAME, "worker", order_by="employee_id")]}
