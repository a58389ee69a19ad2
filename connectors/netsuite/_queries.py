"""Reading NetSuite: SuiteQL pages (limit/offset), look-ups by key, accounting periods, time bills.

A listing is read a page at a time, by an offset cursor a flow heartbeats and resumes from after a
retry; `suiteql` iterates every page of a query.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import date

from canonical import DateRange
from connectors._core import BaseConnector, Page, cursor_to_int, offset_cursor, paginate
from connectors.netsuite.models import AccountingPeriod, BillingCustomer, JobRecord, JsonObject, TimeBillRow
from connectors.netsuite.settings import NetSuiteSettings

__all__ = ["Queries"]

_TIME_BILL_COLUMNS = "id, externalid, employee, customer, casetaskevent, trandate, hours, rate, isbillable"
_JOB_COLUMNS = "id, externalid, entityid, companyname, parent, isinactive, startdate, projectedenddate, currency"

# SuiteQL over REST takes no bind parameters: every value is written into the statement as a literal.


def _date_literal(day: date) -> str:
    return f"TO_DATE('{day.isoformat()}', 'YYYY-MM-DD')"


def _internal_id(value: str) -> int:
    if not value.isdigit():
        raise ValueError(f"{value!r} is not a NetSuite internal id (digits only)")
    return int(value)


def string_literal(value: str) -> str:
    """``value`` as a SuiteQL string literal: quoted, its quotes doubled as SQL writes them.

    Raises:
        ValueError: The value holds a control character, which no key psflow looks up by has.
    """
    if any(ord(char) < 32 for char in value):
        raise ValueError(f"{value!r} holds a control character; SuiteQL lookups take printable text only")
    return "'" + value.replace("'", "''") + "'"


class Queries(BaseConnector[NetSuiteSettings]):
    """The read side of the connector, over its `RestClient` (base URL ``.../services/rest``)."""

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
            params={"limit": page_size or self.settings.page_size, "offset": offset},
            headers={"Prefer": "transient"},
            read_only=True,  # a query, though sent as POST: retried in-process like a GET
        )
        rows = [{k: v for k, v in row.items() if k != "links"} for row in body["items"]]
        return Page(rows, offset_cursor(offset, len(rows), has_more=bool(body.get("hasMore"))))

    async def suiteql_keyset_page(
        self,
        columns: str,
        table: str,
        conditions: Sequence[str] = (),
        *,
        cursor: str | None = None,
        page_size: int | None = None,
    ) -> Page[JsonObject]:
        """One page of ``table``'s rows in internal id order, each page a query of its own after the last id read.

        SuiteQL answers at most 100,000 rows per query, offset and all [saas-apis §NetSuite]: paging one
        query by offset silently stops there, so a listing that may be longer pages by key instead.

        Args:
            columns: The selected columns; they must include ``id``.
            table: The record table.
            conditions: Conditions the rows must meet, joined with AND.
            cursor: ``after:<internal id>`` of the last row read (None: the first page).
            page_size: Rows per page; the connector's default when None.

        Raises:
            ValueError: The cursor is not one this method returned.
        """
        after = 0
        if cursor is not None:
            if not (cursor.startswith("after:") and cursor.removeprefix("after:").isdigit()):
                raise ValueError(f"cursor {cursor!r} is not a keyset cursor (after:<internal id>)")
            after = int(cursor.removeprefix("after:"))
        where = " AND ".join([*conditions, f"id > {after}"])
        page = await self.suiteql_page(f"SELECT {columns} FROM {table} WHERE {where} ORDER BY id", page_size=page_size)
        more = page.next_cursor is not None and bool(page.items)
        return Page(page.items, f"after:{page.items[-1]['id']}" if more else None)

    async def _first_row(self, query: str) -> JsonObject | None:
        """The first row a query gives, or None."""
        page = await self.suiteql_page(query, page_size=1)
        return page.items[0] if page.items else None

    def suiteql(
        self, query: str, *, start: str | None = None, page_size: int | None = None
    ) -> AsyncIterator[JsonObject]:
        """Every row of a SuiteQL query, page after page (from cursor ``start`` if given)."""
        return paginate(lambda cursor: self.suiteql_page(query, cursor=cursor, page_size=page_size), start=start)

    # -- accounting periods ----------------------------------------------------------------------

    async def get_accounting_period(self, day: date) -> AccountingPeriod | None:
        """The monthly posting period containing ``day``, or None if the calendar has none."""
        on = _date_literal(day)
        query = (
            "SELECT id, periodname, startdate, enddate, closed FROM accountingperiod "
            f"WHERE isquarter = 'F' AND isyear = 'F' AND isadjust = 'F' AND startdate <= {on} AND enddate >= {on}"
        )
        row = await self._first_row(query)
        return None if row is None else AccountingPeriod.from_row(row)

    async def period_is_open(self, day: date) -> bool:
        """Whether a transaction dated ``day`` can be posted (its period exists and is open)."""
        period = await self.get_accounting_period(day)
        return period is not None and period.is_open

    # -- look-ups by key ----------------------------------------------------------------------------

    async def find_job(self, external_id: str) -> JobRecord | None:
        """The job whose external id is ``external_id``, with the currency it bills in; None if there is none.

        One SuiteQL row: unlike the REST record (`get_job`) it carries the job's currency.
        """
        row = await self._first_row(f"SELECT {_JOB_COLUMNS} FROM job WHERE externalid = {string_literal(external_id)}")
        codes = {internal: code for code, internal in self.settings.currency_ids.items()}
        return None if row is None else JobRecord.from_row(row, currency_codes=codes)

    async def find_employee_by_email(self, email: str) -> str | None:
        """The internal id of the employee with this email address, or None."""
        row = await self._first_row(f"SELECT id FROM employee WHERE email = {string_literal(email)}")
        return None if row is None else str(row["id"])

    async def billing_customer(self, internal_id: str) -> BillingCustomer | None:
        """What an invoice needs of the customer with this internal id (external id, terms); None if there is none.

        Raises:
            ValueError: ``internal_id`` is not a NetSuite internal id.
        """
        row = await self._first_row(
            f"SELECT id, externalid, terms FROM customer WHERE id = {_internal_id(internal_id)}"
        )
        terms_names = {internal: name for name, internal in self.settings.terms_ids.items()}
        return None if row is None else BillingCustomer.from_row(row, terms_names=terms_names)

    # -- jobs and time bills ---------------------------------------------------------------------

    async def time_bills_page(
        self,
        *,
        job_internal_id: str | None = None,
        period: DateRange | None = None,
        cursor: str | None = None,
        page_size: int | None = None,
    ) -> Page[TimeBillRow]:
        """One page of time bills of a job and/or dated within a period, in internal id order (keyset paged)."""
        conditions = []
        if job_internal_id is not None:
            conditions.append(f"customer = {_internal_id(job_internal_id)}")
        if period is not None:
            conditions.append(f"trandate BETWEEN {_date_literal(period.start)} AND {_date_literal(period.end)}")
        page = await self.suiteql_keyset_page(
            _TIME_BILL_COLUMNS, "timebill", conditions, cursor=cursor, page_size=page_size
        )
        return Page([TimeBillRow.from_row(row) for row in page.items], page.next_cursor)
