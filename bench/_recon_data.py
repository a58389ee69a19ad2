"""What the reconciliation benchmark arranges around its run: a period of N entries, posted; the raw read; drift.

The period is the month before the sandbox's anchor: ended (so a reconciliation of it is final, not
provisional) and still open in NetSuite's emulator (its seed closes periods before last month), so
posting accepts it. The N entries go on that month's last Saturday, which the demo firm (business
days only) leaves empty, written into the sandbox file before it starts (`bench._posting_data`);
the demo firm's own work in the month stays, and every day of the month with approved time or
expenses is posted through the real posting workflow before anything is timed, so a clean period
reconciles clean.

The raw baseline reads what a reconciliation reads, through the same connectors and page sizes and
all listings at once as the workflow does, and keeps nothing: no staging, no comparing, no Temporal.

Drift is made the way a person makes it in NetSuite: a time bill's hours edited through SuiteTalk
REST (``connectors.netsuite.drift.set_time_bill_hours``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any

from sqlmodel import col, func, select
from temporalio.client import Client

from canonical import DateRange
from connectors._core import Page
from stack.connectors import Connectors
from stack.flows import start_posting
from stack.settings import Settings
from store import LedgerEntry, Store
from workflows.post_time_expenses import PostTimeExpensesWorkflow
from workflows.reconcile import ReconcileInput

Say = Callable[[str], None]
Advance = Callable[[str, int, int], None]
PSA_PAGE = 200
"""Kantata's largest page, what posting asks for."""
RECON_PAGE = ReconcileInput().page_size
"""The page the reconciliation's snapshots read both systems by (Kantata's capped at 200)."""
_PROGRESS_EVERY_S = 5.0


def bench_period(anchor: date) -> tuple[DateRange, date]:
    """The month before ``anchor``, and its last Saturday (where the benchmark's entries go)."""
    end = anchor.replace(day=1) - timedelta(days=1)
    saturday = end - timedelta(days=(end.weekday() - 5) % 7)
    return DateRange(start=end.replace(day=1), end=end), saturday


def days_of(period: DateRange) -> list[date]:
    """Every day of the period, in order."""
    return [period.start + timedelta(days=offset) for offset in range((period.end - period.start).days + 1)]


async def days_with_approved_work(connectors: Connectors, period: DateRange) -> list[date]:
    """The days of the period with approved time or expenses in the PSA: what the daily posting would post."""
    found = []
    for day in days_of(period):
        entries = await connectors.kantata.time_entries_page(approved=True, performed_on=day, per_page=1)
        expenses = await connectors.kantata.expenses_page(approved=True, incurred_on=day, per_page=1)
        if entries.items or expenses.items:
            found.append(day)
    return found


async def post_days(
    client: Client, settings: Settings, days: list[date], entries: int, advance: Advance
) -> dict[str, Any]:
    """Post each day through ``PostTimeExpensesWorkflow``, one after another; the totals."""
    totals: dict[str, Any] = {"days": len(days), "posted": 0, "already_posted": 0, "rejected": 0, "failed": 0}
    started = time.perf_counter()
    done_before = 0
    for day in days:
        handle = await start_posting(client, settings, day, page_size=PSA_PAGE)
        result = asyncio.ensure_future(handle.result())
        while not result.done():
            await asyncio.wait([result], timeout=_PROGRESS_EVERY_S)
            if not result.done():
                try:
                    progress = await handle.query(PostTimeExpensesWorkflow.progress)
                except Exception:  # a query can miss while the run continues as new; the next one answers
                    continue
                done = done_before + progress.counts.total
                advance("posting", done, max(entries, done))
        outcome = result.result()
        for key in ("posted", "already_posted", "rejected", "failed"):
            totals[key] += getattr(outcome, key)
        done_before = totals["posted"] + totals["already_posted"] + totals["rejected"] + totals["failed"]
        advance("posting", done_before, max(entries, done_before))
    totals["seconds"] = round(time.perf_counter() - started, 2)
    return totals


def _ledger_rows(store: Store, period: DateRange) -> int:
    """The ledger's rows of the period, read row by row as a snapshot would (kept: none)."""
    query = select(LedgerEntry).where(
        col(LedgerEntry.business_date) >= period.start, col(LedgerEntry.business_date) <= period.end
    )
    with store.session() as session:
        return sum(1 for _ in session.exec(query.execution_options(yield_per=RECON_PAGE)))


def ledger_count(store: Store, period: DateRange) -> int:
    """How many ledger rows the period has."""
    query = select(func.count()).where(
        col(LedgerEntry.business_date) >= period.start, col(LedgerEntry.business_date) <= period.end
    )
    with store.session() as session:
        return int(session.exec(query).one())


async def _count_pages(read: Callable[[str | None], Awaitable[Page[Any]]]) -> tuple[int, int, float]:
    """Every page of a listing, read and dropped: (records, pages, seconds until its last page)."""
    records = pages = 0
    cursor: str | None = None
    started = time.perf_counter()
    while True:
        page = await read(cursor)
        records, pages = records + len(page.items), pages + 1
        if (cursor := page.next_cursor) is None:
            return records, pages, time.perf_counter() - started


async def read_raw(connectors: Connectors, store: Store, period: DateRange) -> tuple[dict[str, int], dict[str, float]]:
    """Every page a reconciliation of the period reads, through the same connectors, all listings at once; counts.

    What ``ReconcileWorkflow`` reads (``workflows.reconcile.EVERYTHING``), in parallel as it does: the
    PSA's time entries, expenses (every approval state) and projects; the ERP's time bills, expense
    reports, jobs and invoices (issued within a year of the period's start); the ledger's rows.

    Returns:
        Records read per listing (and ``pages`` in all); seconds each listing took, read alongside the others.
    """
    kantata, netsuite, size = connectors.kantata, connectors.netsuite, RECON_PAGE
    psa_size = min(size, PSA_PAGE)
    span = (period.start, period.end)
    issued = DateRange(start=period.start, end=period.start + timedelta(days=364))
    listings: dict[str, Callable[[str | None], Awaitable[Page[Any]]]] = {
        "psa_time_entries": lambda cursor: kantata.time_entries_page(
            approved=None, performed_between=span, cursor=cursor, per_page=psa_size
        ),
        "psa_expenses": lambda cursor: kantata.expenses_page(
            approved=None, incurred_between=span, cursor=cursor, per_page=psa_size
        ),
        "psa_projects": lambda cursor: kantata.projects_page(cursor=cursor, per_page=psa_size),
        "erp_time_bills": lambda cursor: netsuite.time_bills_page(period=period, cursor=cursor, page_size=size),
        "erp_expense_reports": lambda cursor: netsuite.expense_reports_page(
            period=period, cursor=cursor, page_size=size
        ),
        "erp_jobs": lambda cursor: netsuite.jobs_page(cursor=cursor, page_size=size),
        "erp_invoices": lambda cursor: netsuite.invoices_page(period=issued, cursor=cursor, page_size=size),
    }
    ledger = asyncio.ensure_future(asyncio.to_thread(_ledger_rows, store, period))
    read = await asyncio.gather(*(_count_pages(listing) for listing in listings.values()))
    counts = {name: records for name, (records, _pages, _s) in zip(listings, read, strict=True)}
    counts["pages"] = sum(pages for _records, pages, _s in read)
    counts["ledger"] = await ledger
    return counts, {name: round(seconds, 2) for name, (_records, _pages, seconds) in zip(listings, read, strict=True)}


async def time_bills_to_edit(connectors: Connectors, day: date, count: int) -> list[tuple[str, int]]:
    """The first ``count`` time bills psflow posted on ``day`` (internal id order): (internal id, minutes)."""
    found: list[tuple[str, int]] = []
    cursor: str | None = None
    on_day = DateRange(start=day, end=day)
    while len(found) < count:
        bills = await connectors.netsuite.time_bills_page(period=on_day, cursor=cursor, page_size=1000)
        found.extend((row.internal_id, row.minutes) for row in bills.items if row.external_id and row.minutes < 600)
        if (cursor := bills.next_cursor) is None:
            break
    return found[:count]


async def inject_hours_drift(connectors: Connectors, day: date, count: int) -> list[str]:
    """Edit ``count`` posted time bills' hours in NetSuite (+30 minutes each); their internal ids."""
    from connectors.netsuite.drift import set_time_bill_hours

    edited = []
    for internal_id, minutes in await time_bills_to_edit(connectors, day, count):
        await set_time_bill_hours(connectors.netsuite, internal_id, minutes + 30)
        edited.append(internal_id)
    return edited
