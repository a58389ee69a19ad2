"""Posting priced by the rate in force on each entry's date, and rate changes that reach back over posted time.

Each test makes a project of its own (a NetSuite job and a Kantata workspace with a card of its
own) in a month after the anchor, where the demo firm books no time, so the days it posts and the
invoice it makes hold only its own entries.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest_asyncio
from temporalio.client import Client
from temporalio.worker import Worker

import worker
from activities.posting import RepriceRequest, RepriceResult
from canonical import BillingType, DateRange, Money, Project, RoleRate, bill_for_minutes
from connectors._core import paginate
from stack.connectors import Connectors
from stack.flows import start_invoice
from stack.settings import Settings
from store import LedgerEntry, Store
from store.posting import list_exceptions
from tests.conftest import anchor_month_day
from tests.flows._kantata import Kantata
from tests.flows._reprice import RepriceInput, RepriceWorkflow
from tests.flows.test_posting import post

API = "/kantata/api/v1"
ROLE = "Consultant"
OLD, NEW = Money.of("150.00", "USD"), Money.of("175.00", "USD")


@dataclass
class RatedProject:
    """A project with its own rates: its id, workspace, ERP job and a consultant who logs time on it."""

    project_id: str
    workspace_id: str
    job_id: str
    user_id: str
    role_id: str


@pytest_asyncio.fixture
async def rated(connectors: Connectors, kantata: Kantata) -> AsyncIterator[RatedProject]:
    tag = uuid.uuid4().hex[:8]
    project = Project(
        id=f"TEST-RATES-{tag}",
        code=f"TEST-RATES-{tag}",
        name="Rate amendment",
        customer_id="C-0001",
        budget=Money.of(100000, "USD"),
        start_date=anchor_month_day(1, 1),
        end_date=anchor_month_day(4, 28),
    )
    customer = [row async for row in connectors.netsuite.suiteql("SELECT id FROM customer WHERE externalid = 'C-0001'")]
    job_id = await connectors.netsuite.upsert_job(
        project,
        customer_internal_id=str(customer[0]["id"]),
        billing_type=BillingType.TIME_AND_MATERIALS,
        currency="USD",
        terms=None,
        rate_card_id=None,
    )
    workspace_id = await kantata.workspace("Rate amendment", "USD", project.id)
    seeded = await connectors.kantata.find_project_by_external_id("PRJ-0001")
    assert seeded is not None
    user_id = await kantata.participant(seeded)
    roles = (await kantata.http.get(f"{API}/roles.json", params={"per_page": 200})).json()["roles"]
    role_id = next(r["id"] for r in roles.values() if r["name"] == ROLE)
    # The contract's rates from the project's start: the workspace gets a card of its own.
    await connectors.kantata.add_rate_version(workspace_id, project.start_date, [RoleRate(role=ROLE, hourly_rate=OLD)])
    yield RatedProject(project.id, workspace_id, str(job_id), user_id, role_id)


async def log_time(kantata: Kantata, project: RatedProject, day: date, minutes: int) -> str:
    """Time as a consultant logs it: no rate given, so Kantata prices it from the card version of its date."""
    body = {
        "workspace_id": project.workspace_id,
        "user_id": project.user_id,
        "role_id": project.role_id,
        "date_performed": day.isoformat(),
        "time_in_minutes": minutes,
        "billable": True,
        "notes": f"Rates work {uuid.uuid4().hex[:6]}",
    }
    response = await kantata.http.post(f"{API}/time_entries.json", json={"time_entry": body})
    response.raise_for_status()
    return f"kantata:{response.json()['results'][0]['id']}"


async def kantata_rate(kantata: Kantata, entry_id: str) -> int:
    raw = entry_id.removeprefix("kantata:")
    return int((await kantata.http.get(f"{API}/time_entries/{raw}.json")).json()["time_entries"][raw]["rate_in_cents"])


async def time_bills(connectors: Connectors, project: RatedProject, span: DateRange) -> dict[str, Any]:
    """The job's NetSuite time bills in the span, by external id."""
    netsuite = connectors.netsuite
    rows = paginate(lambda c: netsuite.time_bills_page(job_internal_id=project.job_id, period=span, cursor=c))
    return {str(row.external_id): row async for row in rows}


def ledger_rows(settings: Settings, project_id: str) -> list[LedgerEntry]:
    from sqlmodel import select

    store = Store(settings.store_url)
    with store.session() as session:
        rows = list(session.exec(select(LedgerEntry).where(LedgerEntry.project_id == project_id)).all())
    store.engine.dispose()
    return rows


async def test_a_mid_month_rate_increase_prices_each_entry_by_its_date_and_the_invoice_ties_out(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors, kantata: Kantata, rated: RatedProject
) -> None:
    before = [anchor_month_day(2, 4), anchor_month_day(2, 5)]
    raise_from = anchor_month_day(2, 9)
    after = [anchor_month_day(2, 11), anchor_month_day(2, 12)]
    minutes = {before[0]: 100, before[1]: 95, after[0]: 100, after[1]: 125}  # 1:40 h at 175 bills 291.67
    entries = {day: await log_time(kantata, rated, day, m) for day, m in minutes.items()}
    # The amendment reaches Kantata after the time was logged: every entry carries the old rate there.
    assert {await kantata_rate(kantata, e) for e in entries.values()} == {15000}
    await connectors.kantata.add_rate_version(rated.workspace_id, raise_from, [RoleRate(role=ROLE, hourly_rate=NEW)])
    await kantata.approve_ids("time_entries", list(entries.values()))

    async with worker.running_workers(temporal_client, flow_settings):
        for day in minutes:
            result = await post(temporal_client, flow_settings, day)
            assert (result.posted, result.rejected, result.failed) == (1, 0, 0), result
        period = f"{raise_from:%Y-%m}"
        days = DateRange(start=raise_from.replace(day=1), end=anchor_month_day(3, 1) - timedelta(days=1))
        handle, already = await start_invoice(
            temporal_client, flow_settings, rated.project_id, period, issue_date=days.end + timedelta(days=1)
        )
        invoiced = await handle.result()

    expected = {entries[day]: OLD if day < raise_from else NEW for day in minutes}
    bills = await time_bills(connectors, rated, days)
    assert {bill_id: Money(amount=bills[bill_id].rate, currency="USD") for bill_id in expected} == expected
    amounts = {entries[day]: bill_for_minutes(expected[entries[day]], m).amount for day, m in minutes.items()}
    rows = {row.source_id: row.amount for row in ledger_rows(flow_settings, rated.project_id)}
    assert rows == amounts
    # Each time bill's hours at its rate, rounded once, is what the ledger holds and the invoice adds up.
    from_bills = sum(bill_for_minutes(Money(amount=b.rate, currency="USD"), b.minutes).amount for b in bills.values())
    assert not already and invoiced.status == "invoiced"
    assert invoiced.totals == {"USD": from_bills} == {"USD": sum(amounts.values(), Decimal(0))}
    assert from_bills == Decimal("250.00") + Decimal("237.50") + Decimal("291.67") + Decimal("364.58")


async def reprice(client: Client, settings: Settings, request: RepriceRequest) -> RepriceResult:
    """Run ``erp.reprice_posted`` through the dev server, on the workers' erp queue."""
    queue = f"test-reprice-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=queue, workflows=[RepriceWorkflow]):
        return await client.execute_workflow(
            RepriceWorkflow.run,
            RepriceInput(request=request, erp_queue=settings.task_queue("erp")),
            id=f"reprice-{uuid.uuid4().hex}",
            task_queue=queue,
        )


async def charges(connectors: Connectors, project: RatedProject) -> dict[str, Decimal]:
    """The job's NetSuite charges, amount by external id."""
    query = f"SELECT id, externalid, amount FROM charge WHERE billto = {project.job_id}"
    return {str(row["externalid"]): Decimal(str(row["amount"])) async for row in connectors.netsuite.suiteql(query)}


async def post_then_amend_back(
    client: Client, settings: Settings, connectors: Connectors, kantata: Kantata, project: RatedProject, days: list[int]
) -> tuple[dict[date, str], date]:
    """Log and post time on four days at the old rate, then amend the rate back to a date between them."""
    minutes = dict(zip([anchor_month_day(1, d) for d in days], (100, 95, 100, 125), strict=True))
    entries = {day: await log_time(kantata, project, day, m) for day, m in minutes.items()}
    await kantata.approve_ids("time_entries", list(entries.values()))
    async with worker.running_workers(client, settings):
        for day in entries:
            assert (await post(client, settings, day)).posted == 1
    raise_from = anchor_month_day(1, days[1] + 1)
    await connectors.kantata.add_rate_version(project.workspace_id, raise_from, [RoleRate(role=ROLE, hourly_rate=NEW)])
    return entries, raise_from


async def test_an_amendment_over_posted_time_posts_each_difference_once_and_the_invoice_bills_it(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors, kantata: Kantata, rated: RatedProject
) -> None:
    entries, raise_from = await post_then_amend_back(
        temporal_client, flow_settings, connectors, kantata, rated, [3, 4, 8, 9]
    )
    request = RepriceRequest(project_id=rated.project_id, since=raise_from, amendment_id="AMD-7")
    async with worker.running_workers(temporal_client, flow_settings):
        first = await reprice(temporal_client, flow_settings, request)
        second = await reprice(temporal_client, flow_settings, request)
        period = f"{raise_from:%Y-%m}"
        issued = anchor_month_day(2, 1)
        handle, _ = await start_invoice(temporal_client, flow_settings, rated.project_id, period, issue_date=issued)
        invoiced = await handle.result()

    # 1:40 h: 250.00 posted, 291.67 due; 2:05 h: 312.50 posted, 364.58 due.
    late = [entries[day] for day in sorted(entries) if day >= raise_from]
    differences = {f"{late[0]}:rate:AMD-7": Decimal("41.67"), f"{late[1]}:rate:AMD-7": Decimal("52.08")}
    assert (first.checked, first.affected, first.adjusted, first.exceptions) == (2, 2, 2, 0), first
    assert first.difference == Decimal("93.75") and first.currency == "USD"
    assert (second.affected, second.adjusted, second.already_adjusted) == (0, 0, 2), second
    assert await charges(connectors, rated) == differences
    rows = ledger_rows(flow_settings, rated.project_id)
    assert {r.source_id: r.amount for r in rows if r.kind == "rate_adjustment"} == differences
    # The invoice bills the time as posted plus the adjustments: each entry at the rate now in force.
    due = Decimal("250.00") + Decimal("237.50") + Decimal("291.67") + Decimal("364.58")
    assert invoiced.totals == {"USD": due} == {"USD": sum((r.amount for r in rows), Decimal(0))}
    # An entry before the amendment's date is not touched.
    assert not any(entries[day] in source for day in entries if day < raise_from for source in differences)


async def test_with_the_exception_setting_each_re_rated_entry_waits_for_a_person(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors, kantata: Kantata, rated: RatedProject
) -> None:
    settings = flow_settings.model_copy(update={"retro_rate_changes": "exception"})
    entries, raise_from = await post_then_amend_back(
        temporal_client, settings, connectors, kantata, rated, [14, 15, 21, 22]
    )
    request = RepriceRequest(project_id=rated.project_id, since=raise_from, amendment_id="AMD-8")
    async with worker.running_workers(temporal_client, settings):
        result = await reprice(temporal_client, settings, request)
        again = await reprice(temporal_client, settings, request)
        # A re-run of a posted date settles that date's posting exceptions, never a rate change.
        late = sorted(day for day in entries if day >= raise_from)
        assert (await post(temporal_client, settings, late[0])).already_posted == 1

    assert (result.affected, result.exceptions, result.adjusted) == (2, 2, 0), result
    assert (again.affected, again.exceptions) == (2, 2), again
    assert await charges(connectors, rated) == {}
    assert not [r for r in ledger_rows(settings, rated.project_id) if r.kind == "rate_adjustment"]
    store = Store(settings.store_url)
    opened = [row for row in list_exceptions(store, status="open") if row.kind == "rate_change"]
    store.engine.dispose()
    assert {row.business_key: row.values["difference"] for row in opened} == {
        entries[late[0]]: "41.67",
        entries[late[1]]: "52.08",
    }
    assert all(row.reason == "rate_changed" and row.values["amendment_id"] == "AMD-8" for row in opened)
    assert all(row.occurrences == 1 for row in opened)  # the same repricing run met it twice: counted once

    # The person decides to post the differences: repricing with `adjust` posts them and closes the exceptions.
    async with worker.running_workers(temporal_client, flow_settings):
        decided = await reprice(temporal_client, flow_settings, request)
    assert (decided.adjusted, decided.exceptions) == (2, 0), decided
    assert sorted((await charges(connectors, rated)).values()) == [Decimal("41.67"), Decimal("52.08")]
    store = Store(settings.store_url)
    still_open = [row for row in list_exceptions(store, status="open") if row.business_key in set(entries.values())]
    store.engine.dispose()
    assert still_open == []
