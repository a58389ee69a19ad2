"""Listings for reconciliation: jobs, expense reports and invoices, a resumable SuiteQL page at a time.

Each reader returns a `Page` whose ``next_cursor`` (``after:<internal id>``) a flow heartbeats and
resumes from; rows are in internal id order, each page a query of its own after the last id read, so
SuiteQL's 100,000-row cap per query never cuts a listing short, and records created while a run
pages through land on later pages.
SuiteQL over REST takes no joins in psflow's use: what a row needs from another table (a job's
customer's external id, an expense report's job and currency on its lines) is read with one more
query per page, by ``IN`` over the page's ids — never one request per row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from canonical import DateRange
from connectors._core import Page
from connectors.netsuite._queries import Queries, _date_literal, _internal_id
from connectors.netsuite._values import parse_date
from connectors.netsuite.mapping import JOB_STATUS_IDS
from connectors.netsuite.models import ExpenseReportRow, InvoiceRow, JobRow, JsonObject

__all__ = ["Listings"]

_JOB_COLUMNS = (
    "id, externalid, entityid, companyname, parent, isinactive, startdate, projectedenddate, currency, entitystatus"
)
_EXPENSE_REPORT_COLUMNS = "id, externalid, entity, trandate, total"
_INVOICE_COLUMNS = "id, externalid, entity, job, trandate, startdate, enddate, total, currency"
_STATUSES = {status_id: status for status, status_id in JOB_STATUS_IDS.items()}


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _day(value: Any) -> Any:
    return parse_date(str(value)) if value else None


def _in_list(ids: Iterable[str]) -> str:
    """``(1, 2, 3)``: internal ids for a SuiteQL ``IN``, each checked to be digits."""
    return "(" + ", ".join(str(_internal_id(i)) for i in sorted(set(ids), key=int)) + ")"


def _period(period: DateRange) -> str:
    return f"trandate BETWEEN {_date_literal(period.start)} AND {_date_literal(period.end)}"


class Listings(Queries):
    """`jobs_page`, `expense_reports_page`, `invoices_page`, mixed into `NetSuiteConnector`."""

    def _currency_codes(self) -> Mapping[str, str]:
        return {internal: code for code, internal in self.settings.currency_ids.items()}

    async def _rows_by(self, query: str, key: str) -> dict[str, JsonObject]:
        """Every row of a query (all its pages), by the text of column ``key``; the first row of each key wins."""
        rows: dict[str, JsonObject] = {}
        async for row in self.suiteql(query):
            rows.setdefault(str(row[key]), row)
        return rows

    async def jobs_page(self, *, cursor: str | None = None, page_size: int | None = None) -> Page[JobRow]:
        """One page of every job, active or not, in internal id order.

        A job made by hand in NetSuite has no external id (`JobRow.external_id` is None). The
        customers' external ids come from one more query per page (``customer WHERE id IN``).

        Args:
            cursor: The last page's ``next_cursor`` (None: the first job).
            page_size: Jobs per page; the connector's default when None.
        """
        page = await self.suiteql_keyset_page(_JOB_COLUMNS, "job", cursor=cursor, page_size=page_size)
        parents = {str(row["parent"]) for row in page.items if row.get("parent") is not None}
        customers: dict[str, JsonObject] = {}
        if parents:
            in_page = f"SELECT id, externalid FROM customer WHERE id IN {_in_list(parents)}"
            customers = await self._rows_by(in_page, "id")
        codes = self._currency_codes()
        rows = []
        for row in page.items:
            parent = _text(row.get("parent"))
            currency_id = _text(row.get("currency"))
            status_id = _text(row.get("entitystatus"))
            rows.append(
                JobRow(
                    internal_id=str(row["id"]),
                    external_id=_text(row.get("externalid")),
                    code=_text(row.get("entityid")),
                    name=_text(row.get("companyname")),
                    customer_internal_id=parent,
                    customer_external_id=_text(customers.get(parent or "", {}).get("externalid")),
                    currency_id=currency_id,
                    currency=codes.get(currency_id or ""),
                    status_id=status_id,
                    status=_STATUSES.get(status_id or ""),
                    inactive=row.get("isinactive") == "T",
                    start_date=_day(row.get("startdate")),
                    end_date=_day(row.get("projectedenddate")),
                )
            )
        return Page(rows, page.next_cursor)

    async def expense_reports_page(
        self, *, period: DateRange, cursor: str | None = None, page_size: int | None = None
    ) -> Page[ExpenseReportRow]:
        """One page of the expense reports dated within ``period`` (inclusive), in internal id order.

        Each report's job and currency are its first line's (``transactionline``, one more query
        per page: ``WHERE transaction IN`` the page's reports).

        Args:
            period: The reports' ``tranDate`` range.
            cursor: The last page's ``next_cursor`` (None: the first report).
            page_size: Reports per page; the connector's default when None.
        """
        page = await self.suiteql_keyset_page(
            _EXPENSE_REPORT_COLUMNS, "expensereport", [_period(period)], cursor=cursor, page_size=page_size
        )
        lines: dict[str, JsonObject] = {}
        if page.items:
            ids = _in_list(str(row["id"]) for row in page.items)
            lines = await self._rows_by(
                "SELECT transaction, linesequencenumber, entity, foreignamount, currency FROM transactionline "
                f"WHERE transaction IN {ids} ORDER BY linesequencenumber",
                "transaction",
            )
        codes = self._currency_codes()
        rows = []
        for row in page.items:
            line = lines.get(str(row["id"]), {})
            currency_id = _text(line.get("currency"))
            rows.append(
                ExpenseReportRow(
                    internal_id=str(row["id"]),
                    external_id=_text(row.get("externalid")),
                    employee_internal_id=_text(row.get("entity")),
                    job_internal_id=_text(line.get("entity")),
                    tran_date=parse_date(str(row["trandate"])),
                    amount=Decimal(str(row.get("total") or 0)),
                    currency_id=currency_id,
                    currency=codes.get(currency_id or ""),
                )
            )
        return Page(rows, page.next_cursor)

    async def invoices_page(
        self,
        *,
        period: DateRange | None = None,
        job_internal_id: str | None = None,
        cursor: str | None = None,
        page_size: int | None = None,
    ) -> Page[InvoiceRow]:
        """One page of invoices dated within ``period`` and/or of one job, in internal id order.

        Args:
            period: The invoices' ``tranDate`` range (None: any date).
            job_internal_id: Only this job's invoices (None: every job's).
            cursor: The last page's ``next_cursor`` (None: the first invoice).
            page_size: Invoices per page; the connector's default when None.

        Raises:
            ValueError: ``job_internal_id`` is not a NetSuite internal id.
        """
        conditions = []
        if job_internal_id is not None:
            conditions.append(f"job = {_internal_id(job_internal_id)}")
        if period is not None:
            conditions.append(_period(period))
        page = await self.suiteql_keyset_page(
            _INVOICE_COLUMNS, "invoice", conditions, cursor=cursor, page_size=page_size
        )
        codes = self._currency_codes()
        rows = [
            InvoiceRow(
                internal_id=str(row["id"]),
                external_id=_text(row.get("externalid")),
                customer_internal_id=_text(row.get("entity")),
                job_internal_id=_text(row.get("job")),
                tran_date=parse_date(str(row["trandate"])),
                start_date=_day(row.get("startdate")),
                end_date=_day(row.get("enddate")),
                total=Decimal(str(row.get("total") or 0)),
                currency_id=_text(row.get("currency")),
                currency=codes.get(_text(row.get("currency")) or ""),
            )
            for row in page.items
        ]
        return Page(rows, page.next_cursor)
