"""What a billing period's invoices could not include yet (``psa`` task queue).

Invoicing bills what is in the posting ledger when it runs. Time approved for the month but not
posted yet — its day's posting still running, or not run — is therefore not on the month's
invoice; nor is work posted after the invoice was made. `WorkNotInvoicedActivities` compares the
PSA's approved, billable records dated in the period with the ledger and reports, per project,
what is missing and why, so the month's invoice never leaves work out silently. That work is
billed on a supplementary invoice for the same month once it is posted (``psflow invoice
run-month`` again; see ``docs/invoicing.md``).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from datetime import date

from pydantic import BaseModel, ConfigDict, Field
from temporalio import activity

from activities._errors import classified
from canonical import DateRange, Expense, TimeEntry
from canonical.calendar import billing_period
from connectors._core import PermanentError
from connectors.kantata import KantataConnector
from store import Store
from store import invoicing as ledger

TARGET = "netsuite"
EXAMPLES = 10
"""Record ids named per project; the counts cover all of them."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WorkNotInvoicedRequest(_Model):
    """A ``YYYY-MM`` period, for one project or (None) all of them."""

    period: str
    project_id: str | None = None


class WorkNotInvoiced(_Model):
    """A project's billable work of the period that its invoices do not include yet.

    Attributes:
        not_posted: Approved in the PSA but not posted to the ERP yet (its day's posting is running
            or has not run): post the days, then invoice the month again.
        rejected: Approved in the PSA but refused by the posting, with an open posting exception
            (``psflow exceptions list``): fix them, re-post, then invoice the month again.
        posted_since: Posted, but after the invoice was made: invoice the month again.
    """

    project_id: str
    not_posted: int = 0
    rejected: int = 0
    posted_since: int = 0
    first: date | None = None
    last: date | None = None
    examples: list[str] = Field(default_factory=list)

    @property
    def entries(self) -> int:
        """Everything not included yet."""
        return self.not_posted + self.rejected + self.posted_since


class WorkNotInvoicedReport(_Model):
    """Per project, what the period's invoices do not include yet; ``unreadable`` when the PSA could not say."""

    period: str
    projects: list[WorkNotInvoiced] = Field(default_factory=list)
    unreadable: str | None = None


class _Found:
    def __init__(self) -> None:
        self.counts: dict[str, int] = defaultdict(int)
        self.days: list[date] = []
        self.examples: list[str] = []

    def add(self, what: str, count: int, days: list[date], source_ids: Iterable[str]) -> None:
        self.counts[what] += count
        self.days += days
        self.examples += list(source_ids)[: EXAMPLES - len(self.examples)]

    def summary(self, project_id: str) -> WorkNotInvoiced:
        return WorkNotInvoiced(
            project_id=project_id,
            not_posted=self.counts["not_posted"],
            rejected=self.counts["rejected"],
            posted_since=self.counts["posted_since"],
            first=min(self.days),
            last=max(self.days),
            examples=self.examples,
        )


class WorkNotInvoicedActivities:
    """Compares the PSA's approved work of a period with the posting ledger and its invoices."""

    def __init__(self, kantata: KantataConnector, store: Store) -> None:
        self._kantata = kantata
        self._store = store

    @activity.defn(name="psa.work_not_invoiced")
    @classified
    async def work_not_invoiced(self, request: WorkNotInvoicedRequest) -> WorkNotInvoicedReport:
        """Per project, the period's billable work that no invoice includes yet (see `WorkNotInvoiced`)."""
        period = billing_period(request.period)
        found: dict[str, _Found] = defaultdict(_Found)
        unreadable = None
        try:
            await self._psa_work(period, request.project_id, found)
        except PermanentError as error:
            unreadable = f"the PSA's approved records of {request.period} could not all be read: {error.message}"
        unbilled = await asyncio.to_thread(ledger.unbilled_by_project, self._store, period.end)
        for project_id, rows in unbilled.items():
            if request.project_id in (None, project_id):
                found[project_id].add("posted_since", rows.entries, [rows.first, rows.last], rows.source_ids)
        return WorkNotInvoicedReport(
            period=request.period,
            projects=[found[project_id].summary(project_id) for project_id in sorted(found)],
            unreadable=unreadable,
        )

    async def _psa_work(self, period: DateRange, project_id: str | None, found: dict[str, _Found]) -> None:
        workspace = None
        if project_id is not None:
            workspace = await self._kantata.find_project_by_external_id(project_id)
            if workspace is None:
                return  # not a PSA project: nothing approved there
        kantata, span = self._kantata, (period.start, period.end)
        kinds: list[tuple[str, AsyncIterator[TimeEntry] | AsyncIterator[Expense]]] = [
            ("time_entry", kantata.list_time_entries(approved=True, performed_between=span, workspace_id=workspace)),
            ("expense", kantata.list_expenses(approved=True, incurred_between=span, workspace_id=workspace)),
        ]
        for kind, records in kinds:
            billable: dict[str, TimeEntry | Expense] = {}
            async for record in records:
                activity.heartbeat()
                if record.billable and record.project_id == (project_id or record.project_id):
                    billable[record.id] = record
            posted, rejected = await asyncio.to_thread(ledger.posting_state, self._store, TARGET, kind, list(billable))
            for source_id, record in billable.items():
                if source_id not in posted:
                    day = record.date_performed if isinstance(record, TimeEntry) else record.date_incurred
                    what = "rejected" if source_id in rejected else "not_posted"
                    found[record.project_id].add(what, 1, [day], [source_id])
