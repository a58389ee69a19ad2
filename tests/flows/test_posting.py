"""Daily time & expense posting end to end: real dev server, the worker's wiring, connectors and emulators.

Each test posts its own business date (seeded days counted back from the newest, or days of its
own making), because the sandbox is shared by the whole session; assertions look at that date only.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

import httpx
from temporalio.client import Client

import worker
from canonical import DateRange, TimeEntry
from connectors._core import paginate
from sandbox.seed import DemoFirm
from stack.connectors import Connectors
from stack.flows import start_posting
from stack.settings import Settings
from store import Store
from tests.conftest import anchor_month_day
from workflows.post_time_expenses import PostTimeExpensesResult


def seeded_day(back: int) -> date:
    """The ``back``-th newest business day with approved time in the demo firm (1 = the newest)."""
    firm = DemoFirm.generate()
    days = sorted({e.date_performed for e in firm.time_entries if e.approval_state == "approved"})
    return days[-back]


async def post(client: Client, settings: Settings, day: date, **options: Any) -> PostTimeExpensesResult:
    return await (await start_posting(client, settings, day, **options)).result()


async def approved_time(connectors: Connectors, day: date) -> list[TimeEntry]:
    """The PSA's approved time entries dated ``day``."""
    kantata = connectors.kantata
    return [e async for e in paginate(lambda c: kantata.time_entries_page(approved=True, performed_on=day, cursor=c))]


async def approved(connectors: Connectors, day: date) -> tuple[set[str], set[str]]:
    """The PSA's approved time entry and expense ids dated ``day``."""
    kantata = connectors.kantata
    expenses = paginate(lambda c: kantata.expenses_page(approved=True, incurred_on=day, cursor=c))
    return {e.id for e in await approved_time(connectors, day)}, {e.id async for e in expenses}


async def in_erp(connectors: Connectors, day: date) -> tuple[Counter[str], Counter[str]]:
    """External ids of the ERP's time bills and expense reports dated ``day``, with how often each occurs."""
    period = DateRange(start=day, end=day)
    netsuite = connectors.netsuite
    bills = Counter(
        [str(b.external_id) async for b in paginate(lambda c: netsuite.time_bills_page(period=period, cursor=c))]
    )
    on = f"TO_DATE('{day.isoformat()}', 'YYYY-MM-DD')"
    query = f"SELECT id, externalid FROM expensereport WHERE trandate = {on}"
    reports = Counter([str(row["externalid"]) async for row in connectors.netsuite.suiteql(query)])
    return bills, reports


def ledger_ids(settings: Settings, day: date) -> set[str]:
    from sqlmodel import select

    from store import LedgerEntry

    store = Store(settings.store_url)
    with store.session() as session:
        rows = session.exec(select(LedgerEntry.source_id).where(LedgerEntry.business_date == day)).all()
    store.engine.dispose()
    return set(rows)


async def netsuite_governance(sandbox_url: str, **change: Any) -> dict[str, Any]:
    """Set (or, without arguments, read) the NetSuite emulator's concurrency limit and service time."""
    async with httpx.AsyncClient(base_url=f"{sandbox_url}/_admin/netsuite") as http:
        if change:
            (await http.put("/concurrency", json=change)).raise_for_status()
        state = (await http.get("/state")).json()
    return dict(state)


async def test_a_day_posts_exactly_once_saturating_the_erp_limit_and_a_rerun_duplicates_nothing(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors
) -> None:
    day = seeded_day(8)
    time_ids, expense_ids = await approved(connectors, day)
    assert len(time_ids) > 20, "the demo firm should have a full day of approved time"
    before = await netsuite_governance(flow_settings.sandbox_url)
    await netsuite_governance(flow_settings.sandbox_url, limit=5, service_time_ms=20)
    try:
        async with worker.running_workers(temporal_client, flow_settings):
            # Small pages and a low cap force several continue-as-new hops within one posting.
            handle = await start_posting(
                temporal_client, flow_settings, day, page_size=5, pages_per_activity=1, max_activities_per_run=3
            )
            first = await handle.result()
            governance = await netsuite_governance(flow_settings.sandbox_url)
            second = await post(temporal_client, flow_settings, day)
    finally:
        await netsuite_governance(
            flow_settings.sandbox_url, limit=before["concurrency_limit"], service_time_ms=before["service_time_ms"]
        )

    total = len(time_ids) + len(expense_ids)
    assert (first.posted, first.already_posted, first.rejected, first.failed) == (total, 0, 0, 0), first
    assert first.runs >= 3 and not first.nothing_to_post
    assert (second.posted, second.already_posted, second.rejected, second.failed) == (0, total, 0, 0), second
    bills, reports = await in_erp(connectors, day)
    assert set(bills) >= time_ids and all(bills[i] == 1 for i in time_ids)
    assert set(reports) >= expense_ids and all(reports[i] == 1 for i in expense_ids)
    assert ledger_ids(flow_settings, day) == time_ids | expense_ids
    # The connector's shared budget kept NetSuite's five slots busy and never asked for a sixth.
    assert governance["peak_in_flight"] == 5 and governance["rejected"] == 0, governance


async def test_a_time_box_shorter_than_a_page_still_moves_every_call_forward(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors
) -> None:
    day = seeded_day(9)
    time_ids, expense_ids = await approved(connectors, day)
    async with worker.running_workers(temporal_client, flow_settings):
        result = await post(temporal_client, flow_settings, day, page_size=10, seconds_per_activity=1e-6)
    assert (result.posted, result.rejected, result.failed) == (len(time_ids) + len(expense_ids), 0, 0), result
    assert ledger_ids(flow_settings, day) == time_ids | expense_ids


async def test_a_day_without_approved_records_says_there_was_nothing_to_post(
    temporal_client: Client, flow_settings: Settings
) -> None:
    day = anchor_month_day(3, 27)
    async with worker.running_workers(temporal_client, flow_settings):
        result = await post(temporal_client, flow_settings, day)
    assert result.nothing_to_post and result.posted == result.already_posted == result.rejected == result.failed == 0
    assert result.summary == f"{day}: nothing to post — the PSA has no approved time entries or expenses dated {day}"
