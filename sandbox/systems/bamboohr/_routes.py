"""The API resources, served under ``/api/v1`` and the legacy ``/api/gateway.php/{company}/v1``.

Research: ``apis-round2.md`` §4 (BambooHR) "Employees" and "Time off"; each route cites its part.

- ``GET /employees/directory?onlyCurrent=`` → ``{fields, employees}``; 403 without directory
  sharing, 404 when empty.
- ``GET /employees/changed?since=&type=`` → ``{latest, employees: {"<id>": {id, action, lastChanged}}}``.
- ``GET /employees?page[limit]=&page[after]=`` → cursor paging, the one paged employee read
  (response shape ``{data, meta: {nextCursor}, links: {next}}`` is inferred).
- ``GET /employees/{id}?fields=&onlyCurrent=`` → ``{id, <fields>}``; id ``0`` is the key's own employee.
- ``POST /employees`` (add; 201 with ``Location``), ``POST /employees/{id}`` (update fields),
  ``POST /employees/{id}/tables/employmentStatus`` (a ``Terminated`` row ends employment).
- ``GET /time_off/requests?start=&end=&status=&employeeId=&id=&type=``, ``GET /time_off/whos_out?start=&end=``,
  ``PUT /employees/{id}/time_off/request``, ``PUT /time_off/requests/{id}/status``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from sandbox._db import DuplicateKey, SandboxDB
from sandbox._framework import DB, SandboxHTTPError
from sandbox.systems.bamboohr._common import (
    COMPANY,
    DEFAULT_PAGE_LIMIT,
    DIRECTORY_KEY,
    MAX_PAGE_LIMIT,
    NAME,
    check_company,
    guard,
    log_change,
    now,
    parse_since,
    stamp,
)
from sandbox.systems.bamboohr._seed import TIME_OFF_TYPES, employee_record, time_off_record

TIME_OFF_STATUSES = ("approved", "denied", "superceded", "requested", "canceled")
"""§4 "Time off": BambooHR spells it "superceded"."""

DIRECTORY_FIELDS = (
    ("displayName", "text", "Display name"),
    ("firstName", "text", "First name"),
    ("lastName", "text", "Last name"),
    ("jobTitle", "list", "Job title"),
    ("workEmail", "email", "Work Email"),
    ("department", "list", "Department"),
    ("location", "list", "Location"),
    ("division", "list", "Division"),
    ("supervisor", "text", "Supervisor"),
)
FIELD_ALIASES = {"status": "status", "employeeNumber": "employeeNumber", "supervisorId": "supervisorEId"}
UPDATABLE = frozenset(
    {
        "firstName",
        "lastName",
        "workEmail",
        "jobTitle",
        "department",
        "division",
        "location",
        "supervisorEId",
        "hireDate",
        "customRole",
        "customCostCentre",
        "customSkills",
        "customStandardHoursPerWeek",
    }
)


def _guarded(request: Request, db: DB) -> None:
    company = request.path_params.get("company")
    if company is not None:
        check_company(company)
    guard(db, request)


api = APIRouter(dependencies=[Depends(_guarded)])


def _employee_or_404(db: SandboxDB, employee_id: str) -> dict[str, Any]:
    employee = db.get(NAME, "employee", "1" if employee_id == "0" else employee_id)
    if employee is None:
        raise SandboxHTTPError(404, "not_found", f"Employee not found: no employee with id {employee_id!r}")
    return employee


def _supervisor_name(db: SandboxDB, employee: Mapping[str, Any]) -> str | None:
    boss = db.get(NAME, "employee", employee["supervisorEId"]) if employee.get("supervisorEId") else None
    return None if boss is None else str(boss["displayName"])


def _only_current(value: str | None) -> bool:
    return (value or "true").lower() not in {"false", "0"}


@api.get("/employees/directory")
def directory(db: DB, only_current: Annotated[str | None, Query(alias="onlyCurrent")] = None) -> dict[str, Any]:
    """§4 Employees: current staff (all with ``onlyCurrent=false``); 403 if sharing is off, 404 if empty."""
    if not db.kv_get(NAME, DIRECTORY_KEY, True):
        raise SandboxHTTPError(403, "forbidden", "The employee directory is not shared with this API key")
    where = {"status": "Active"} if _only_current(only_current) else None
    people = db.query(NAME, "employee", where=where)
    if not people:
        raise SandboxHTTPError(404, "not_found", "The employee directory is empty")
    fields = [{"id": f, "type": t, "name": n} for f, t, n in DIRECTORY_FIELDS]
    employees = [
        {
            "id": p["id"],
            **{f: p.get(f) for f, _, _ in DIRECTORY_FIELDS if f != "supervisor"},
            "supervisor": _supervisor_name(db, p),
        }
        for p in people
    ]
    return {"fields": fields, "employees": employees}


@api.get("/employees/changed")
def changed(db: DB, since: str | None = None, type: str | None = None) -> dict[str, Any]:
    """§4 Employees ``employees/changed``: an object keyed by id with the latest action of each.

    ``latest`` is the newest ``lastChanged`` reported (or ``since`` when nothing changed): the
    next cursor. Changes at exactly ``since`` are included, so a caller that stores ``latest``
    may see the last change again, never miss one.
    """
    moment = parse_since(since)
    if type is not None and type not in {"inserted", "updated", "deleted"}:
        raise SandboxHTTPError(400, "invalid_type", f"'type' must be inserted, updated or deleted, got {type!r}")
    latest: dict[str, dict[str, Any]] = {}
    for change in db.query(NAME, "change", order_by="id"):
        if datetime.fromisoformat(change["at"]) < moment:
            continue
        latest[change["employee_id"]] = change
    employees = {
        emp_id: {"id": emp_id, "action": c["action"], "lastChanged": c["at"]}
        for emp_id, c in latest.items()
        if type is None or c["action"].lower() == type
    }
    newest = max((c["lastChanged"] for c in employees.values()), default=stamp(moment))
    return {"latest": newest, "employees": employees}


def _render(db: SandboxDB, employee: Mapping[str, Any], fields: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": employee["id"]}
    for name in fields:
        if name == "supervisor":
            out[name] = _supervisor_name(db, employee)
        else:
            out[name] = employee.get(FIELD_ALIASES.get(name, name))
    return out


def _encode(employee_id: str) -> str:
    return base64.urlsafe_b64encode(f"employee:{employee_id}".encode()).decode().rstrip("=")


def _decode(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, number = text.partition(":")
        if kind != "employee":
            raise ValueError(cursor)
        return int(number)
    except (ValueError, UnicodeDecodeError):
        raise SandboxHTTPError(
            400, "invalid_cursor", f"page[after] {cursor!r} is not a cursor this API issued"
        ) from None


@api.get("/employees")
def list_employees(
    request: Request,
    db: DB,
    limit: Annotated[int | None, Query(alias="page[limit]")] = None,
    after: Annotated[str | None, Query(alias="page[after]")] = None,
    fields: str | None = None,
) -> dict[str, Any]:
    """§4 Employees ``GET /employees``: cursor paging ``page[limit|after]``, every employee, by id."""
    size = DEFAULT_PAGE_LIMIT if limit is None else limit
    if not 1 <= size <= MAX_PAGE_LIMIT:
        raise SandboxHTTPError(400, "invalid_limit", f"page[limit] must be between 1 and {MAX_PAGE_LIMIT}, got {size}")
    start = _decode(after) if after else None
    rows = db.query(NAME, "employee", after_num=start, limit=size + 1)
    more = len(rows) > size
    rows = rows[:size]
    extra = [f for f in (fields or "").split(",") if f]
    base = ["employeeNumber", "firstName", "lastName", "workEmail", "jobTitle", "status", "hireDate", "terminationDate"]
    data = [_render(db, row, base + [f for f in extra if f not in base]) for row in rows]
    cursor = _encode(rows[-1]["id"]) if more and rows else None
    next_link = str(request.url.include_query_params(**{"page[after]": cursor})) if cursor else None
    return {"data": data, "meta": {"nextCursor": cursor}, "links": {"next": next_link}}


@api.get("/employees/{employee_id}")
def get_employee(
    db: DB,
    employee_id: str,
    fields: str | None = None,
    only_current: Annotated[str | None, Query(alias="onlyCurrent")] = None,
) -> dict[str, Any]:
    """§4 Employees ``GET /employees/{id}?fields=``: the named fields (unknown ones are null)."""
    employee = _employee_or_404(db, employee_id)
    names = [f.strip() for f in (fields or "firstName,lastName").split(",") if f.strip()]
    return _render(db, employee, names)


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


def _fields_of(body: _Loose) -> dict[str, Any]:
    given = dict(body.model_extra or {})
    unknown = sorted(k for k in given if k not in UPDATABLE and k != "employeeNumber")
    if unknown:
        raise SandboxHTTPError(400, "invalid_field", f"Unknown or read-only field(s): {', '.join(unknown)}")
    return {k: (None if v is None else str(v)) for k, v in given.items()}


def _check_supervisor(db: SandboxDB, fields: Mapping[str, Any]) -> None:
    boss = fields.get("supervisorEId")
    if boss and db.get(NAME, "employee", boss) is None:
        raise SandboxHTTPError(400, "invalid_field", f"supervisorEId {boss!r} is not an employee")


@api.post("/employees", status_code=201)
def add_employee(request: Request, db: DB, body: _Loose) -> Response:
    """Add an employee (firstName and lastName required); 201 with the new record's ``Location``."""
    fields = _fields_of(body)
    if not fields.get("firstName") or not fields.get("lastName"):
        raise SandboxHTTPError(400, "invalid_field", "firstName and lastName are required")
    _check_supervisor(db, fields)
    with db.transaction():
        record = employee_record(
            employee_number=fields.get("employeeNumber") or "",
            first_name=fields["firstName"],
            last_name=fields["lastName"],
            email=fields.get("workEmail") or "",
            job_title=fields.get("jobTitle") or "",
            role=fields.get("customRole") or "",
            department=fields.get("department") or "",
            cost_centre=fields.get("customCostCentre") or "",
            location=fields.get("location") or "",
            skills=[],
            supervisor_id=fields.get("supervisorEId"),
            hire_date=date.fromisoformat(fields["hireDate"]) if fields.get("hireDate") else now(db).date(),
            standard_hours=None,
        )
        record.update({k: v for k, v in fields.items() if k in UPDATABLE})
        try:
            employee = db.insert(NAME, "employee", record, ext_key=fields.get("employeeNumber") or None)
        except DuplicateKey:
            raise SandboxHTTPError(
                409, "conflict", f"employeeNumber {fields.get('employeeNumber')!r} is taken"
            ) from None
        log_change(db, employee["id"], "Inserted")
    location = str(request.url).rstrip("/") + f"/{employee['id']}"
    return Response(status_code=201, headers={"Location": location})


@api.post("/employees/{employee_id}")
def update_employee(db: DB, employee_id: str, body: _Loose) -> Response:
    """Update an employee's fields (an ``Updated`` change)."""
    employee = _employee_or_404(db, employee_id)
    fields = _fields_of(body)
    _check_supervisor(db, fields)
    if "firstName" in fields or "lastName" in fields:
        fields["displayName"] = (
            f"{fields.get('firstName', employee['firstName'])} {fields.get('lastName', employee['lastName'])}"
        )
    with db.transaction():
        db.update(NAME, "employee", employee["id"], fields)
        log_change(db, employee["id"], "Updated")
    return Response(status_code=200)


class EmploymentStatusRow(BaseModel):
    """A row of the ``employmentStatus`` table: ``Terminated`` on ``date`` ends employment that day."""

    date: date
    employmentStatus: str = Field(min_length=1)


@api.post("/employees/{employee_id}/tables/employmentStatus")
def add_employment_status(db: DB, employee_id: str, row: EmploymentStatusRow) -> Response:
    """§4 Employees: a change to the employment-status table counts as ``Updated``."""
    employee = _employee_or_404(db, employee_id)
    change: dict[str, Any]
    if row.employmentStatus.lower() == "terminated":
        if row.date < date.fromisoformat(employee["hireDate"]):
            raise SandboxHTTPError(400, "invalid_field", f"termination date {row.date} is before the hire date")
        change = {"status": "Inactive", "terminationDate": row.date.isoformat()}
    else:
        change = {"status": "Active", "terminationDate": None}
    with db.transaction():
        db.update(NAME, "employee", employee["id"], change)
        log_change(db, employee["id"], "Updated")
    return Response(status_code=200)


def _date(name: str, value: str | None) -> date:
    if not value:
        raise SandboxHTTPError(400, "missing_parameter", f"'{name}' is required (YYYY-MM-DD)")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise SandboxHTTPError(400, "invalid_parameter", f"'{name}' must be YYYY-MM-DD, got {value!r}") from None


@api.get("/time_off/requests")
def time_off_requests(
    db: DB,
    start: str | None = None,
    end: str | None = None,
    status: str | None = None,
    employee_id: Annotated[str | None, Query(alias="employeeId")] = None,
    id: str | None = None,
    type: str | None = None,
) -> list[dict[str, Any]]:
    """§4 Time off: ``start``/``end`` required, inclusive overlap, comma-list filters."""
    first, last = _date("start", start), _date("end", end)
    wanted = {s.strip() for s in status.split(",")} if status else None
    if wanted and not wanted <= set(TIME_OFF_STATUSES):
        raise SandboxHTTPError(
            400, "invalid_parameter", f"status must be among {', '.join(TIME_OFF_STATUSES)}, got {status!r}"
        )
    types = {t.strip() for t in type.split(",")} if type else None

    def keep(r: dict[str, Any]) -> bool:
        return (
            r["start"] <= last.isoformat()
            and r["end"] >= first.isoformat()
            and (wanted is None or r["status"]["status"] in wanted)
            and (employee_id is None or r["employeeId"] == employee_id)
            and (id is None or r["id"] == id)
            and (types is None or r["type"]["id"] in types)
        )

    return db.query(NAME, "time_off_request", predicate=keep, order_by="id")


@api.get("/time_off/whos_out")
def whos_out(db: DB, start: str | None = None, end: str | None = None) -> list[dict[str, Any]]:
    """§4 Time off "Who's out": approved time off and holidays overlapping ``start``..``end``
    (default today through 14 days on); holidays have no ``employeeId``."""
    today = now(db).date()
    first = _date("start", start) if start else today
    last = _date("end", end) if end else today + timedelta(days=14)
    out: list[dict[str, Any]] = []
    for r in db.query(NAME, "time_off_request", where=None, order_by="id"):
        if r["status"]["status"] == "approved" and r["start"] <= last.isoformat() and r["end"] >= first.isoformat():
            out.append(
                {
                    "id": r["id"],
                    "type": "timeOff",
                    "employeeId": r["employeeId"],
                    "name": r["name"],
                    "start": r["start"],
                    "end": r["end"],
                }
            )
    for h in db.query(NAME, "holiday", order_by="id"):
        if h["start"] <= last.isoformat() and h["end"] >= first.isoformat():
            out.append({"id": h["id"], "type": "holiday", "name": h["name"], "start": h["start"], "end": h["end"]})
    return sorted(out, key=lambda e: (e["start"], e["type"], e["id"]))


class _DateAmount(BaseModel):
    ymd: date
    amount: Decimal = Field(ge=0, le=24)


class NewTimeOff(BaseModel):
    """§4 Time off create: ``dates`` overrides ``amount``; ``previousRequest`` supersedes the old one."""

    status: str
    start: date
    end: date
    timeOffTypeId: str
    amount: Decimal | None = None
    dates: list[_DateAmount] | None = None
    notes: list[dict[str, Any]] = []
    previousRequest: str | None = None


@api.put("/employees/{employee_id}/time_off/request", status_code=201)
def create_time_off(db: DB, employee_id: str, body: NewTimeOff) -> JSONResponse:
    """Create a request (approved, denied/declined or requested)."""
    employee = _employee_or_404(db, employee_id)
    status = {"declined": "denied"}.get(body.status, body.status)
    if status not in {"approved", "denied", "requested"}:
        raise SandboxHTTPError(
            400, "invalid_field", f"status must be approved, denied, declined or requested, got {body.status!r}"
        )
    if body.end < body.start:
        raise SandboxHTTPError(400, "invalid_field", f"end {body.end} is before start {body.start}")
    kinds = {v: k for k, v in TIME_OFF_TYPES.items()}
    if body.timeOffTypeId not in kinds:
        raise SandboxHTTPError(400, "invalid_field", f"unknown timeOffTypeId {body.timeOffTypeId!r}")
    days = [body.start + timedelta(days=n) for n in range((body.end - body.start).days + 1)]
    if body.dates:
        per_day = {d.ymd: d.amount for d in body.dates}
    else:
        each = (body.amount / len(days)) if body.amount is not None else Decimal(8)
        per_day = {d: each for d in days}
    if any(not body.start <= d <= body.end for d in per_day):
        raise SandboxHTTPError(400, "invalid_field", "dates must fall between start and end")
    when = stamp(now(db))
    note = next((str(n.get("text")) for n in body.notes if n.get("from") == "employee"), None)
    with db.transaction():
        if body.previousRequest:
            old = db.get(NAME, "time_off_request", body.previousRequest)
            if old is None:
                raise SandboxHTTPError(400, "invalid_field", f"previousRequest {body.previousRequest!r} does not exist")
            db.update(
                NAME,
                "time_off_request",
                old["id"],
                {"status": {**old["status"], "status": "superceded", "lastChanged": when[:10]}},
            )
        record = time_off_record(
            employee,
            start=body.start,
            end=body.end,
            dates=per_day,
            kind=kinds[body.timeOffTypeId],
            status=status,
            changed=when,
            note=note,
        )
        stored = db.insert(NAME, "time_off_request", record)
    return JSONResponse(stored, status_code=201)


class StatusChange(BaseModel):
    """``PUT /time_off/requests/{id}/status``."""

    status: str
    note: str | None = None


@api.put("/time_off/requests/{request_id}/status")
def change_status(db: DB, request_id: str, body: StatusChange) -> Response:
    """§4 Time off: cancel while requested, or after approval only before it starts; approve/deny."""
    record = db.get(NAME, "time_off_request", request_id)
    if record is None:
        raise SandboxHTTPError(404, "not_found", f"Time off request {request_id!r} not found")
    target = {"cancelled": "canceled", "declined": "denied"}.get(body.status, body.status)
    current = record["status"]["status"]
    today = now(db).date().isoformat()
    if target not in {"approved", "denied", "canceled"}:
        raise SandboxHTTPError(
            400, "invalid_field", f"status must be approved, denied or canceled, got {body.status!r}"
        )
    if current in {"canceled", "superceded", "denied"}:
        raise SandboxHTTPError(400, "invalid_transition", f"request {request_id} is {current} and cannot change")
    if target == "canceled" and current == "approved" and record["start"] <= today:
        raise SandboxHTTPError(
            400,
            "invalid_transition",
            f"request {request_id} started on {record['start']}; it can no longer be cancelled",
        )
    db.update(
        NAME, "time_off_request", request_id, {"status": {**record["status"], "status": target, "lastChanged": today}}
    )
    return Response(status_code=200)


router = APIRouter()
router.include_router(api, prefix="/api/v1")
router.include_router(api, prefix="/api/gateway.php/{company}/v1")

__all__ = ["COMPANY", "router"]
