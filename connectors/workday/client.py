"""`WorkdayConnector`: consultants (workers), their skills, cost centres and time off, read from HR.

Resource sync reads through it; it never writes to Workday. Requests use the refresh-token
grant of an API client for integrations: the access token is cached, replaced shortly before
it expires, and replaced once more on a 401 before the request is replayed once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from canonical import Consultant, DateRange
from connectors._core import (
    AuthError,
    BaseConnector,
    OAuth2RefreshToken,
    Page,
    PermanentError,
    Unreadable,
    cursor_to_int,
    offset_cursor,
    paginate,
)
from connectors.workday.errors import SYSTEM, explain_auth_error, parse_workday_error
from connectors.workday.mapping import canonical_id, consultant_from_worker, time_off_ranges, wid_of
from connectors.workday.models import (
    AuditLogEntry,
    AuditLogPage,
    StaffingReport,
    StaffingRow,
    TimeOffDetail,
    TimeOffPage,
    Worker,
    WorkersPage,
)
from connectors.workday.settings import WorkdaySettings

__all__ = ["WorkdayConnector"]

_MAX_LIMIT = 100
_Model = TypeVar("_Model", bound=BaseModel)


class WorkdayConnector(BaseConnector[WorkdaySettings]):
    """Typed access to one Workday tenant.

    Args:
        settings: Where the tenant is and the API client's credentials (default: the sandbox).
        transport: The innermost HTTP transport; tests pass ``httpx.ASGITransport(app=sandbox)``.
    """

    def __init__(self, settings: WorkdaySettings | None = None, *, transport: httpx.AsyncBaseTransport | None = None):
        s = settings or WorkdaySettings()
        self.auth = OAuth2RefreshToken(
            s.oauth_token_url,
            s.client_id,
            s.client_secret,
            s.refresh_token,
            client_auth=s.client_auth,
            refresh_margin=s.token_refresh_margin_s,
        )
        super().__init__(SYSTEM, s, transport=transport, auth=self.auth, parse_error=parse_workday_error)
        tenant = quote(s.tenant, safe="")
        self._workers_url = f"/ccx/api/{s.common_api.strip('/')}/{tenant}/workers"
        self._audit_url = f"/ccx/api/{s.common_api.strip('/')}/{tenant}/auditLogs"
        self._absence_url = f"/ccx/api/{s.absence_api.strip('/')}/{tenant}/workers"
        self._report_url = f"/ccx/service/customreport2/{tenant}/{s.staffing_report}" if s.staffing_report else None

    async def list_workers(
        self, *, active_only: bool = True, time_off_between: DateRange | None = None
    ) -> AsyncIterator[Consultant]:
        """Every worker as a consultant, page by page (``limit``/``offset`` through ``total``).

        Args:
            active_only: Leave out terminated workers; `False` asks Workday to include them.
            time_off_between: Also read each worker's approved time off in this window; without
                it ``Consultant.time_off`` is empty (not read, not "none").

        Raises:
            ConnectorError: A classified failure of any request; `PermanentError` for a worker
                that cannot be mapped (no work email) or a response of an unexpected shape.
        """
        staffing = await self._staffing()

        async def fetch(cursor: str | None) -> Page[Consultant]:
            offset = cursor_to_int(cursor, default=0)
            return await self._page(offset, self.settings.page_size, active_only, time_off_between, staffing)

        async for consultant in paginate(fetch):
            yield consultant

    async def workers_page(
        self,
        offset: int = 0,
        limit: int | None = None,
        *,
        active_only: bool = True,
        time_off_between: DateRange | None = None,
        keep_unreadable: bool = False,
    ) -> Page[Consultant]:
        """One page of workers, for a flow that heartbeats its position and resumes from it.

        Args:
            offset: Zero-based index of the first worker (a previous page's ``next_cursor``).
            limit: Workers per page, 1 to 100 (default: ``settings.page_size``).
            active_only: As for `list_workers`.
            time_off_between: As for `list_workers`.
            keep_unreadable: Hand back a worker that cannot be mapped in ``Page.unreadable`` rather
                than raising, so one bad record does not cost a sweep its page.

        Returns:
            The consultants and the next offset as ``next_cursor`` (`None` after the last page).
            A page can hold fewer consultants than ``limit`` when the staffing report marks
            listed workers inactive.

        Raises:
            ValueError: ``offset`` or ``limit`` out of range.
            ConnectorError: As for `list_workers`.
        """
        size = self.settings.page_size if limit is None else limit
        if not 1 <= size <= _MAX_LIMIT or offset < 0:
            raise ValueError(f"need 1 <= limit <= {_MAX_LIMIT} and offset >= 0, got limit={size}, offset={offset}")
        return await self._page(
            offset, size, active_only, time_off_between, await self._staffing(), keep_unreadable=keep_unreadable
        )

    async def get_worker(self, worker_id: str, *, time_off_between: DateRange | None = None) -> Consultant:
        """One worker as a consultant.

        Args:
            worker_id: The WID, or the consultant's canonical id ``workday:<WID>``.
            time_off_between: Also read the worker's approved time off in this window.

        Raises:
            NotFoundError: No worker has that id.
            ConnectorError: As for `list_workers`.
        """
        wid = wid_of(worker_id)
        body = await self._get(f"{self._workers_url}/{quote(wid, safe='')}")
        worker = self._parse(Worker, body, "worker")
        staffing = await self._staffing()
        time_off = await self.time_off(wid, time_off_between) if time_off_between is not None else []
        return self._consultant(worker, staffing, time_off)

    async def time_off_details(self, worker_id: str, between: DateRange) -> list[TimeOffDetail]:
        """A worker's time off entries within `between`, one per day, as Workday returns them.

        Workday never returns cancelled or denied entries (research ``apis-round2.md`` §5): a
        cancellation shows only as the entry's absence.

        Raises:
            NotFoundError: No worker has that id.
            ConnectorError: A classified failure of any request.
        """
        url = f"{self._absence_url}/{quote(wid_of(worker_id), safe='')}/timeOffDetails"
        window = {"fromDate": between.start.isoformat(), "toDate": between.end.isoformat()}

        async def fetch(cursor: str | None) -> Page[TimeOffDetail]:
            offset = cursor_to_int(cursor, default=0)
            body = await self._get(url, {**window, "limit": _MAX_LIMIT, "offset": offset})
            page = self._parse(TimeOffPage, body, "time off details")
            return Page(list(page.data), offset_cursor(offset, len(page.data), total=page.total))

        # The window is filtered again here: a tenant that ignores the date parameters must not
        # report time off outside it.
        return [detail async for detail in paginate(fetch) if detail.date in between]

    async def audit_logs_page(self, since: datetime | None, offset: int = 0) -> tuple[list[AuditLogEntry], int | None]:
        """One page of ``GET /auditLogs?from=`` (common v1), oldest first: the change feed (§5).

        Returns:
            The entries and the next offset (`None` after the last page).
        """
        params: dict[str, Any] = {"limit": _MAX_LIMIT, "offset": offset}
        if since is not None:
            params["from"] = since.isoformat()
        page = self._parse(AuditLogPage, await self._get(self._audit_url, params), "audit logs")
        cursor = offset_cursor(offset, len(page.data), total=page.total)
        return list(page.data), None if cursor is None else int(cursor)

    async def time_off(self, worker_id: str, between: DateRange) -> list[DateRange]:
        """A worker's approved time off within `between`, merged into ranges of consecutive days.

        Args:
            worker_id: The WID, or the consultant's canonical id ``workday:<WID>``.
            between: The window to read (inclusive).

        Raises:
            NotFoundError: No worker has that id.
            ConnectorError: A classified failure of any request.
        """
        return list(time_off_ranges(await self.time_off_details(worker_id, between)))

    async def _page(
        self,
        offset: int,
        limit: int,
        active_only: bool,
        between: DateRange | None,
        staffing: Mapping[str, StaffingRow],
        *,
        keep_unreadable: bool = False,
    ) -> Page[Consultant]:
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if not active_only:
            params["includeTerminatedWorkers"] = "true"
        page = self._parse(WorkersPage, await self._get(self._workers_url, params), "workers")
        time_off = await self._time_off_of(page.data, between)
        consultants: list[Consultant] = []
        unreadable: list[Unreadable] = []
        for worker, days in zip(page.data, time_off, strict=True):
            try:
                consultants.append(self._consultant(worker, staffing, days))
            except PermanentError as exc:
                if not keep_unreadable or not isinstance(exc.__cause__, ValueError):
                    raise
                unreadable.append(Unreadable.of(worker.id, canonical_id(worker.id), exc.__cause__))
        if active_only:
            consultants = [c for c in consultants if c.active]
        return Page(consultants, offset_cursor(offset, len(page.data), total=page.total), unreadable)

    async def _time_off_of(self, workers: Sequence[Worker], between: DateRange | None) -> list[list[DateRange]]:
        if between is None:
            return [[] for _ in workers]
        # Bounded: one time off request per worker must not flood the tenant.
        slots = asyncio.Semaphore(self.settings.time_off_concurrency)

        async def one(worker: Worker) -> list[DateRange]:
            async with slots:
                return await self.time_off(worker.id, between)

        return list(await asyncio.gather(*(one(w) for w in workers)))

    async def _staffing(self) -> dict[str, StaffingRow]:
        if self._report_url is None:
            return {}
        body = await self._get(self._report_url, {"format": "json"})
        report = self._parse(StaffingReport, body, "staffing report")
        return {row.wid: row for row in report.report_entry}

    def _consultant(
        self, worker: Worker, staffing: Mapping[str, StaffingRow], time_off: Sequence[DateRange]
    ) -> Consultant:
        try:
            return consultant_from_worker(worker, staffing=staffing.get(worker.id), time_off=time_off)
        except ValueError as exc:
            raise PermanentError(SYSTEM, str(exc), code="unmappable_worker", details={"worker": worker.id}) from exc

    async def _get(self, url: str, params: Mapping[str, Any] | None = None) -> Any:
        try:
            return await self.client.get_json(url, params=params)
        except AuthError as exc:
            explained = explain_auth_error(exc)
            if explained is exc:
                raise
            raise explained from exc

    @staticmethod
    def _parse(model: type[_Model], body: Any, what: str) -> _Model:
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            raise PermanentError(
                SYSTEM,
                f"unexpected {what} response: {exc.error_count()} problem(s), first: {exc.errors()[0]['msg']} "
                f"at {'.'.join(str(p) for p in exc.errors()[0]['loc']) or 'the top level'}",
                code="unexpected_response",
            ) from exc
