"""Snapshots: one side's records of a period copied page by page into the store's staging table.

Each page is staged in one transaction and then heartbeated as the checkpoint (next cursor, counts),
so a worker killed mid-snapshot is retried from the page after the last one staged; a page staged
twice overwrites itself (the staging key is run, side, kind and record id). A fresh read (not a
resumed one) first drops what an earlier read of that side and kind staged. Records never travel
through Temporal: the workflow gets counts back.

The ledger is the store's own: the ERP's time-bill snapshot stages the period's ledger rows (and
its invoiced totals) alongside, in one ``INSERT … SELECT`` each.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

from temporalio import activity

from activities._errors import classified
from activities._heartbeat import Checkpoints
from activities.reconciliation import _readers as to_staged
from activities.reconciliation.models import SnapshotCheckpoint, SnapshotRequest, SnapshotResult
from canonical import DateRange
from connectors.kantata import KantataConnector
from connectors.netsuite import NetSuiteConnector
from store import Store
from store.reconciliation import Staged, clear_staged, stage, stage_ledger

TARGET = "netsuite"
PageReader = Callable[[str | None], Awaitable[tuple[list[Staged], int, str | None]]]
"""Reads the page at a cursor: the records to stage, how many were unreadable, the next cursor."""
_INVOICES_WITHIN = timedelta(days=364)
"""Invoices of a period are issued after it: those dated within a year of its start are read."""


class SnapshotActivities:
    """Copies the PSA's and the ERP's records of a period into the staging table, resumably."""

    def __init__(self, kantata: KantataConnector, netsuite: NetSuiteConnector, store: Store) -> None:
        self._kantata = kantata
        self._netsuite = netsuite
        self._store = store

    @activity.defn(name="psa.reconciliation_snapshot")
    @classified
    async def snapshot_psa(self, request: SnapshotRequest) -> SnapshotResult:
        """Stage the PSA's time entries or expenses of the period (every approval status), or its projects."""
        scope, kantata = request.scope, self._kantata
        size = min(request.page_size, 200)  # Kantata's largest page
        if request.kind == "project":

            async def projects(cursor: str | None) -> tuple[list[Staged], int, str | None]:
                page = await kantata.projects_page(cursor=cursor, per_page=size)
                rows = [to_staged.project(r) for r in page.items]
                return [r for r in rows if scope.project_id in (None, r.record_id)], 0, page.next_cursor

            return await self._pages(request, projects)
        workspace: str | None = None
        if scope.project_id is not None:
            workspace = await kantata.find_project_by_external_id(scope.project_id)
            if workspace is None:
                return SnapshotResult(side="psa", kind=request.kind, staged=0, pages=0, skipped="no such PSA project")
        span = (scope.start, scope.end)

        async def records(cursor: str | None) -> tuple[list[Staged], int, str | None]:
            if request.kind == "time_entry":
                entries = await kantata.time_entries_page(
                    approved=None, performed_between=span, workspace_id=workspace, cursor=cursor, per_page=size
                )
                return [to_staged.time_entry(e) for e in entries.items], len(entries.unreadable), entries.next_cursor
            expenses = await kantata.expenses_page(
                approved=None, incurred_between=span, workspace_id=workspace, cursor=cursor, per_page=size
            )
            return [to_staged.expense(e) for e in expenses.items], len(expenses.unreadable), expenses.next_cursor

        return await self._pages(request, records)

    @activity.defn(name="erp.reconciliation_snapshot")
    @classified
    async def snapshot_erp(self, request: SnapshotRequest) -> SnapshotResult:
        """Stage the ERP's time bills, expense reports, jobs or invoices of the period (time bills: and the ledger)."""
        scope, netsuite, size = request.scope, self._netsuite, request.page_size
        if request.kind == "time_entry":
            await asyncio.to_thread(
                stage_ledger,
                self._store,
                scope.run_key,
                start=scope.start,
                end=scope.end,
                period=scope.period,
                project_id=scope.project_id,
                target=TARGET,
            )
        if request.kind == "project":

            async def jobs(cursor: str | None) -> tuple[list[Staged], int, str | None]:
                page = await netsuite.jobs_page(cursor=cursor, page_size=size)
                rows = [to_staged.job(r) for r in page.items]
                return [r for r in rows if scope.project_id in (None, r.record_id)], 0, page.next_cursor

            return await self._pages(request, jobs)
        job: str | None = None
        if scope.project_id is not None:
            found = await netsuite.find_job(scope.project_id)
            if found is None:
                return SnapshotResult(side="erp", kind=request.kind, staged=0, pages=0, skipped="no such ERP job")
            job = found.internal_id
        period = DateRange(start=scope.start, end=scope.end)
        project_of = self._projects(scope.project_id)

        async def records(cursor: str | None) -> tuple[list[Staged], int, str | None]:
            if request.kind == "time_entry":
                bills = await netsuite.time_bills_page(
                    job_internal_id=job, period=period, cursor=cursor, page_size=size
                )
                rows = [to_staged.time_bill(r, await project_of(r.job_internal_id)) for r in bills.items]
                return rows, 0, bills.next_cursor
            if request.kind == "expense":
                reports = await netsuite.expense_reports_page(period=period, cursor=cursor, page_size=size)
                mine = [r for r in reports.items if job is None or r.job_internal_id == job]
                rows = [to_staged.expense_report(r, await project_of(r.job_internal_id)) for r in mine]
                return rows, 0, reports.next_cursor
            issued = None if job else DateRange(start=scope.start, end=scope.start + _INVOICES_WITHIN)
            invoices = await netsuite.invoices_page(period=issued, job_internal_id=job, cursor=cursor, page_size=size)
            billing = [
                r
                for r in invoices.items
                if to_staged.invoices_period(r, scope.period, scope.start, scope.end, scope.project_id)
            ]
            rows = [to_staged.invoice(r, await project_of(r.job_internal_id)) for r in billing]
            return rows, 0, invoices.next_cursor

        return await self._pages(request, records)

    def _projects(self, project_id: str | None) -> Callable[[str | None], Awaitable[str | None]]:
        """The canonical project of an ERP job, from the id map posting and provisioning keep (cached per call)."""
        known: dict[str, str | None] = {}

        async def project_of(job_id: str | None) -> str | None:
            if project_id is not None or job_id is None:
                return project_id
            if job_id not in known:
                known[job_id] = await asyncio.to_thread(self._store.canonical_id, "project", TARGET, job_id)
            return known[job_id]

        return project_of

    async def _pages(self, request: SnapshotRequest, read: PageReader) -> SnapshotResult:
        beat = Checkpoints(SnapshotCheckpoint, SnapshotCheckpoint())
        point = beat.last
        resumed_at = point.pages
        if point.pages == 0:
            await asyncio.to_thread(clear_staged, self._store, request.scope.run_key, request.side, request.kind)
        while not point.done:
            records, unreadable, after = await read(point.cursor)
            staged = await asyncio.to_thread(stage, self._store, request.scope.run_key, records)
            point = SnapshotCheckpoint(
                cursor=after,
                pages=point.pages + 1,
                staged=point.staged + staged,
                unreadable=point.unreadable + unreadable,
                done=after is None,
            )
            beat.save(point)
        return SnapshotResult(
            side=request.side,
            kind=request.kind,
            staged=point.staged,
            pages=point.pages,
            unreadable=point.unreadable,
            resumed_at_page=resumed_at,
        )
