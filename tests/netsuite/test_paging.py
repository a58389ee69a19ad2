"""Every list method pages through more than one page, and resumes from a cursor."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from canonical import DateRange, Money
from connectors.netsuite import NetSuiteConnector
from sandbox.systems.netsuite import _query as suiteql
from tests.netsuite.conftest import FIRM, OPEN_DAY, time_bills, time_entry

RATE = Money.of("150", "USD")


@pytest.fixture
async def seven_time_bills(netsuite: NetSuiteConnector) -> list[str]:
    """Seven time bills on PRJ-0001, one a day from OPEN_DAY, and their entry ids."""
    job = await netsuite.get_job("PRJ-0001")
    employee = await netsuite.find_employee("E-1001")
    assert job is not None and employee is not None
    ids = []
    for n in range(7):
        entry = time_entry(f"kantata:te-{n}", day=OPEN_DAY + timedelta(days=n))
        await netsuite.write_time_bill(entry, job_internal_id=job.internal_id, employee_internal_id=employee, rate=RATE)
        ids.append(entry.id)
    return ids


async def test_suiteql_pages_until_has_more_is_false(netsuite: NetSuiteConnector) -> None:
    query = "SELECT id, title FROM projecttask ORDER BY id"
    first = await netsuite.suiteql_page(query, page_size=20)
    assert len(first.items) == 20 and first.next_cursor == "20"
    rows = [row async for row in netsuite.suiteql(query, page_size=20)]
    tasks = sum(len(project.tasks) for project in FIRM.projects)
    assert len(rows) == tasks and len({row["id"] for row in rows}) == tasks
    resumed = [row async for row in netsuite.suiteql(query, start="40", page_size=20)]
    assert resumed == rows[40:]


async def test_time_bills_page_by_job_and_by_period(netsuite: NetSuiteConnector, seven_time_bills: list[str]) -> None:
    job = await netsuite.get_job("PRJ-0001")
    assert job is not None
    by_job = await time_bills(netsuite, job_internal_id=job.internal_id, page_size=3)
    assert [bill.external_id for bill in by_job] == seven_time_bills
    week = DateRange(start=OPEN_DAY + timedelta(days=1), end=OPEN_DAY + timedelta(days=5))
    in_week = await time_bills(netsuite, period=week, page_size=2)
    assert [bill.tran_date for bill in in_week] == [week.start + timedelta(days=n) for n in range(5)]
    second = await netsuite.time_bills_page(period=week, page_size=2, cursor=f"after:{in_week[1].internal_id}")
    page = await netsuite.time_bills_page(period=week, page_size=2, cursor=second.next_cursor)
    assert [bill.tran_date for bill in page.items] == [week.end] and page.next_cursor is None
    with pytest.raises(ValueError, match="not a keyset cursor"):
        await netsuite.time_bills_page(period=week, cursor="4")


async def test_listings_page_past_suiteqls_row_cap_one_query_per_page(
    netsuite: NetSuiteConnector, seven_time_bills: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """SuiteQL answers at most 100,000 rows per query; paging one query by offset stopped there silently."""
    monkeypatch.setattr(suiteql, "MAX_ROWS", 3)
    job = await netsuite.get_job("PRJ-0001")
    assert job is not None
    bills = await time_bills(netsuite, job_internal_id=job.internal_id, page_size=2)
    assert [bill.external_id for bill in bills] == seven_time_bills
    rows = [row async for row in netsuite.suiteql("SELECT id FROM timebill ORDER BY id", page_size=2)]
    assert len(rows) == 3  # one query paged by offset: cut at the cap
    assert await time_bills(netsuite, period=DateRange(start=date(2026, 1, 1), end=date(2026, 1, 31))) == []
