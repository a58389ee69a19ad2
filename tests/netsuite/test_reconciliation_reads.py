"""What reconciliation reads of NetSuite, page by page, and the drift people make behind psflow's back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from typing import TypeVar

import pytest

from canonical import ApprovalState, DateRange, Expense, Invoice, InvoiceLine, Money, ProjectStatus
from connectors._core import NotFoundError, Page, paginate
from connectors.netsuite import NetSuiteConnector
from connectors.netsuite.drift import create_job_by_hand, delete_time_bill, set_invoice_line_amount, set_time_bill_hours
from tests.netsuite.conftest import FIRM, OPEN_DAY, PRJ_0001_CLIENT, time_bills, time_entry

T = TypeVar("T")
RATE = Money.of("150", "USD")


async def every(fetch: Callable[[str | None], Awaitable[Page[T]]]) -> tuple[list[T], int]:
    """Every row of a listing and the number of pages it took."""
    pages = 0

    async def counted(cursor: str | None) -> Page[T]:
        nonlocal pages
        pages += 1
        return await fetch(cursor)

    return [row async for row in paginate(counted)], pages


async def _job_and_employee(netsuite: NetSuiteConnector, code: str = "PRJ-0001") -> tuple[str, str]:
    job = await netsuite.get_job(code)
    employee = await netsuite.find_employee("E-1001")
    assert job is not None and employee is not None
    return job.internal_id, employee


async def test_jobs_page_lists_every_job_with_its_customer_and_currency(netsuite: NetSuiteConnector) -> None:
    jobs, pages = await every(lambda cursor: netsuite.jobs_page(cursor=cursor, page_size=2))
    assert pages == (len(FIRM.projects) + 1) // 2
    assert [job.external_id for job in jobs] == [project.code for project in FIRM.projects]
    for job, project in zip(jobs, FIRM.projects, strict=True):
        assert (job.code, job.customer_external_id, job.currency) == (project.code, project.client_id, project.currency)
        assert job.customer_internal_id is not None and job.status is ProjectStatus.ACTIVE and not job.inactive
    assert [int(job.internal_id) for job in jobs] == sorted(int(job.internal_id) for job in jobs)


async def test_a_job_made_by_hand_has_no_external_id(netsuite: NetSuiteConnector) -> None:
    first = await netsuite.get_job("PRJ-0001")
    assert first is not None and first.customer_internal_id is not None
    made = await create_job_by_hand(
        netsuite, customer_internal_id=first.customer_internal_id, name="Side project", currency="USD"
    )
    jobs, _ = await every(lambda cursor: netsuite.jobs_page(cursor=cursor, page_size=3))
    hand_made = [job for job in jobs if job.internal_id == made]
    assert len(hand_made) == 1 and len(jobs) == len(FIRM.projects) + 1
    job = hand_made[0]
    assert (job.external_id, job.name, job.currency) == (None, "Side project", "USD")
    assert (job.customer_internal_id, job.customer_external_id) == (first.customer_internal_id, PRJ_0001_CLIENT)


def _expense(n: int, *, project: str, day_offset: int, amount: str) -> Expense:
    return Expense(
        id=f"kantata:ex-{n}",
        consultant_id="E-1001",
        project_id=project,
        date_incurred=OPEN_DAY + timedelta(days=day_offset),
        category="Rail",
        amount=Money.of(amount, "USD"),
        approval=ApprovalState.SUBMITTED,
    )


async def test_expense_reports_page_reads_job_amount_and_currency_across_pages(netsuite: NetSuiteConnector) -> None:
    first_job, employee = await _job_and_employee(netsuite, "PRJ-0001")
    second_job, _ = await _job_and_employee(netsuite, "PRJ-0002")
    written = {}
    for n in range(5):
        job = first_job if n % 2 == 0 else second_job
        expense = _expense(n, project="PRJ-0001", day_offset=n * 2, amount=f"{10 + n}.25")
        internal = await netsuite.write_expense_report(expense, employee_internal_id=employee, job_internal_id=job)
        written[expense.id] = (internal, job, expense)
    period = DateRange(start=OPEN_DAY, end=OPEN_DAY + timedelta(days=6))  # days 0, 2, 4, 6: four of the five
    reports, pages = await every(
        lambda cursor: netsuite.expense_reports_page(period=period, cursor=cursor, page_size=2)
    )
    assert pages == 2
    assert [r.external_id for r in reports] == [f"kantata:ex-{n}" for n in range(4)]
    for report in reports:
        assert report.external_id is not None
        internal, job, expense = written[report.external_id]
        assert (report.internal_id, report.job_internal_id, report.employee_internal_id) == (internal, job, employee)
        assert (report.tran_date, report.amount, report.currency) == (
            expense.date_incurred,
            expense.amount.amount,
            "USD",
        )


def _invoice(project: str, client: str, *, day_offset: int, hours: int) -> Invoice:
    line = InvoiceLine(description="Consultant hours", quantity=Decimal(hours), unit_price=RATE)
    return Invoice(
        id=f"psflow:inv-{project}-{day_offset}",
        customer_id=client,
        project_id=project,
        period=DateRange(start=OPEN_DAY.replace(day=1), end=OPEN_DAY),
        currency="USD",
        issue_date=OPEN_DAY + timedelta(days=day_offset),
        due_date=OPEN_DAY + timedelta(days=30),
        lines=(line, line.model_copy(update={"description": "Analyst hours"})),
    )


async def test_invoices_page_by_period_and_by_job_and_an_edited_line(netsuite: NetSuiteConnector) -> None:
    ids = {}
    for code, offset, hours in (("PRJ-0001", 0, 10), ("PRJ-0002", 1, 4), ("PRJ-0001", 9, 2)):
        job = await netsuite.get_job(code)
        assert job is not None and job.customer_internal_id is not None
        project = FIRM.project(code)
        invoice = _invoice(code, project.client_id, day_offset=offset, hours=hours)
        refs = {"customer_internal_id": job.customer_internal_id, "job_internal_id": job.internal_id}
        ids[invoice.id] = ((await netsuite.upsert_invoice(invoice, **refs)).internal_id, job.internal_id)
    week = DateRange(start=OPEN_DAY, end=OPEN_DAY + timedelta(days=6))
    in_week, pages = await every(lambda cursor: netsuite.invoices_page(period=week, cursor=cursor, page_size=1))
    assert pages == 2
    assert [(i.external_id, i.total, i.currency) for i in in_week] == [
        ("psflow:inv-PRJ-0001-0", Decimal(3000), "USD"),
        ("psflow:inv-PRJ-0002-1", Decimal(1200), "USD"),
    ]
    first_internal, first_job = ids["psflow:inv-PRJ-0001-0"]
    by_job, _ = await every(
        lambda cursor: netsuite.invoices_page(job_internal_id=first_job, cursor=cursor, page_size=1)
    )
    assert [i.external_id for i in by_job] == ["psflow:inv-PRJ-0001-0", "psflow:inv-PRJ-0001-9"]
    assert all(i.job_internal_id == first_job and i.start_date == OPEN_DAY.replace(day=1) for i in by_job)

    await set_invoice_line_amount(netsuite, first_internal, line=1, amount=Decimal("1400.50"))
    edited = await netsuite.invoices_page(period=DateRange(start=OPEN_DAY, end=OPEN_DAY))
    assert [(i.internal_id, i.total) for i in edited.items] == [(first_internal, Decimal("2900.50"))]


async def test_a_time_bill_edited_or_deleted_by_hand_reads_back_changed(netsuite: NetSuiteConnector) -> None:
    job, employee = await _job_and_employee(netsuite)
    internal = {}
    for n in range(3):
        entry = time_entry(f"kantata:te-{n}", day=OPEN_DAY + timedelta(days=n), minutes=450)
        internal[entry.id] = await netsuite.write_time_bill(
            entry, job_internal_id=job, employee_internal_id=employee, rate=RATE
        )
    await set_time_bill_hours(netsuite, internal["kantata:te-0"], 4 * 60 + 15)
    await delete_time_bill(netsuite, internal["kantata:te-1"])
    bills = await time_bills(netsuite, job_internal_id=job, page_size=1)
    assert [(b.external_id, b.minutes, b.amount) for b in bills] == [
        ("kantata:te-0", 255, Decimal("637.5")),
        ("kantata:te-2", 450, Decimal("1125")),
    ]
    with pytest.raises(NotFoundError):
        await delete_time_bill(netsuite, internal["kantata:te-1"])


async def test_suiteql_in_lists_are_bounded(netsuite: NetSuiteConnector) -> None:
    ids = ", ".join(str(n) for n in range(1, 1002))
    with pytest.raises(Exception, match="at most 1000"):
        await netsuite.suiteql_page(f"SELECT id FROM customer WHERE id IN ({ids})")
    customers = await netsuite.suiteql_page("SELECT id FROM customer ORDER BY id", page_size=2)
    wanted = ", ".join(str(row["id"]) for row in customers.items)
    found = await netsuite.suiteql_page(f"SELECT id, externalid FROM customer WHERE id IN ({wanted}) ORDER BY id")
    assert [row["id"] for row in found.items] == [row["id"] for row in customers.items]


async def test_transaction_lines_are_suiteql_only_and_follow_their_transaction(netsuite: NetSuiteConnector) -> None:
    job = await netsuite.get_job("PRJ-0001")
    assert job is not None and job.customer_internal_id is not None
    invoice = _invoice("PRJ-0001", PRJ_0001_CLIENT, day_offset=0, hours=3)
    refs = {"customer_internal_id": job.customer_internal_id, "job_internal_id": job.internal_id}
    internal = (await netsuite.upsert_invoice(invoice, **refs)).internal_id
    query = (
        "SELECT transaction, linesequencenumber, entity, foreignamount, quantity FROM transactionline "
        f"WHERE transaction IN ({internal}) AND foreignamount > 400 ORDER BY linesequencenumber DESC"
    )
    rows = (await netsuite.suiteql_page(query)).items
    three = {"quantity": 3}
    assert rows == [
        {"transaction": internal, "linesequencenumber": n, "entity": job.internal_id, "foreignamount": 450, **three}
        for n in (2, 1)
    ]
    response = await netsuite.client.request("GET", "/record/v1/transactionLine/1", allow={404})
    assert response.status_code == 404 and "transactionLine" in response.text
