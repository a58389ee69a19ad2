"""Invoicing end to end: posted work in the ledger → one NetSuite invoice per project, period and currency.

Posted work is arranged the way the posting flow leaves it: time bills and expense reports written
to NetSuite through the connector for a seeded project, and the matching ledger rows in the
worker's store. Each test uses its own seeded project, because invoice ids are per project and
period and the sandbox lives for the whole session.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
from temporalio.client import Client
from typer.testing import CliRunner

import cli
import worker
from activities.invoicing import billing_period, previous_period
from canonical import ApprovalState, Expense, Money, TimeEntry
from commands.invoice import start_invoice, start_month
from sandbox.seed import DemoFirm
from stack.connectors import Connectors
from stack.settings import Settings
from store import LedgerEntry, Store
from store.invoicing import INVOICE_POSTED, rows_of_invoice

PERIOD = previous_period(datetime.now(UTC).date())
"""Last month: open in the sandbox's NetSuite, and over, so it can be invoiced."""
DAYS = billing_period(PERIOD)
APPROVED_AT = datetime.combine(DAYS.end, datetime.min.time(), UTC)


@dataclass(frozen=True)
class Work:
    """One piece of posted work: time (hours at a rate) or an expense (amount)."""

    day: date
    amount: Decimal
    hours: Decimal | None = None
    rate: Decimal | None = None
    currency: str = "USD"
    billable: bool = True

    @classmethod
    def time(cls, day: date, hours: str, rate: str, **kw: Any) -> Work:
        """Time as posting records it: the amount is hours times rate, rounded to the cent."""
        amount = (Decimal(hours) * Decimal(rate)).quantize(Decimal("0.01"), ROUND_HALF_UP)
        return cls(day=day, amount=amount, hours=Decimal(hours), rate=Decimal(rate), **kw)

    @classmethod
    def expense(cls, day: date, amount: str, **kw: Any) -> Work:
        return cls(day=day, amount=Decimal(amount), **kw)


async def post_work(connectors: Connectors, store: Store, project_id: str, work: list[Work]) -> list[LedgerEntry]:
    """Post the work to NetSuite on the project's job and record it in the ledger, as posting does."""
    erp = connectors.netsuite
    job = await erp.get_job(project_id)
    employee = await erp.find_employee("E-1003")
    assert job is not None and employee is not None
    rows = []
    for piece in work:
        source_id = f"kantata:inv-{uuid.uuid4().hex[:10]}"
        if piece.hours is not None and piece.rate is not None:
            rate = Money(amount=piece.rate, currency=piece.currency)
            entry = TimeEntry(
                id=source_id,
                consultant_id="e-1003@psflow-demo.example",
                project_id=project_id,
                date_performed=piece.day,
                hours=piece.hours,
                billable=piece.billable,
                bill_rate=rate,
                approval=ApprovalState.APPROVED,
                approved_at=APPROVED_AT,
            )
            posted = await erp.upsert_time_bill(
                entry, job_internal_id=job.internal_id, employee_internal_id=employee, rate=rate
            )
        else:
            expense = Expense(
                id=source_id,
                consultant_id="e-1003@psflow-demo.example",
                project_id=project_id,
                date_incurred=piece.day,
                category="Meals",
                amount=Money(amount=piece.amount, currency=piece.currency),
                billable=piece.billable,
                approval=ApprovalState.APPROVED,
                approved_at=APPROVED_AT,
            )
            posted = await erp.upsert_expense_report(
                expense, employee_internal_id=employee, job_internal_id=job.internal_id
            )
        row = LedgerEntry(
            kind="time_entry" if piece.hours is not None else "expense",
            source_system="kantata",
            source_id=source_id,
            target_system="netsuite",
            target_id=posted.internal_id,
            project_id=project_id,
            business_date=piece.day,
            amount=piece.amount,
            currency=piece.currency,
            billable=piece.billable,
            hours=piece.hours,
            run_id="test-posting",
            approved_at=APPROVED_AT,
        )
        assert store.record_posting(row)
        rows.append(row)
    return rows


async def erp_invoices(connectors: Connectors, project_id: str) -> list[dict[str, Any]]:
    """Every NetSuite invoice on the project's job, read back in full."""
    job = await connectors.netsuite.get_job(project_id)
    assert job is not None
    query = f"SELECT id, externalid FROM invoice WHERE job = {job.internal_id} ORDER BY id"
    found = [row async for row in connectors.netsuite.suiteql(query)]
    expand = {"expandSubResources": "true"}
    return [await connectors.netsuite.client.get_json(f"/record/v1/invoice/{r['id']}", params=expand) for r in found]


async def sink_events(sandbox_url: str, subject: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient() as http:
        body = (await http.get(f"{sandbox_url}/sink/events", params={"subject": subject, "limit": 100})).json()
    return list(body["events"])


def audit_count(store: Store, invoice_id: str) -> int:
    return sum(1 for event in store.audit_trail("invoice", invoice_id) if event.action == INVOICE_POSTED)


async def test_invoice_totals_are_billable_hours_times_rates_plus_expenses_per_currency(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors
) -> None:
    project = "PRJ-0009"  # the USD and EUR work make two invoices, whatever the job's own currency
    first, mid, last = DAYS.start, DAYS.start + timedelta(days=10), DAYS.end
    store = Store(flow_settings.store_url)
    store.upgrade()
    rows = await post_work(
        connectors,
        store,
        project,
        [
            Work.time(first, "7.5", "185.00"),
            Work.time(mid, "6.25", "185.00"),
            Work.time(mid, "8", "240.00"),
            Work.time(last, "1.75", "212.50"),  # the ledger rounds each entry: 371.88 ...
            Work.time(last, "0.25", "212.50"),  # ... and 53.13; the invoice rounds its line once: 425.00
            Work.time(mid, "4", "185.00", billable=False),
            Work.time(datetime.now(UTC).date(), "8", "185.00"),  # after the period: next cycle's
            Work.expense(first, "42.50"),
            Work.expense(last, "118.20"),
            Work.expense(mid, "99.99", billable=False),
            Work.expense(mid, "310.45", currency="EUR"),
        ],
    )
    async with worker.running_workers(temporal_client, flow_settings):
        handle, already = await start_invoice(temporal_client, flow_settings, project, PERIOD)
        result = await handle.result()

    # by hand: 240.00 * 8 = 1920.00; 212.50 * (1.75 + 0.25) = 425.00; 185.00 * (7.5 + 6.25) = 2543.75;
    # expenses 42.50 + 118.20 = 160.70
    usd, eur = f"inv:{project}:{PERIOD}:USD", f"inv:{project}:{PERIOD}:EUR"
    assert not already and result.status == "invoiced"
    assert result.totals == {"USD": Decimal("5049.45"), "EUR": Decimal("310.45")}
    by_id = {invoice.invoice_id: invoice for invoice in result.invoices}
    assert by_id[usd].fees == Decimal("4888.75") and by_id[usd].expenses == Decimal("160.70")
    assert by_id[usd].hours == Decimal("23.75") and by_id[usd].entries == 7
    terms = DemoFirm.generate().client(DemoFirm.generate().project(project).client_id).payment_terms
    assert by_id[usd].due_date == by_id[usd].issue_date + timedelta(days=int(terms.removeprefix("Net ")))

    invoices = {record["externalId"]: record for record in await erp_invoices(connectors, project)}
    assert sorted(invoices) == [eur, usd]
    assert Decimal(str(invoices[usd]["total"])) == Decimal("5049.45")
    assert Decimal(str(invoices[eur]["total"])) == Decimal("310.45")
    lines = [(line["quantity"], line["rate"], line["amount"]) for line in invoices[usd]["item"]["items"]]
    assert lines == [(8, 240, 1920), (2, 212.5, 425), (13.75, 185, 2543.75), (1, 42.5, 42.5), (1, 118.2, 118.2)]
    assert invoices[usd]["startDate"] == DAYS.start.isoformat() and invoices[usd]["endDate"] == DAYS.end.isoformat()

    marked = {row.source_id: row.invoice_id for row in rows_of_invoice(store, f"inv:{project}:{PERIOD}")}
    expected = {
        row.source_id: (eur if row.currency == "EUR" else usd)
        for row in rows
        if row.billable and row.business_date <= DAYS.end
    }
    assert marked == expected
    assert [audit_count(store, invoice) for invoice in (usd, eur)] == [1, 1]
    events = await sink_events(flow_settings.sandbox_url, usd)
    assert [e["type"] for e in events] == ["com.psflow.invoice.posted", "com.psflow.revenue.recognized"]
    assert events[1]["data"] | {"fees": "4888.75", "amount": "5049.45", "period": PERIOD} == events[1]["data"]


async def test_a_project_and_period_is_invoiced_once_however_often_and_concurrently_it_runs(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors
) -> None:
    project = "PRJ-0010"
    store = Store(flow_settings.store_url)
    store.upgrade()
    await post_work(connectors, store, project, [Work.time(DAYS.start, "8", "150.00"), Work.expense(DAYS.end, "25.00")])
    invoice_id = f"inv:{project}:{PERIOD}"
    async with worker.running_workers(temporal_client, flow_settings):
        starts = await asyncio.gather(
            start_invoice(temporal_client, flow_settings, project, PERIOD),
            start_invoice(temporal_client, flow_settings, project, PERIOD),
            start_month(temporal_client, flow_settings, PERIOD),
        )
        results = await asyncio.gather(starts[0][0].result(), starts[1][0].result(), starts[2].result())
        again, already = await start_invoice(temporal_client, flow_settings, project, PERIOD)
        month_again = await (await start_month(temporal_client, flow_settings, PERIOD)).result()
        cli_output = await asyncio.to_thread(_cli, flow_settings, "run", "--project", project)

    assert results[0] == results[1] and results[0].totals == {"USD": Decimal("1225.00")}
    # The month's run invoiced the project itself, found the run started by hand, or came after it.
    assert [(p.project_id, p.outcome) for p in results[2].projects] in (
        [(project, "invoiced")],
        [(project, "already_started")],
        [],
    )
    assert already and (await again.result()) == results[0]
    assert month_again.projects == []  # its rows are all on the posted invoice: nothing left to do
    assert cli_output.exit_code == 0, cli_output.output
    assert "(already invoiced)" in cli_output.output and "1,225.00" in cli_output.output
    assert "Web UI: " in cli_output.output

    invoices = await erp_invoices(connectors, project)
    assert [record["externalId"] for record in invoices] == [invoice_id]
    assert {row.invoice_id for row in rows_of_invoice(store, invoice_id)} == {invoice_id}
    assert len(rows_of_invoice(store, invoice_id)) == 2
    assert audit_count(store, invoice_id) == 1
    events = await sink_events(flow_settings.sandbox_url, invoice_id)
    assert sorted(e["type"] for e in events) == ["com.psflow.invoice.posted", "com.psflow.revenue.recognized"]


async def test_a_project_with_nothing_billable_gets_no_invoice(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors
) -> None:
    project = "PRJ-0011"
    store = Store(flow_settings.store_url)
    store.upgrade()
    await post_work(connectors, store, project, [Work.time(DAYS.start, "3", "200.00", currency="EUR", billable=False)])
    async with worker.running_workers(temporal_client, flow_settings):
        handle, _ = await start_invoice(temporal_client, flow_settings, project, PERIOD)
        result = await handle.result()
        month = await (await start_month(temporal_client, flow_settings, PERIOD)).result()
    assert result.status == "nothing_to_invoice" and result.invoices == [] and result.totals == {}
    assert month.projects == []
    assert await erp_invoices(connectors, project) == []
    assert await sink_events(flow_settings.sandbox_url, f"inv:{project}:{PERIOD}") == []


async def test_an_invoice_committed_whose_answer_was_lost_is_written_once(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors, clear_faults: None
) -> None:
    project = "PRJ-0006"
    store = Store(flow_settings.store_url)
    store.upgrade()
    await post_work(connectors, store, project, [Work.time(DAYS.start, "5", "130.00", currency="GBP")])
    fault = {"commit_then_fail": 1.0, "methods": ["PUT"], "path_regex": "/record/v1/invoice/", "times": 1}
    async with httpx.AsyncClient(base_url=flow_settings.sandbox_url) as http:
        (await http.put("/_admin/faults/netsuite", json=fault)).raise_for_status()
        async with worker.running_workers(temporal_client, flow_settings):
            handle, _ = await start_invoice(temporal_client, flow_settings, project, PERIOD)
            result = await handle.result()
        injected = (await http.get("/_admin/faults")).json()["counters"]["netsuite"]["commit_then_fail"]
    assert injected == 1
    assert result.totals == {"GBP": Decimal("650.00")}
    assert not result.invoices[0].created  # the retry found the invoice the lost answer had committed
    invoices = await erp_invoices(connectors, project)
    assert [(record["externalId"], record["total"]) for record in invoices] == [(f"inv:{project}:{PERIOD}", 650)]
    assert audit_count(store, f"inv:{project}:{PERIOD}") == 1


async def test_a_project_netsuite_does_not_know_fails_in_one_line_and_keeps_its_work_unbilled(
    temporal_client: Client, flow_settings: Settings
) -> None:
    store = Store(flow_settings.store_url)
    store.upgrade()
    row = LedgerEntry(
        kind="expense",
        source_system="kantata",
        source_id=f"kantata:inv-{uuid.uuid4().hex[:10]}",
        target_system="netsuite",
        target_id="1",
        project_id="PRJ-GONE",
        business_date=DAYS.start,
        amount=Decimal("10.00"),
        currency="USD",
        run_id="test-posting",
    )
    assert store.record_posting(row)
    async with worker.running_workers(temporal_client, flow_settings):
        output = await asyncio.to_thread(_cli, flow_settings, "run", "--project", "PRJ-GONE")
        month = await (await start_month(temporal_client, flow_settings, PERIOD)).result()
    assert [(p.project_id, p.outcome) for p in month.projects] == [("PRJ-GONE", "failed")]
    assert "NetSuite has no job with external id 'PRJ-GONE'" in (month.projects[0].error or "")
    assert output.exit_code == 1
    assert output.output.strip().splitlines()[-1] == (
        f"error: invoice:PRJ-GONE:{PERIOD} failed: NetSuite has no job with external id 'PRJ-GONE' under a customer: "
        "provision the project before invoicing it"
    )
    assert [r.invoice_id for r in rows_of_invoice(store, f"inv:PRJ-GONE:{PERIOD}")] == []
    assert store.posting("netsuite", "expense", row.source_id).invoice_id is None  # type: ignore[union-attr]


def _cli(config: Settings, *args: str) -> Any:
    env = {
        "PSFLOW_TEMPORAL__ADDRESS": config.temporal.address,
        "PSFLOW_TASK_QUEUE_PREFIX": config.task_queue_prefix,
        "PSFLOW_DATA_DIR": str(config.data_dir),
        "PSFLOW_SANDBOX_URL": config.sandbox_url,
        "PSFLOW_SETTINGS_FILE": "",
        "COLUMNS": "200",
    }
    return CliRunner().invoke(cli.app, ["invoice", *args, "--period", PERIOD, "--wait"], env=env)
