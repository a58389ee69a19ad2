"""Reading NetSuite in bulk: SuiteQL and record lists, every one paged by limit/offset.

Each listing has a page-level method that takes and returns an offset cursor (a flow heartbeats
it and resumes there after a retry) and an iterator over all pages built on it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from types import TracebackType
from typing import Any, Self

from canonical import DateRange
from connectors._core import NotFoundError, Page, RateBudget, RestClient, cursor_to_int, offset_cursor, paginate
from connectors.netsuite.models import AccountingPeriod, JobRecord, JsonObject, TimeBillRow

__all__ = ["Queries"]

_TIME_BILL_COLUMNS = "id, externalid, employee, customer, casetaskevent, trandate, hours, rate, isbillable"
_JOB_COLUMNS = "id, externalid, entityid, companyname, parent, isinactive, startdate, projectedenddate"


def _date_literal(day: date) -> str:
    return f"TO_DATE('{day.isoformat()}', 'YYYY-MM-DD')"


def _internal_id(value: str) -> int:
    # Internal ids are inlined into SuiteQL (REST takes no bind parameters): digits only.
    if not value.isdigit():
        raise ValueError(f"{value!r} is not a NetSuite internal id (digits only)")
    return int(value)


class Queries:
    """The read side of the connector, over the connector's `RestClient`.

    Args:
        client: The connector's client (base URL ``.../services/rest``).
        page_size: Rows per page (at most 1000).
    """

    def __init__(self, client: RestClient, *, page_size: int) -> None:
        self.client = client
        self.page_size = page_size

    @property
    def budget(self) -> RateBudget | None:
        """The process-wide request budget this connector draws from."""
        return self.client.budget

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.aclose()

    # -- SuiteQL ---------------------------------------------------------------------------------

    async def suiteql_page(
        self, query: str, *, cursor: str | None = None, page_size: int | None = None
    ) -> Page[JsonObject]:
        """One page of a SuiteQL query's rows (lower-case columns; ``links`` removed).

        Args:
            query: The statement; order by a unique key for stable paging.
            cursor: The offset to start at (`None`: the first row).
            page_size: Rows per page; the connector's default when `None`.
        """
        offset = cursor_to_int(cursor, default=0)
        body = await self.client.post_json(
            "/query/v1/suiteql",
            {"q": query},
            params={"limit": page_size or self.page_size, "offset": offset},
            headers={"Prefer": "transient"},
            read_only=True,  # a query, though sent as POST: retried in-process like a GET
        )
        rows = [{k: v for k, v in row.items() if k != "links"} for row in body["items"]]
        return Page(rows, offset_cursor(offset, len(rows), has_more=bool(body.get("hasMore"))))

    def suiteql(
        self, query: str, *, start: str | None = None, page_size: int | None = None
    ) -> AsyncIterator[JsonObject]:
        """Every row of a SuiteQL query, page after page (from cursor ``start`` if given)."""
        return paginate(lambda cursor: self.suiteql_page(query, cursor=cursor, page_size=page_size), start=start)

    # -- record lists ----------------------------------------------------------------------------

    async def record_ids_page(
        self, record_type: str, *, q: str | None = None, cursor: str | None = None, page_size: int | None = None
    ) -> Page[str]:
        """One page of the internal ids of ``record_type`` records matching the filter ``q``.

        Args:
            record_type: REST record type, e.g. ``"job"``.
            q: A collection filter, e.g. ``'isInactive IS false'``.
            cursor: The offset to start at.
            page_size: Ids per page.
        """
        offset = cursor_to_int(cursor, default=0)
        params: dict[str, Any] = {"limit": page_size or self.page_size, "offset": offset}
        if q is not None:
            params["q"] = q
        body = await self.client.get_json(f"/record/v1/{record_type}", params=params)
        ids = [str(item["id"]) for item in body["items"]]
        return Page(ids, offset_cursor(offset, len(ids), has_more=bool(body.get("hasMore"))))

    def list_record_ids(
        self, record_type: str, *, q: str | None = None, page_size: int | None = None
    ) -> AsyncIterator[str]:
        """Every internal id of ``record_type`` records matching ``q``."""
        return paginate(lambda cursor: self.record_ids_page(record_type, q=q, cursor=cursor, page_size=page_size))

    # -- accounting periods ----------------------------------------------------------------------

    async def get_accounting_period(self, day: date) -> AccountingPeriod | None:
        """The monthly posting period containing ``day``, or None if the calendar has none."""
        on = _date_literal(day)
        query = (
            "SELECT id, periodname, startdate, enddate, closed FROM accountingperiod "
            f"WHERE isquarter = 'F' AND isyear = 'F' AND isadjust = 'F' AND startdate <= {on} AND enddate >= {on}"
        )
        page = await self.suiteql_page(query, page_size=1)
        return AccountingPeriod.from_row(page.items[0]) if page.items else None

    async def period_is_open(self, day: date) -> bool:
        """Whether a transaction dated ``day`` can be posted (its period exists and is open)."""
        period = await self.get_accounting_period(day)
        return period is not None and period.is_open

    # -- jobs and time bills ---------------------------------------------------------------------

    async def jobs_page(
        self, *, include_inactive: bool = False, cursor: str | None = None, page_size: int | None = None
    ) -> Page[JobRecord]:
        """One page of jobs, active only unless ``include_inactive``."""
        where = "" if include_inactive else " WHERE isinactive = 'F'"
        page = await self.suiteql_page(
            f"SELECT {_JOB_COLUMNS} FROM job{where} ORDER BY id", cursor=cursor, page_size=page_size
        )
        return Page([JobRecord.from_row(row) for row in page.items], page.next_cursor)

    def list_jobs(self, *, include_inactive: bool = False, page_size: int | None = None) -> AsyncIterator[JobRecord]:
        """Every job, active only unless ``include_inactive``."""
        return paginate(
            lambda cursor: self.jobs_page(include_inactive=include_inactive, cursor=cursor, page_size=page_size)
        )

    async def time_bills_page(
        self,
        *,
        job_internal_id: str | None = None,
        period: DateRange | None = None,
        cursor: str | None = None,
        page_size: int | None = None,
    ) -> Page[TimeBillRow]:
        """One page of time bills of a job and/or dated within a period, in internal id order."""
        conditions = []
        if job_internal_id is not None:
            conditions.append(f"customer = {_internal_id(job_internal_id)}")
        if period is not None:
            conditions.append(f"trandate BETWEEN {_date_literal(period.start)} AND {_date_literal(period.end)}")
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        page = await self.suiteql_page(
            f"SELECT {_TIME_BILL_COLUMNS} FROM timebill{where} ORDER BY id", cursor=cursor, page_size=page_size
        )
        return Page([TimeBillRow.from_row(row) for row in page.items], page.next_cursor)

    async def list_time_bills(
        self, *, job_external_id: str | None = None, period: DateRange | None = None, page_size: int | None = None
    ) -> AsyncIterator[TimeBillRow]:
        """Every time bill of the job with this external id and/or within a period.

        Raises:
            NotFoundError: No job has that external id.
        """
        job_internal_id = None
        if job_external_id is not None:
            quoted = job_external_id.replace('"', '\\"')
            found = await self.record_ids_page("job", q=f'externalId IS "{quoted}"', page_size=1)
            if not found.items:
                raise NotFoundError("netsuite", f"no job has externalId {job_external_id!r}", code="NONEXISTENT_ID")
            job_internal_id = found.items[0]
        pages = paginate(
            lambda cursor: self.time_bills_page(
                job_internal_id=job_internal_id, period=period, cursor=cursor, page_size=page_size
            )
        )
        async for row in pages:
            yield row
