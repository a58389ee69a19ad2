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
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import date
from typing import TypeVar

from temporalio import activity

from activities._errors import classified
from activities._heartbeat import each_page
from activities.invoicing.models import WorkNotInvoiced, WorkNotInvoicedReport, WorkNotInvoicedRequest
from canonical import DateRange, Expense, TimeEntry
from canonical.calendar import billing_period
from connectors._core import Page, PermanentError, Unreadable
from connectors.kantata import KantataConnector
from store import Store
from store import invoicing as ledger

TARGET = "netsuite"
EXAMPLES = 10
"""Record ids named per project (and unreadable records named in all); the counts cover all of them."""

Record = TypeVar("Record", TimeEntry, Expense)


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
            broken = await self._psa_work(period, request.project_id, found)
        except PermanentError as error:
            broken, unreadable = [], error.message
        if broken:
            named = "; ".join(f"{bad.record_id} ({'; '.join(map(str, bad.problems))})" for bad in broken[:EXAMPLES])
            unreadable = (
                f"{len(broken)} records the PSA cannot read: {named}{'; ...' if len(broken) > EXAMPLES else ''}"
            )
        unbilled = await asyncio.to_thread(ledger.unbilled_by_project, self._store, period.end)
        for project_id, rows in unbilled.items():
            if request.project_id in (None, project_id):
                found[project_id].add("posted_since", rows.entries, [rows.first, rows.last], rows.source_ids)
        return WorkNotInvoicedReport(
            period=request.period,
            projects=[found[project_id].summary(project_id) for project_id in sorted(found)],
            unreadable=None
            if unreadable is None
            else f"the PSA's approved records of {request.period} could not all be read: {unreadable}",
        )

    async def _psa_work(self, period: DateRange, project_id: str | None, found: dict[str, _Found]) -> list[Unreadable]:
        """Count the period's approved, billable PSA records no posting took; returns those it could not read."""
        workspace = None
        if project_id is not None:
            workspace = await self._kantata.find_project_by_external_id(project_id)
            if workspace is None:
                return []  # not a PSA project: nothing approved there
        kantata, span = self._kantata, (period.start, period.end)
        broken: list[Unreadable] = []
        kinds: dict[str, Mapping[str, TimeEntry | Expense]] = {
            "time_entry": await _billable(
                lambda cursor: kantata.time_entries_page(
                    approved=True, performed_between=span, workspace_id=workspace, cursor=cursor
                ),
                project_id,
                broken,
            ),
            "expense": await _billable(
                lambda cursor: kantata.expenses_page(
                    approved=True, incurred_between=span, workspace_id=workspace, cursor=cursor
                ),
                project_id,
                broken,
            ),
        }
        for kind, billable in kinds.items():
            posted, rejected = await asyncio.to_thread(ledger.posting_state, self._store, TARGET, kind, list(billable))
            for source_id, record in billable.items():
                if source_id not in posted:
                    day = record.date_performed if isinstance(record, TimeEntry) else record.date_incurred
                    what = "rejected" if source_id in rejected else "not_posted"
                    found[record.project_id].add(what, 1, [day], [source_id])
        return broken


async def _billable(
    listing: Callable[[str | None], Awaitable[Page[Record]]], project_id: str | None, broken: list[Unreadable]
) -> dict[str, Record]:
    """The billable records of every page of a listing, by id (of one project, if named); adds the unreadable."""
    billable: dict[str, Record] = {}
    async for page in each_page(listing):
        broken += page.unreadable
        billable.update((r.id, r) for r in page.items if r.billable and r.project_id == (project_id or r.project_id))
    return billable
