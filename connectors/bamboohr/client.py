"""`BambooHRConnector`: employees, their changes and time off, read from BambooHR; an `HRSystem`.

Research: ``apis-round2.md`` §4 (BambooHR). Every request sends Basic auth with the API key as the
user name and ``Accept: application/json`` (without it BambooHR answers XML). Rate limiting is
429 + ``Retry-After`` since 2026-09-16 (503 before): the shared core retries both in-process, a
short ``Retry-After`` honoured as given and a long one handed to Temporal as `RateLimitedError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from canonical import Consultant, DateRange, TimeOff
from connectors._core import BaseConnector, Page, PermanentError, Unreadable, default_error_parser
from connectors.bamboohr.mapping import (
    EMPLOYEE_FIELDS,
    consultant_from_employee,
    employee_id_of,
    time_off_from_request,
)
from connectors.bamboohr.settings import BambooHRSettings
from connectors.hr import ChangeAction, ChangePage, WorkerChange

__all__ = ["SYSTEM", "BambooHRConnector", "parse_bamboohr_error"]

SYSTEM = "bamboohr"
_EPOCH = datetime(2011, 6, 5, tzinfo=UTC)
"""§4: ``employees/changed`` holds no data before 2011-06-05, so "everything" starts there."""


def parse_bamboohr_error(response: httpx.Response) -> tuple[str | None, str]:
    """(code, message): the ``X-BambooHR-Error-Message`` header first (§4 "Errors"), then the body."""
    code, message = default_error_parser(response)
    header = response.headers.get("X-BambooHR-Error-Message")
    return code, header or message


class BambooHRConnector(BaseConnector[BambooHRSettings]):
    """Typed, read-mostly access to one BambooHR company, implementing `connectors.hr.HRSystem`.

    Args:
        settings: Where the company is and its API key (default: the sandbox).
        transport: The innermost HTTP transport; tests pass ``httpx.ASGITransport(app=sandbox)``.
    """

    hr_system = SYSTEM

    def __init__(self, settings: BambooHRSettings | None = None, *, transport: httpx.AsyncBaseTransport | None = None):
        s = settings or BambooHRSettings()
        super().__init__(
            SYSTEM,
            s,
            transport=transport,
            auth=httpx.BasicAuth(s.api_key.get_secret_value(), "x"),
            base_url=s.api_root,
            headers={"Accept": "application/json"},
            parse_error=parse_bamboohr_error,
        )
        self._fields = ",".join(
            (*EMPLOYEE_FIELDS, s.cost_centre_field, s.skills_field, s.standard_hours_field, s.role_field)
        )

    async def changed_since(self, since: datetime | None, cursor: str | None = None) -> ChangePage:
        """``GET /employees/changed?since=`` (§4): one page holding every change; ``latest`` is the mark.

        `since` is sent in UTC with a ``Z`` so no ``+`` needs encoding; None reads from 2011-06-05.
        BambooHR does not page this endpoint, so `cursor` is ignored and ``next_cursor`` is None.
        """
        moment = (since or _EPOCH).astimezone(UTC).replace(microsecond=0)
        body = await self.client.get_json("/employees/changed", params={"since": moment.strftime("%Y-%m-%dT%H:%M:%SZ")})
        if not isinstance(body, Mapping) or not isinstance(body.get("employees"), Mapping):
            raise PermanentError(
                SYSTEM, "unexpected employees/changed response: no 'employees' object", code="unexpected_response"
            )
        changes = []
        unreadable = []
        for key, item in body["employees"].items():
            try:
                changes.append(
                    WorkerChange(
                        worker_id=f"{SYSTEM}:{item.get('id', key)}",
                        action=ChangeAction(str(item["action"]).lower()),
                        changed_at=_instant(item["lastChanged"]),
                    )
                )
            except (KeyError, ValueError, TypeError) as exc:
                unreadable.append(Unreadable.of(str(key), f"{SYSTEM}:{key}", ValueError(str(exc))))
        changes.sort(key=lambda c: (c.changed_at, c.worker_id))
        latest = _instant(body["latest"]) if body.get("latest") else None
        mark = max([moment, *([latest] if latest else []), *(c.changed_at for c in changes)])
        return ChangePage(changes, None, unreadable, high_water_mark=mark)

    async def worker(self, worker_id: str) -> Consultant:
        """``GET /employees/{id}?fields=`` as a consultant (terminated employees included).

        Raises:
            NotFoundError: No employee has that id.
            PermanentError: The employee cannot be mapped (no work email, bad hours).
        """
        emp_id = employee_id_of(worker_id)
        body = await self.client.get_json(f"/employees/{quote(emp_id, safe='')}", params={"fields": self._fields})
        return self._consultant(body)

    async def workers_page(self, cursor: str | None = None) -> Page[Consultant]:
        """One page of ``GET /employees`` (cursor paging ``page[limit|after]``, §4), everyone included.

        An employee that cannot be mapped is returned in ``unreadable``, not raised, so a sweep goes on.
        """
        params: dict[str, Any] = {"page[limit]": self.settings.page_size, "fields": self._fields}
        if cursor:
            params["page[after]"] = cursor
        body = await self.client.get_json("/employees", params=params)
        items: list[Consultant] = []
        unreadable: list[Unreadable] = []
        for row in body.get("data") or []:
            try:
                items.append(self._map(row))
            except ValueError as exc:
                unreadable.append(Unreadable.of(str(row.get("id")), f"{SYSTEM}:{row.get('id')}", exc))
        next_cursor = (body.get("meta") or {}).get("nextCursor")
        return Page(items, str(next_cursor) if next_cursor else None, unreadable)

    async def time_off(self, between: DateRange, worker_id: str | None = None) -> list[TimeOff]:
        """``GET /time_off/requests?start&end[&employeeId]`` (§4): every status, cancelled ones too."""
        params: dict[str, Any] = {"start": between.start.isoformat(), "end": between.end.isoformat()}
        if worker_id is not None:
            params["employeeId"] = employee_id_of(worker_id)
        body = await self.client.get_json("/time_off/requests", params=params)
        try:
            return [time_off_from_request(item) for item in body]
        except (KeyError, ValueError, TypeError) as exc:
            raise PermanentError(SYSTEM, f"unexpected time off request: {exc}", code="unexpected_response") from exc

    def _map(self, body: Mapping[str, Any]) -> Consultant:
        s = self.settings
        return consultant_from_employee(
            body,
            cost_centre_field=s.cost_centre_field,
            skills_field=s.skills_field,
            standard_hours_field=s.standard_hours_field,
            role_field=s.role_field,
        )

    def _consultant(self, body: Any) -> Consultant:
        try:
            return self._map(body)
        except (ValueError, KeyError, TypeError) as exc:
            raise PermanentError(SYSTEM, str(exc), code="unmappable_employee") from exc


def _instant(value: Any) -> datetime:
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
