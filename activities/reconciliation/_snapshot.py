"""Snapshots: one side's records of a period copied page by page into the store's staging table.

Each page is staged in one transaction and then heartbeated as the checkpoint (next cursor, counts),
so a worker killed mid-snapshot is retried from the page after the last one staged; a page staged
twice overwrites itself (the staging key is run, side, kind and record id). Records never travel
through Temporal: the workflow gets counts back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from temporalio import activity

from activities._errors import classified
from activities._heartbeat import Checkpoints
from activities.reconciliation.models import SnapshotCheckpoint, SnapshotRequest, SnapshotResult
from canonical import ApprovalState, DateRange, Expense, TimeEntry, bill_for_minutes
from connectors._core import Page
from connectors.kantata import KantataConnector
from connectors.netsuite import NetSuiteConnector, TimeBillRow
from store import Store
from store.reconciliation import Staged, clear_staged, stage, stage_ledger

TARGET = "netsuite"
PageReader = Callable[[str | None], Awaitable[tuple[list[Staged], int, str | None]]]
"""Reads the page at a cursor: the records to stage, how many were unreadable, the next cursor."""


def _time_entry(entry: TimeEntry) -> Staged:
    amount = bill_for_minutes(entry.bill_rate, entry.minutes) if entry.bill_rate is not None else None
    return Staged(
        side="psa",
        kind="time_entry",
        record_id=entry.id,
        project_id=entry.project_id,
        business_date=entry.date_performed,
        minutes=entry.minutes,
        amount=None if amount is None else amount.amount,
        currency=None if amount is None else amount.currency,
        approved=entry.approval is ApprovalState.APPROVED,
        detail={"status": entry.approval.value},
    )


def _expense(expense: Expense) -> Staged:
    return Staged(
        side="psa",
        kind="expense",
        record_id=expense.id,
        project_id=expense.project_id,
        business_date=expense.date_incurred,
        amount=expense.amount.amount,
        currency=expense.amount.currency,
        approved=expense.approval is ApprovalState.APPROVED,
        detail={"status": expense.approval.value},
    )


def _time_bill(row: TimeBillRow, project_id: str | None) -> Staged:
    return Staged(
        side="erp",
        kind="time_entry",
        record_id=row.external_id or f"{TARGET}:{row.internal_id}",
        project_id=project_id,
        business_date=row.tran_date,
        minutes=row.minutes,
        detail={"internal_id": row.internal_id, **({"rate": str(row.rate)} if row.rate is not None else {})},
    )


class SnapshotActivities:
    """Copies the PSA's and the ERP's records of a period into the staging table, resumably."""

    def __init__(self, kantata: KantataConnector, netsuite: NetSuiteConnector, store: Store) -> None:
        self._kantata = kantata
        self._netsuite = netsuite
        self._store = store

    @activity.defn(name="psa.reconciliation_snapshot")
    @classified
    async def snapshot_psa(self, request: SnapshotRequest) -> SnapshotResult:
        """Stage the PSA's time entries or expenses of the period, of every approval status."""
        scope = request.scope
        workspace: str | None = None
        if scope.project_id is not None:
            workspace = await self._kantata.find_project_by_external_id(scope.project_id)
            if workspace is None:
                return SnapshotResult(side="psa", kind=request.kind, staged=0, pages=0, skipped="no such PSA project")
        span = (scope.start, scope.end)
        size = min(request.page_size, 200)  # Kantata's largest page

        async def read(cursor: str | None) -> tuple[list[Staged], int, str | None]:
            if request.kind == "time_entry":
                entries = await self._kantata.time_entries_page(
                    approved=None, performed_between=span, workspace_id=workspace, cursor=cursor, per_page=size
                )
                return [_time_entry(e) for e in entries.items], len(entries.unreadable), entries.next_cursor
            expenses = await self._kantata.expenses_page(
                approved=None, incurred_between=span, workspace_id=workspace, cursor=cursor, per_page=size
            )
            return [_expense(e) for e in expenses.items], len(expenses.unreadable), expenses.next_cursor

        return await self._pages(request, read)

    @activity.defn(name="erp.reconciliation_snapshot")
    @classified
    async def snapshot_erp(self, request: SnapshotRequest) -> SnapshotResult:
        """Stage the ERP's time bills of the period; the ledger's rows are staged alongside, in one statement."""
        scope = request.scope
        if request.kind == "time_entry":
            # The ledger is the store's own: staged here, where the ERP side it is compared with is.
            await asyncio.to_thread(
                stage_ledger,
                self._store,
                scope.run_key,
                start=scope.start,
                end=scope.end,
                project_id=scope.project_id,
                target=TARGET,
            )
        job: str | None = None
        if scope.project_id is not None:
            found = await self._netsuite.find_job(scope.project_id)
            if found is None:
                return SnapshotResult(side="erp", kind=request.kind, staged=0, pages=0, skipped="no such ERP job")
            job = found.internal_id
        period = DateRange(start=scope.start, end=scope.end)
        projects: dict[str, str | None] = {}

        async def project_of(job_id: str | None) -> str | None:
            if job_id is None:
                return None
            if job_id not in projects:
                projects[job_id] = scope.project_id or await asyncio.to_thread(
                    self._store.canonical_id, "project", TARGET, job_id
                )
            return projects[job_id]

        async def read(cursor: str | None) -> tuple[list[Staged], int, str | None]:
            bills: Page[TimeBillRow] = await self._netsuite.time_bills_page(
                job_internal_id=job, period=period, cursor=cursor, page_size=request.page_size
            )
            staged = [_time_bill(row, await project_of(row.job_internal_id)) for row in bills.items]
            return staged, 0, bills.next_cursor

        if request.kind != "time_entry":
            return SnapshotResult(side="erp", kind=request.kind, staged=0, pages=0, skipped="not read yet")
        return await self._pages(request, read)

    async def _pages(self, request: SnapshotRequest, read: PageReader) -> SnapshotResult:
        beat = Checkpoints(SnapshotCheckpoint, SnapshotCheckpoint())
        point = beat.last
        if point.pages == 0:
            # A fresh read (not a resumed one) replaces what an earlier read of this side staged.
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
            side=request.side, kind=request.kind, staged=point.staged, pages=point.pages, unreadable=point.unreadable
        )
