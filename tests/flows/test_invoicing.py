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
from decimal import Decimal
from typing import Any

import httpx
from temporalio.client import Client
from typer.testing import CliRunner

import cli
import worker
from canonical import ApprovalState, BillingType, Expense, Money, Project, TimeEntry, bill_for_minutes
from canonical.calendar import billing_period, previous_period
from connectors._core import paginate
from connectors.netsuite import TimeBillRow
from sandbox.seed import DemoFirm
from stack.connectors import Connectors
from stack.flows import start_invoice, start_monthly_invoicing
from stack.settings import Settings
from store import LedgerEntry, Store
from store.invoicing import INVOICE_POSTED, rows_of_invoice
from tests import ledger
from tests.conftest import TEST_TODAY
from tests.flows._kantata import Kantata
from tests.flows.test_posting import post

PERIOD = previous_period(TEST_TODAY)
"""The month before the sandbox's anchor: open in its NetSuite, and over by ``ISSUED``."""
ISSUED = TEST_TODAY
"""Every invoice here is dated the anchor day, so a run means the same on any calendar day."""
DAYS = billing_period(PERIOD)
APPROVED_AT = datetime.combine(DAYS.end, datetime.min.time(), UTC)
WEEKEND = [day for day in (DAYS.end - timedelta(days=n) for n in range(7)) if day.weekday() >= 5]
"""The period's last Saturday and Sunday: the demo firm books no time on them, so a test has them to itself."""
WEEKEND_BEFORE = [day - timedelta(days=7) for day in WEEKEND]


async def invoice_run(client: Client, settings: Settings, project_id: str) -> Any:
    """Start (or join) the project's invoicing for ``PERIOD``, dated ``ISSUED``."""
    return await start_invoice(client, settings, project_id, PERIOD, issue_date=ISSUED)


async def month_run(client: Client, settings: Settings) -> Any:
    """Start (or join) the monthly invoicing of ``PERIOD``, dated ``ISSUED``."""
    return await start_monthly_invoicing(client, settings, PERIOD, issue_date=ISSUED)


@dataclass(frozen=True)
class Work:
    """One piece of posted work: time (minutes at a rate) or an expense (amount)."""

    day: date
    amount: Decimal
    minutes: int | None = None
    rate: Decimal | None = None
    currency: str = "USD"
    billable: bool = True

    @classmethod
    def time(cls, day: date, minutes: int, rate: str, currency: str = "USD", **kw: Any) -> Work:
        """Time as posting records it: the amount is what the minutes bill at the rate, rounded once."""
        amount = bill_for_minutes(Money.of(rate, currency), minutes).amount
        return cls(day=day, amount=amount, minutes=minutes, rate=Decimal(rate), currency=currency, **kw)

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
        if piece.minutes is not None and piece.rate is not None:
            rate = Money(amount=piece.rate, currency=piece.currency)
            entry = TimeEntry(
                id=source_id,
                consultant_id="e-1003@psflow-demo.example",
                project_id=project_id,
                date_performed=piece.day,
                minutes=piece.minutes,
                billable=piece.billable,
                bill_rate=rate,
                approval=ApprovalState.APPROVED,
                approved_at=APPROVED_AT,
            )
            target_id = await erp.write_time_bill(
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
            target_id = await erp.write_expense_report(
                expense, employee_internal_id=employee, job_internal_id=job.internal_id
            )
        row = LedgerEntry(
            kind="time_entry" if piece.minutes is not None else "expense",
            source_system="kantata",
            source_id=source_id,
            target_system="netsuite",
            target_id=target_id,
            project_id=project_id,
            business_date=piece.day,
            amount=piece.amount,
            currency=piece.currency,
            billable=piece.billable,
            minutes=piece.minutes,
            run_id="test-posting",
            approved_at=APPROVED_AT,
        )
        assert ledger.add(store, row)
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


async def test_invoice_totals_are_the_sums_of_posted_billable_amounts_per_currency(
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
            Work.time(first, 450, "185.00"),
            Work.time(mid, 375, "185.00"),
            Work.time(mid, 480, "240.00"),
            Work.time(last, 105, "212.50"),  # posted as 371.88 ...
            Work.time(last, 15, "212.50"),  # ... and 53.13: the invoice bills 425.01, what was posted
            Work.time(mid, 240, "185.00", billable=False),
            Work.time(TEST_TODAY, 480, "185.00"),  # after the period: next cycle's
            Work.expense(first, "42.50"),
            Work.expense(last, "118.20"),
            Work.expense(mid, "99.99", billable=False),
            Work.expense(mid, "310.45", currency="EUR"),
        ],
    )
    async with worker.running_workers(temporal_client, flow_settings):
        handle, already = await invoice_run(temporal_client, flow_settings, project)
        result = await handle.result()

    # posted: 1387.50 + 1156.25 + 1920.00 + 371.88 + 53.13 = 4888.76 of time; 42.50 + 118.20 = 160.70 of expenses
    usd, eur = f"inv:{project}:{PERIOD}:USD", f"inv:{project}:{PERIOD}:EUR"
    assert not already and result.status == "invoiced"
    assert result.totals == {"USD": Decimal("5049.46"), "EUR": Decimal("310.45")}
    by_id = {invoice.invoice_id: invoice for invoice in result.invoices}
    assert by_id[usd].fees == Decimal("4888.76") and by_id[usd].expenses == Decimal("160.70")
    assert (by_id[usd].minutes, by_id[usd].hours, by_id[usd].entries) == (1425, Decimal("23.75"), 7)
    terms = DemoFirm.generate().client(DemoFirm.generate().project(project).client_id).payment_terms
    assert by_id[usd].due_date == by_id[usd].issue_date + timedelta(days=int(terms.removeprefix("Net ")))

    invoices = {record["externalId"]: record for record in await erp_invoices(connectors, project)}
    assert sorted(invoices) == [eur, usd]
    assert Decimal(str(invoices[usd]["total"])) == Decimal("5049.46")
    assert Decimal(str(invoices[eur]["total"])) == Decimal("310.45")
    lines = [(line["quantity"], line["rate"], line["amount"]) for line in invoices[usd]["item"]["items"]]
    assert sorted(lines[:5]) == [(0.25, 212.5, 53.13), (1.75, 212.5, 371.88), (6.25, 185, 1156.25),
                                 (7.5, 185, 1387.5), (8, 240, 1920)]  # fmt: skip
    assert lines[5:] == [(1, 42.5, 42.5), (1, 118.2, 118.2)]
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
    assert events[0]["data"]["total"] == "5049.46"
    assert (
        events[1]["data"] | {"fees": "4888.76", "amount": "5049.46", "minutes": 1425, "period": PERIOD}
        == events[1]["data"]
    )


async def test_a_project_and_period_is_invoiced_once_however_often_and_concurrently_it_runs(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors
) -> None:
    project = "PRJ-0010"
    store = Store(flow_settings.store_url)
    store.upgrade()
    await post_work(connectors, store, project, [Work.time(DAYS.start, 480, "150.00"), Work.expense(DAYS.end, "25.00")])
    invoice_id = f"inv:{project}:{PERIOD}"
    async with worker.running_workers(temporal_client, flow_settings):
        starts = await asyncio.gather(
            invoice_run(temporal_client, flow_settings, project),
            invoice_run(temporal_client, flow_settings, project),
            month_run(temporal_client, flow_settings),
        )
        results = await asyncio.gather(starts[0][0].result(), starts[1][0].result(), starts[2].result())
        again, already = await invoice_run(temporal_client, flow_settings, project)
        month_again = await (await month_run(temporal_client, flow_settings)).result()
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
    await post_work(connectors, store, project, [Work.time(DAYS.start, 180, "200.00", currency="EUR", billable=False)])
    async with worker.running_workers(temporal_client, flow_settings):
        handle, _ = await invoice_run(temporal_client, flow_settings, project)
        result = await handle.result()
        month = await (await month_run(temporal_client, flow_settings)).result()
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
    await post_work(connectors, store, project, [Work.time(DAYS.start, 300, "130.00", currency="GBP")])
    fault = {"commit_then_fail": 1.0, "methods": ["PUT"], "path_regex": "/record/v1/invoice/", "times": 1}
    async with httpx.AsyncClient(base_url=flow_settings.sandbox_url) as http:
        (await http.put("/_admin/faults/netsuite", json=fault)).raise_for_status()
        async with worker.running_workers(temporal_client, flow_settings):
            handle, _ = await invoice_run(temporal_client, flow_settings, project)
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
    assert ledger.add(store, row)
    async with worker.running_workers(temporal_client, flow_settings):
        output = await asyncio.to_thread(_cli, flow_settings, "run", "--project", "PRJ-GONE")
        month = await (await month_run(temporal_client, flow_settings)).result()
    assert [(p.project_id, p.outcome) for p in month.projects] == [("PRJ-GONE", "failed")]
    assert "NetSuite has no job with external id 'PRJ-GONE'" in (month.projects[0].error or "")
    assert output.exit_code == 1
    assert output.output.strip().splitlines()[-1] == (
        f"error: invoice:PRJ-GONE:{PERIOD} failed: NetSuite has no job with external id 'PRJ-GONE' under a customer: "
        "provision the project before invoicing it"
    )
    assert [r.invoice_id for r in rows_of_invoice(store, f"inv:PRJ-GONE:{PERIOD}")] == []
    assert ledger.find(store, "netsuite", "expense", row.source_id).invoice_id is None


async def new_project(connectors: Connectors, kantata: Kantata, name: str) -> tuple[str, str]:
    """A USD project of its own, as provisioning leaves it: an ERP job under a seeded customer and a PSA workspace."""
    project_id = f"TEST-{name}-{uuid.uuid4().hex[:6]}"
    seeded = await connectors.netsuite.get_job("PRJ-0001")
    assert seeded is not None and seeded.customer_internal_id is not None
    project = Project(
        id=project_id,
        code=project_id,
        name=f"Cent-exact invoicing {name}",
        customer_id="C-0001",
        budget=Money.of(100000, "USD"),
        start_date=DAYS.start,
        end_date=DAYS.end,
    )
    await connectors.netsuite.upsert_job(
        project,
        customer_internal_id=seeded.customer_internal_id,
        billing_type=BillingType.TIME_AND_MATERIALS,
        currency="USD",
        terms="Net 30",
        rate_card_id=None,
    )
    return project_id, await kantata.workspace(project.name, "USD", project_id)


async def time_bills(connectors: Connectors, project_id: str) -> list[TimeBillRow]:
    netsuite = connectors.netsuite
    job = await netsuite.get_job(project_id)
    assert job is not None
    return [b async for b in paginate(lambda c: netsuite.time_bills_page(job_internal_id=job.internal_id, cursor=c))]


EXAMPLES = {
    # the issue's three examples: (minutes, rate) per time entry, and the sum of their time bills
    "a": ([(7 * 60 + 20, "187.50"), (30, "187.50")], "1468.75"),  # 1375.00 + 93.75
    "b": ([(7 * 60 + 25, "133.33"), (45, "133.33")], "1088.86"),  # 988.86 + 100.00
    "c": ([(105, "212.50"), (15, "212.50")], "425.01"),  # 371.88 + 53.13
}


async def test_the_issues_examples_post_and_invoice_at_exactly_the_sum_of_their_time_bills_and_rerun_changes_nothing(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors, kantata: Kantata
) -> None:
    saturday, sunday = sorted(WEEKEND)
    user = await kantata.participant(str(await connectors.kantata.find_project_by_external_id("PRJ-0001")))
    projects: dict[str, str] = {}
    for name, (entries, _) in EXAMPLES.items():
        project_id, workspace = await new_project(connectors, kantata, name)
        projects[name] = project_id
        for (minutes, rate), day in zip(entries, (saturday, sunday), strict=True):
            await kantata.time(day, workspace, user, minutes, int(Decimal(rate) * 100), f"Example {name}")
    for day in (saturday, sunday):
        await kantata.approve(day)

    async with worker.running_workers(temporal_client, flow_settings):
        posted = [await post(temporal_client, flow_settings, day) for day in (saturday, sunday)]
        invoiced = {name: await (await invoice_run(temporal_client, flow_settings, p))[0].result()
                    for name, p in projects.items()}  # fmt: skip
        reposted = [await post(temporal_client, flow_settings, day) for day in (saturday, sunday)]
        again = {name: await invoice_run(temporal_client, flow_settings, p) for name, p in projects.items()}
        month = await (await month_run(temporal_client, flow_settings)).result()

    assert all(result.failed == result.rejected == 0 for result in posted), posted
    store = Store(flow_settings.store_url)
    for name, (entries, total) in EXAMPLES.items():
        project_id, invoice_id = projects[name], f"inv:{projects[name]}:{PERIOD}"
        bills = await time_bills(connectors, project_id)
        # The time bills NetSuite has: exact minutes at the posted rate, each rounded once.
        assert sorted((bill.minutes, bill.rate) for bill in bills) == sorted((m, Decimal(r)) for m, r in entries)
        bill_amounts = [
            bill_for_minutes(Money(amount=bill.rate or Decimal(0), currency="USD"), bill.minutes) for bill in bills
        ]
        assert sum(amount.amount for amount in bill_amounts) == Decimal(total)
        ledger = rows_of_invoice(store, invoice_id)
        assert sorted((row.minutes, row.amount) for row in ledger) == sorted(
            (bill.minutes, amount.amount) for bill, amount in zip(bills, bill_amounts, strict=True)
        )
        # The invoice bills exactly those amounts: in psflow's result, in NetSuite, in the events.
        result = invoiced[name]
        assert result.totals == {"USD": Decimal(total)}, (name, result)
        assert result.invoices[0].fees == Decimal(total) and result.invoices[0].minutes == sum(m for m, _ in entries)
        [record] = await erp_invoices(connectors, project_id)
        assert record["externalId"] == invoice_id and Decimal(str(record["total"])) == Decimal(total)
        lines = record["item"]["items"]
        assert sorted(Decimal(str(line["amount"])) for line in lines) == sorted(a.amount for a in bill_amounts)
        for line in lines:  # each line prices to its amount as NetSuite computes it
            product = Decimal(str(line["quantity"])) * Decimal(str(line["rate"]))
            assert Money(amount=product, currency="USD").rounded().amount == Decimal(str(line["amount"])), line
        events = {e["type"]: e["data"] for e in await sink_events(flow_settings.sandbox_url, invoice_id)}
        assert events["com.psflow.invoice.posted"]["total"] == total
        assert events["com.psflow.revenue.recognized"]["amount"] == events["com.psflow.revenue.recognized"]["fees"]
        assert events["com.psflow.revenue.recognized"]["amount"] == total
        # Re-running changed nothing: nothing posted again, the same invoice found, no second one.
        handle, already = again[name]
        assert already and await handle.result() == result
        assert len(await erp_invoices(connectors, project_id)) == 1 and audit_count(store, invoice_id) == 1
        assert len(await time_bills(connectors, project_id)) == len(entries)
    assert [(r.posted, r.rejected, r.failed) for r in reposted] == [(0, 0, 0), (0, 0, 0)], reposted
    assert [r.already_posted for r in reposted] == [r.posted for r in posted]
    assert not {p.project_id for p in month.projects} & set(projects.values())
    store.engine.dispose()


async def test_a_month_invoiced_before_its_posting_finished_says_what_it_left_out_and_bills_it_in_that_month(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors, kantata: Kantata
) -> None:
    saturday, sunday = sorted(WEEKEND_BEFORE)
    project_id, workspace = await new_project(connectors, kantata, "late")
    user = await kantata.participant(str(await connectors.kantata.find_project_by_external_id("PRJ-0001")))
    await kantata.time(saturday, workspace, user, 440, 18750, "Workshop")  # 1375.00
    await kantata.time(saturday, workspace, user, 30, 18750, "Follow-up")  # 93.75
    late = await kantata.time(sunday, workspace, user, 445, 13333, "Weekend cut-over")  # 988.86
    for day in (saturday, sunday):
        await kantata.approve(day)
    first_id, second_id = f"inv:{project_id}:{PERIOD}", f"inv:{project_id}:{PERIOD}.2"

    async with worker.running_workers(temporal_client, flow_settings):
        await post(temporal_client, flow_settings, saturday)  # Sunday's posting has not run yet
        by_hand = await (await invoice_run(temporal_client, flow_settings, project_id))[0].result()
        month = await (await month_run(temporal_client, flow_settings)).result()
        month_cli = await asyncio.to_thread(_cli, flow_settings, "run-month")
        await post(temporal_client, flow_settings, sunday)
        after_posting = await (await month_run(temporal_client, flow_settings)).result()
        rerun = await (await month_run(temporal_client, flow_settings)).result()
        cli_output = await asyncio.to_thread(_cli, flow_settings, "run", "--project", project_id)

    # The month's invoice bills what was posted, and says what it could not include yet.
    assert by_hand.totals == {"USD": Decimal("1468.75")} and by_hand.sequence == 1
    assert by_hand.not_invoiced is not None and by_hand.not_invoiced_unknown is None
    left_out = by_hand.not_invoiced
    assert (left_out.project_id, left_out.not_posted, left_out.rejected, left_out.posted_since) == (project_id, 1, 0, 0)
    assert (left_out.first, left_out.last, left_out.examples) == (sunday, sunday, [late])
    assert project_id not in {p.project_id for p in month.projects}  # nothing new was posted yet
    assert [w for w in month.not_invoiced if w.project_id == project_id] == [left_out]
    assert month_cli.exit_code == 0, month_cli.output
    assert (
        f"not invoiced yet: {project_id}: 1 approved but not posted yet (dated {sunday}; e.g. {late})"
        in month_cli.output
    )
    assert f"run `psflow invoice run-month --period {PERIOD}` again" in month_cli.output
    # Once Sunday is posted, running the month again bills it on a supplementary invoice of the same month.
    [supplement] = [p for p in after_posting.projects if p.project_id == project_id]
    assert (supplement.outcome, supplement.sequence, supplement.invoice_ids) == ("invoiced", 2, [second_id])
    assert supplement.workflow_id == f"invoice:{project_id}:{PERIOD}.2"
    assert supplement.totals == {"USD": Decimal("988.86")}
    assert project_id not in {w.project_id for w in after_posting.not_invoiced}
    assert project_id not in {p.project_id for p in rerun.projects}  # a re-run changes nothing
    invoices = await erp_invoices(connectors, project_id)
    assert [(r["externalId"], Decimal(str(r["total"]))) for r in invoices] == [
        (first_id, Decimal("1468.75")),
        (second_id, Decimal("988.86")),
    ]
    store = Store(flow_settings.store_url)
    assert [row.source_id for row in rows_of_invoice(store, second_id)] == [late]
    assert audit_count(store, second_id) == 1
    store.engine.dispose()
    assert cli_output.exit_code == 0, cli_output.output
    assert "(already invoiced)" in cli_output.output and second_id in cli_output.output


def _cli(config: Settings, *args: str) -> Any:
    env = {
        "PSFLOW_TEMPORAL__ADDRESS": config.temporal.address,
        "PSFLOW_TASK_QUEUE_PREFIX": config.task_queue_prefix,
        "PSFLOW_DATA_DIR": str(config.data_dir),
        "PSFLOW_SANDBOX_URL": config.sandbox_url,
        "PSFLOW_SETTINGS_FILE": "",
        "COLUMNS": "200",
    }
    return CliRunner().invoke(
        cli.app, ["invoice", *args, "--period", PERIOD, "--issue-date", ISSUED.isoformat(), "--wait"], env=env
    )
