"""Bad input becomes exceptions, with reasons and values, while the rest of the day posts; fixing the cause
and re-running posts the records and resolves their exceptions.

Each test makes a day of its own in the Kantata emulator (through its API and admin routes), so what
it asserts is not disturbed by the seeded days other tests post.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date

import httpx
from temporalio.client import Client
from typer.testing import CliRunner, Result

import cli
import worker
from canonical import BillingType, Money, Project
from stack.connectors import Connectors
from stack.settings import Settings
from store import ExceptionRecord, Store
from store.posting import list_exceptions
from tests.conftest import anchor_month_day
from tests.flows._kantata import Kantata
from tests.flows.test_posting import in_erp, ledger_ids, post

CLOSED_DAY = anchor_month_day(-10, 14)
CLOSED_MONTH = f"{CLOSED_DAY:%Y-%m}"


def psflow(settings: Settings, *args: str) -> Result:
    """Run the psflow CLI against the test's server, queues and store."""
    env = {
        "PSFLOW_TEMPORAL__ADDRESS": settings.temporal.address,
        "PSFLOW_TASK_QUEUE_PREFIX": settings.task_queue_prefix,
        "PSFLOW_DATA_DIR": str(settings.data_dir),
        "PSFLOW_SANDBOX_URL": settings.sandbox_url,
        "PSFLOW_FIRM_TIME_ZONE": settings.firm_time_zone,
        "PSFLOW_SETTINGS_FILE": "",
        "COLUMNS": "250",
    }
    return CliRunner().invoke(cli.app, list(args), env=env)


def exceptions(settings: Settings, day: date, status: str | None = "open") -> list[ExceptionRecord]:
    store = Store(settings.store_url)
    rows = list_exceptions(store, status=status, business_date=day)
    store.engine.dispose()
    return rows


def reasons(settings: Settings, day: date, status: str | None = "open") -> dict[str, str]:
    return {row.business_key: row.reason for row in exceptions(settings, day, status)}


async def test_invalid_records_become_exceptions_while_the_rest_of_the_day_posts(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors, kantata: Kantata
) -> None:
    day, tag = anchor_month_day(2, 16), uuid.uuid4().hex[:8]
    valid = await kantata.demo_day(day)
    workspace = await connectors.kantata.find_project_by_external_id("PRJ-0001")
    assert workspace is not None
    user = await kantata.participant(workspace)
    # A project in EUR whose ERP job bills in GBP, and a project the ERP has never heard of.
    fx_project = Project(
        id=f"TEST-FX-{tag}",
        code=f"TEST-FX-{tag}",
        name="FX mismatch",
        customer_id="C-0001",
        budget=Money.of(1000, "EUR"),
        start_date=date(2026, 12, 1),
        end_date=date(2027, 3, 31),
    )
    customer = [row async for row in connectors.netsuite.suiteql("SELECT id FROM customer WHERE externalid = 'C-0001'")]
    await connectors.netsuite.upsert_job(
        fx_project,
        customer_internal_id=str(customer[0]["id"]),
        billing_type=BillingType.TIME_AND_MATERIALS,
        currency="GBP",
        terms=None,
        rate_card_id=None,
    )
    fx_workspace = await kantata.workspace("FX mismatch", "EUR", fx_project.id)
    unknown_workspace = await kantata.workspace("Not in the ERP", "USD", f"TEST-NOJOB-{tag}")
    stranger = await kantata.user(f"contractor-{tag}@elsewhere.example")

    original = await kantata.time(day, workspace, user, 90, 15000, f"Workshop prep {tag}")
    bad = {
        await kantata.time(day, workspace, user, 25 * 60, 15000, "Too long a day"): "invalid_hours",
        await kantata.time(day, workspace, user, 120, 0, "No rate"): "missing_rate",
        await kantata.time(day, workspace, user, 90, 15000, f"Workshop prep {tag}"): "duplicate",
        await kantata.time(day, workspace, stranger, 60, 15000, "Not an employee"): "unknown_consultant",
        await kantata.time(day, unknown_workspace, user, 60, 15000, "Unknown project"): "unknown_project",
        await kantata.time(day, fx_workspace, user, 60, 15000, "Wrong currency"): "wrong_currency",
        await kantata.expense(day, workspace, user, 0, "Meals"): "invalid_amount",
        await kantata.expense(day, workspace, user, 5000, "Entertainment"): "unknown_category",
    }
    await kantata.approve(day)
    for archived in (fx_workspace, unknown_workspace):
        await kantata.archive(archived)  # so no other test's demo day adds records to them

    async with worker.running_workers(temporal_client, flow_settings):
        result = await post(temporal_client, flow_settings, day, page_size=10)

    found = reasons(flow_settings, day)
    assert {source: found.get(source) for source in bad} == bad
    assert result.rejected >= len(bad) and result.failed == 0
    posted = ledger_ids(flow_settings, day)
    assert valid | {original} <= posted and not posted & set(bad)
    bills, reports = await in_erp(connectors, day)
    assert not (set(bills) | set(reports)) & set(bad)
    assert all(bills[i] + reports[i] == 1 for i in valid | {original})
    assert f"posted, 0 already posted, {result.rejected} rejected" in result.summary

    listed = await asyncio.to_thread(psflow, flow_settings, "exceptions", "list", "--date", day.isoformat())
    assert listed.exit_code == 0, listed.output
    assert all(reason in listed.output for reason in bad.values())
    assert "got 25" in listed.output
    category = next(row for row in exceptions(flow_settings, day) if row.reason == "unknown_category")
    assert category.values == {"category": "Entertainment"}
    ignored = await asyncio.to_thread(
        psflow, flow_settings, "exceptions", "ignore", str(category.id), "--note", "one-off"
    )
    assert ignored.exit_code == 0 and "ignored exception" in ignored.output, ignored.output
    assert category.business_key not in reasons(flow_settings, day)
    assert reasons(flow_settings, day, "ignored") == {category.business_key: "unknown_category"}
    missing = await asyncio.to_thread(psflow, flow_settings, "exceptions", "ignore", "999999")
    assert missing.exit_code == 1 and "no exception 999999" in missing.output


async def _close_period(sandbox_url: str, closed: bool) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.put(f"{sandbox_url}/_admin/netsuite/periods/{CLOSED_MONTH}", json={"closed": closed})
        response.raise_for_status()


async def test_fixing_the_cause_and_rerunning_posts_the_records_and_resolves_their_exceptions(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors, kantata: Kantata
) -> None:
    day = CLOSED_DAY
    workspace = await connectors.kantata.find_project_by_external_id("PRJ-0001")
    assert workspace is not None
    user = await kantata.participant(workspace)
    kept = {
        await kantata.time(day, workspace, user, 60, 15000, "Steering committee"),
        await kantata.time(day, workspace, user, 90, 15000, "Data model review"),
        await kantata.expense(day, workspace, user, 2500, "Meals"),
    }
    withdrawn = await kantata.time(day, workspace, user, 30, 15000, "Logged by mistake")
    await kantata.approve(day)

    try:
        async with worker.running_workers(temporal_client, flow_settings):
            first = await post(temporal_client, flow_settings, day)
            assert reasons(flow_settings, day) == dict.fromkeys(kept | {withdrawn}, "period_closed")
            assert (first.posted, first.rejected) == (0, 4), first
            # The fixes: finance reopens January, the consultant deletes the mistaken entry.
            await _close_period(flow_settings.sandbox_url, False)
            await kantata.delete_time(withdrawn)
            rerun = await asyncio.to_thread(
                psflow, flow_settings, "posting", "run", "--date", day.isoformat(), "--wait"
            )
    finally:
        await _close_period(flow_settings.sandbox_url, True)

    assert rerun.exit_code == 0, rerun.output
    assert f"{day}: 3 posted, 0 already posted, 0 rejected, 0 failed" in rerun.output
    assert reasons(flow_settings, day) == {}
    closed = exceptions(flow_settings, day, "resolved")
    assert {row.business_key for row in closed} == kept | {withdrawn}
    # Posted (kept) or no longer in the PSA (withdrawn), each names the re-run that resolved it.
    [rerun_id] = {row.resolved_by for row in closed}
    assert rerun_id and rerun_id.startswith(f"{flow_settings.task_queue_prefix}te-posting:netsuite:{day}/")
    assert all(row.last_run_id != rerun_id for row in closed)
    assert ledger_ids(flow_settings, day) == kept
    bills, reports = await in_erp(connectors, day)
    assert all(bills[i] + reports[i] == 1 for i in kept) and withdrawn not in bills
