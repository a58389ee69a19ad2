"""Listings for reconciliation: jobs, expense reports and invoices, a resumable SuiteQL page at a time.

Each reader returns a `Page` whose ``next_cursor`` is an offset a flow heartbeats and resumes from;
rows are in internal id order, so records created while a run pages through land on later pages.
SuiteQL over REST takes no joins in psflow's use: what a row needs from another table (a job's
customer's external id, an expense report's job and currency on its lines) is read with one more
query per page, by ``IN`` over the page's ids — never one request per row.
"""

from __future__ import annotations

from canonical import DateRange
from connectors._core import Page
from connectors.netsuite._queries import Queries
from connectors.netsuite.models import ExpenseReportRow, InvoiceRow, JobRow

__all__ = ["Listings"]


class Listings(Queries):
    """`jobs_page`, `expense_reports_page`, `invoices_page`, mixed into `NetSuiteConnector`."""

    async def jobs_page(self, *, cursor: str | None = None, page_size: int | None = None) -> Page[JobRow]:
        """One page of every job, active or not, in internal id order.

        A job made by hand in NetSuite has no external id (`JobRow.external_id` is None).

        Args:
            cursor: The offset to start at (None: the first job).
            page_size: Jobs per page; the connector's default when None.
        """
        raise NotImplementedError

    async def expense_reports_page(
        self, *, period: DateRange, cursor: str | None = None, page_size: int | None = None
    ) -> Page[ExpenseReportRow]:
        """One page of the expense reports dated within ``period`` (inclusive), in internal id order.

        Args:
            period: The reports' ``tranDate`` range.
            cursor: The offset to start at (None: the first report).
            page_size: Reports per page; the connector's default when None.
        """
        raise NotImplementedError

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
            cursor: The offset to start at (None: the first invoice).
            page_size: Invoices per page; the connector's default when None.

        Raises:
            ValueError: ``job_internal_id`` is not a NetSuite internal id.
        """
        raise NotImplementedError
