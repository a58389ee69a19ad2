"""The connector against the in-process emulator: master data, transactions, periods."""

from __future__ import annotations

import functools
from datetime import date, timedelta
from decimal import Decimal

import httpx
import pytest

from canonical import (
    Address,
    ApprovalState,
    BillingType,
    Customer,
    DateRange,
    Expense,
    Invoice,
    InvoiceLine,
    Money,
    Project,
    Task,
)
from connectors._core import BusinessError, PermanentError
from connectors.netsuite import NetSuiteConnector, is_closed_period
from tests.netsuite.conftest import CLOSED_DAY, FIRM, OPEN_DAY, PRJ_0001_CLIENT, count, settings, time_bills, time_entry

RATE = Money.of("150", "USD")
NEW_CUSTOMER = Customer(
    id="salesforce:001Q000001NEWCO",
    name="Harbourline Shipping",
    currency="EUR",
    payment_terms="Net 30",
    billing_address=Address(line1="Kade 12", city="Rotterdam", postal_code="3011", country="NL"),
)
NEW_PROJECT = Project(
    id="salesforce:006Q000001WIN",
    code="PRJ-0100",
    name="Harbourline - Fleet analytics",
    customer_id=NEW_CUSTOMER.id,
    budget=Money.of("90000", "EUR"),
    start_date=date(2026, 12, 1),
    end_date=date(2027, 3, 31),
    rate_card_id="RC-EUR",
)


async def _refs(netsuite: NetSuiteConnector) -> tuple[str, str]:
    job = await netsuite.get_job("PRJ-0001")
    employee = await netsuite.find_employee("E-1001")
    assert job is not None and employee is not None
    return job.internal_id, employee


async def test_the_seeded_master_data_is_found(netsuite: NetSuiteConnector) -> None:
    job = await netsuite.get_job("PRJ-0001")
    assert job is not None and job.code == "PRJ-0001" and not job.inactive
    assert await netsuite.find_employee("E-1001") is not None
    assert await netsuite.find_employee("E-9999") is None
    assert await netsuite.get_job("PRJ-9999") is None
    customer = await netsuite.get_customer(PRJ_0001_CLIENT)
    assert customer is not None and customer.billing_address is not None
    assert customer.payment_terms == FIRM.client(PRJ_0001_CLIENT).payment_terms


async def test_provisioning_upserts_are_idempotent_by_external_id(
    netsuite: NetSuiteConnector, admin: httpx.AsyncClient
) -> None:
    customers, jobs, tasks = [await count(admin, k) for k in ("customer", "job", "projectTask")]
    for _ in range(2):
        customer_id = await netsuite.upsert_customer(NEW_CUSTOMER)
        job_id = await netsuite.upsert_job(
            NEW_PROJECT,
            customer_internal_id=customer_id,
            billing_type=BillingType.FIXED_FEE,
            currency="EUR",
            terms="Net 30",
            rate_card_id="RC-EUR",
        )
        task_id = await netsuite.upsert_project_task(
            Task(id="salesforce:00kQ1", project_id=NEW_PROJECT.id, name="Discovery", budget_hours=Decimal(40)),
            job_internal_id=job_id,
        )
    assert (await count(admin, "customer"), await count(admin, "job"), await count(admin, "projectTask")) == (
        customers + 1,
        jobs + 1,
        tasks + 1,
    )
    assert await netsuite.get_customer(NEW_CUSTOMER.id) == NEW_CUSTOMER
    job = await netsuite.get_job(NEW_PROJECT.id)
    assert job is not None and (job.internal_id, job.customer_internal_id) == (job_id, customer_id)
    assert task_id.isdigit()


async def test_inactivating_a_job_is_idempotent_and_an_upsert_reactivates_it(netsuite: NetSuiteConnector) -> None:
    await netsuite.inactivate_job("PRJ-0002")
    await netsuite.inactivate_job("PRJ-0002")
    await netsuite.inactivate_job("never-provisioned")
    job = await netsuite.get_job("PRJ-0002")
    assert job is not None and job.inactive
    customer_id = await netsuite.upsert_customer(NEW_CUSTOMER)
    project = NEW_PROJECT.model_copy(update={"id": "PRJ-0002"})
    await netsuite.upsert_job(
        project, customer_internal_id=customer_id, billing_type=BillingType.FIXED_FEE, currency="EUR",
        terms=None, rate_card_id=None,
    )  # fmt: skip
    job = await netsuite.get_job("PRJ-0002")
    assert job is not None and not job.inactive


class Recording(httpx.AsyncBaseTransport):
    """The emulator's transport, keeping every request the connector sends."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner, self.requests = inner, list[httpx.Request]()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self.inner.handle_async_request(request)


async def test_a_redo_after_the_compensation_reactivates_the_same_job(transport: httpx.ASGITransport) -> None:
    # Provision, compensate, provision again with the very same body: NetSuite must apply the redo.
    recording = Recording(transport)
    async with NetSuiteConnector(settings(), transport=recording) as netsuite:
        customer_id = await netsuite.upsert_customer(NEW_CUSTOMER)
        upsert = functools.partial(
            netsuite.upsert_job, NEW_PROJECT, customer_internal_id=customer_id,
            billing_type=BillingType.FIXED_FEE, currency="EUR", terms="Net 30", rate_card_id="RC-EUR",
        )  # fmt: skip
        first = await upsert()
        await netsuite.inactivate_job(NEW_PROJECT.id)
        again = await upsert()
        record = await netsuite.get_job(NEW_PROJECT.id)
    assert again == first and record is not None and not record.inactive
    # Synchronous upserts rest on the external id; NetSuite ignores an idempotency key on them.
    writes = [r for r in recording.requests if r.method in ("PUT", "PATCH", "POST") and "/record/" in r.url.path]
    assert writes and not any("X-NetSuite-Idempotency-Key" in r.headers for r in writes)


async def test_write_methods_upsert_blind_and_never_duplicate(
    netsuite: NetSuiteConnector, admin: httpx.AsyncClient
) -> None:
    job_id, employee_id = await _refs(netsuite)
    entry = time_entry(notes="Workshop")
    refs = {"job_internal_id": job_id, "employee_internal_id": employee_id}
    first = await netsuite.write_time_bill(entry, rate=RATE, **refs)
    again = await netsuite.write_time_bill(entry.model_copy(update={"minutes": 360}), rate=RATE, **refs)
    assert first == again and await count(admin, "timeBill") == 1
    bills = await time_bills(netsuite, job_internal_id=job_id)
    assert [(b.external_id, b.minutes, b.rate) for b in bills] == [(entry.id, 360, Decimal(150))]
    expense = Expense(
        id="kantata:ex-2",
        consultant_id="E-1001",
        project_id="PRJ-0001",
        date_incurred=OPEN_DAY,
        category="Rail",
        amount=Money.of("80.00", "USD"),
        approval=ApprovalState.SUBMITTED,
    )
    report = await netsuite.write_expense_report(expense, employee_internal_id=employee_id, job_internal_id=job_id)
    assert report == await netsuite.write_expense_report(
        expense, employee_internal_id=employee_id, job_internal_id=job_id
    )
    assert await count(admin, "expenseReport") == 1


async def test_a_closed_period_refuses_the_time_bill_and_stores_nothing(
    netsuite: NetSuiteConnector, admin: httpx.AsyncClient
) -> None:
    job_id, employee_id = await _refs(netsuite)
    assert await netsuite.period_is_open(OPEN_DAY)
    assert not await netsuite.period_is_open(CLOSED_DAY)
    assert not await netsuite.period_is_open(date(2031, 1, 1))
    with pytest.raises(BusinessError) as refused:
        await netsuite.write_time_bill(
            time_entry(day=CLOSED_DAY), job_internal_id=job_id, employee_internal_id=employee_id, rate=RATE
        )
    assert refused.value.status == 400 and refused.value.code == "INVALID_FLD_VALUE"
    assert is_closed_period(refused.value)
    assert await count(admin, "timeBill") == 0


async def test_reopening_a_period_through_admin_lets_the_posting_through(
    netsuite: NetSuiteConnector, admin: httpx.AsyncClient
) -> None:
    job_id, employee_id = await _refs(netsuite)
    (await admin.put(f"/_admin/netsuite/periods/{CLOSED_DAY:%Y-%m}", json={"closed": False})).raise_for_status()
    assert await netsuite.period_is_open(CLOSED_DAY)
    await netsuite.write_time_bill(
        time_entry(day=CLOSED_DAY), job_internal_id=job_id, employee_internal_id=employee_id, rate=RATE
    )
    assert await count(admin, "timeBill") == 1
    (await admin.put(f"/_admin/netsuite/periods/{OPEN_DAY:%Y-%m}", json={"closed": True})).raise_for_status()
    assert not await netsuite.period_is_open(OPEN_DAY)


async def test_a_time_bill_for_a_missing_job_or_employee_is_refused(netsuite: NetSuiteConnector) -> None:
    job_id, employee_id = await _refs(netsuite)
    for job, employee in ((job_id, "999999"), ("999999", employee_id)):
        with pytest.raises(BusinessError) as refused:
            await netsuite.write_time_bill(time_entry(), job_internal_id=job, employee_internal_id=employee, rate=RATE)
        assert refused.value.code == "INVALID_KEY_OR_REF"
        assert "999999" in refused.value.message


async def test_expense_reports_post_once(netsuite: NetSuiteConnector, admin: httpx.AsyncClient) -> None:
    job_id, employee_id = await _refs(netsuite)
    expense = Expense(
        id="kantata:ex-1",
        consultant_id="E-1001",
        project_id="PRJ-0001",
        date_incurred=OPEN_DAY,
        category="Rail",
        amount=Money.of("123.45", "USD"),
        description="Rail to client",
        approval=ApprovalState.SUBMITTED,
    )
    first = await netsuite.write_expense_report(expense, employee_internal_id=employee_id, job_internal_id=job_id)
    taxi = expense.model_copy(update={"category": "Taxi"})
    changed = await netsuite.write_expense_report(taxi, employee_internal_id=employee_id, job_internal_id=job_id)
    assert first == changed and await count(admin, "expenseReport") == 1
    unknown = expense.model_copy(update={"category": "Yacht"})
    with pytest.raises(PermanentError, match="EXPENSE_CATEGORY_IDS"):
        await netsuite.write_expense_report(unknown, employee_internal_id=employee_id, job_internal_id=job_id)


async def test_an_invoice_replaces_its_lines_on_update(netsuite: NetSuiteConnector, admin: httpx.AsyncClient) -> None:
    job = await netsuite.get_job("PRJ-0001")
    assert job is not None and job.customer_internal_id is not None
    line = InvoiceLine(description="Consultant hours", quantity=Decimal(10), unit_price=Money.of("150", "USD"))
    invoice = Invoice(
        id="psflow:inv-PRJ-0001-2026-11",
        customer_id=PRJ_0001_CLIENT,
        project_id="PRJ-0001",
        period=DateRange(start=OPEN_DAY.replace(day=1), end=OPEN_DAY),
        currency="USD",
        issue_date=OPEN_DAY,
        due_date=OPEN_DAY + timedelta(days=30),
        lines=(line, line.model_copy(update={"description": "Analyst hours"})),
    )
    refs = {"customer_internal_id": job.customer_internal_id, "job_internal_id": job.internal_id}
    first = await netsuite.upsert_invoice(invoice, **refs)
    shorter = invoice.model_copy(update={"lines": (line,)})
    changed = await netsuite.upsert_invoice(shorter, **refs)
    again = await netsuite.upsert_invoice(shorter, **refs)
    assert (first.created, changed.updated, again.created, again.updated) == (True, True, False, False)
    rows = [row async for row in netsuite.suiteql(f"SELECT id, total FROM invoice WHERE id = {first.internal_id}")]
    assert rows == [{"id": first.internal_id, "total": 1500.0}]
    assert await count(admin, "invoice") == 1
