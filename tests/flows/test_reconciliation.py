"""Reconciliation end to end: work posted by the real posting flow, drift made through the emulators' own APIs.

One project of the test's own (an ERP job and a PSA workspace, as provisioning leaves them) gets time
on the first weekend of ``PERIOD`` (the demo firm books none on weekends), posted by the daily posting
workflow. Each reconciliation is scoped to that project, because the sandbox is the whole session's.
The drift cases share that one posted period: each changes a record of its own.
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from temporalio.client import Client, WorkflowHandle
from typer.testing import CliRunner

import cli
import worker
from canonical import BillingType, DateRange, Money, Project
from canonical.calendar import billing_period, previous_period
from connectors._core import paginate
from connectors.kantata.drift import unapprove_time_entry
from connectors.netsuite.drift import create_job_by_hand, delete_time_bill, set_invoice_line_amount, set_time_bill_hours
from stack.connectors import Connectors
from stack.flows import start_invoice, start_reconcile
from stack.settings import Settings
from store import Store
from store import exceptions as exc
from store.reconciliation import ReconciliationRun, runs_of
from tests.conftest import TEST_TODAY
from tests.flows._kantata import Kantata
from tests.flows.conftest import inject, sink_events
from tests.flows.test_posting import post
from tests.flows.test_provisioning_crash import start_worker
from workflows import search_attributes as sa
from workflows.reconcile import ReconcileResult, ReconcileWorkflow
from workflows.reconcile import workflow_id as reconcile_workflow_id

PERIOD = previous_period(TEST_TODAY)
AS_OF = TEST_TODAY.isoformat()
"""The firm's today for the CLI: tests never read the wall clock."""
"""The month before the sandbox's anchor: open in its NetSuite, and over by ``TEST_TODAY``."""
DAYS = billing_period(PERIOD)
HISTORIES = Path(__file__).resolve().parent.parent / "histories"
WEEKEND = sorted(day for day in (DAYS.start + timedelta(days=n) for n in range(7)) if day.weekday() >= 5)


async def own_project(
    connectors: Connectors, kantata: Kantata, *, psa_customer: str | None = None
) -> tuple[str, str, str]:
    """A USD project as provisioning leaves it (ERP job under a seeded customer, PSA workspace); a consultant on it.

    ``psa_customer`` gives the PSA workspace another client than the ERP job's, as a hand edit would.
    """
    project_id = f"TEST-RECON-{uuid.uuid4().hex[:6]}"
    seeded = await connectors.netsuite.get_job("PRJ-0001")
    assert seeded is not None and seeded.customer_internal_id is not None
    customer = await connectors.netsuite.billing_customer(seeded.customer_internal_id)
    assert customer is not None
    project = Project(
        id=project_id,
        code=project_id,
        name="Reconciled engagement",
        customer_id=customer.external_id,
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
    in_psa = project if psa_customer is None else project.model_copy(update={"customer_id": psa_customer})
    workspace = await connectors.kantata.create_project(in_psa, customer_name="A client")
    user = await kantata.participant(str(await connectors.kantata.find_project_by_external_id("PRJ-0001")))
    return project_id, workspace, user


async def reconcile(client: Client, settings: Settings, project_id: str, **options: Any) -> ReconcileResult:
    options.setdefault("today", TEST_TODAY)
    return await (await start_reconcile(client, settings, PERIOD, project_id, **options)).result()


async def internal_ids(connectors: Connectors, project_id: str) -> dict[str, str]:
    """The NetSuite internal id of each of the project's time bills, by external id."""
    netsuite = connectors.netsuite
    job = await netsuite.find_job(project_id)
    assert job is not None
    rows = paginate(lambda c: netsuite.time_bills_page(job_internal_id=job.internal_id, cursor=c))
    return {str(row.external_id): row.internal_id async for row in rows}


async def bills_of(connectors: Connectors, entry_id: str) -> int:
    """How many NetSuite time bills carry this entry's id as external id."""
    netsuite, period = connectors.netsuite, DateRange(start=DAYS.start, end=DAYS.end)
    rows = paginate(lambda c: netsuite.time_bills_page(period=period, cursor=c))
    return Counter([row.external_id async for row in rows])[entry_id]


async def keep_history(client: Client, settings: Settings, project_id: str, name: str) -> None:
    """With ``PSFLOW_RECORD_HISTORIES=1``, save the project's latest run's history for the replay test."""
    if os.environ.get("PSFLOW_RECORD_HISTORIES") != "1":
        return
    handle = client.get_workflow_handle(reconcile_workflow_id(PERIOD, project_id, settings.task_queue_prefix))
    history = await handle.fetch_history()
    (HISTORIES / f"{name}.json").write_text(history.to_json(), encoding="utf-8")


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


def run_results(settings: Settings, project_id: str) -> list[ReconciliationRun]:
    """The project's reconciliation runs of ``PERIOD`` in the store, newest first."""
    store = Store(settings.store_url)
    try:
        return runs_of(store, PERIOD, project_id)
    finally:
        store.engine.dispose()


def open_differences(settings: Settings, project_id: str) -> dict[str, Any]:
    """The project's active reconciliation exceptions, by business key."""
    store = Store(settings.store_url)
    try:
        rows = exc.find(store, flow="reconciliation", limit=1000)
    finally:
        store.engine.dispose()
    return {row.business_key: row for row in rows if (row.values or {}).get("project_id") == project_id}


async def test_a_posted_period_reconciles_clean_and_drift_is_found_fixed_and_resolved(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors, kantata: Kantata
) -> None:
    project_id, workspace, user = await own_project(connectors, kantata)
    saturday, sunday = WEEKEND
    later = saturday + timedelta(days=7)  # another week: its approval is taken back on its own
    entries = [await kantata.time(day, workspace, user, 60 + 15 * n, 15000, f"Recon {n}") for n, day in
               enumerate([saturday, saturday, saturday, sunday, sunday, later])]  # fmt: skip
    spent = await kantata.expense(saturday, workspace, user, 4250, "Meals")
    await kantata.approve_ids("time_entries", entries)
    await kantata.approve_ids("expenses", [spent])
    edited, deleted, invoiced_entry, *_, unapproved = entries
    erp = connectors.netsuite

    async with worker.running_workers(temporal_client, flow_settings):
        for day in (*WEEKEND, later):
            await post(temporal_client, flow_settings, day)
        clean = await reconcile(temporal_client, flow_settings, project_id)
        bills = await internal_ids(connectors, project_id)

        # Drift, each made through the systems' own APIs: hours edited and a time bill deleted in
        # NetSuite, an approval taken back in Kantata, an entry approved after its day was posted.
        await set_time_bill_hours(erp, bills[edited], 180)
        await delete_time_bill(erp, bills[deleted])
        await unapprove_time_entry(connectors.kantata, unapproved)
        late = await kantata.time(sunday, workspace, user, 45, 15000, "Approved late")
        await kantata.approve_ids("time_entries", [late])
        drift = await reconcile(temporal_client, flow_settings, project_id)
        found = open_differences(flow_settings, project_id)
        await keep_history(temporal_client, flow_settings, project_id, "reconcile_fixed")

        # Put things back as they were: the next run finds nothing and resolves both exceptions.
        await set_time_bill_hours(erp, bills[edited], 60)
        await kantata.approve_ids("time_entries", [unapproved])
        command = ("reconcile", "--period", PERIOD, "--project", project_id, "--as-of", AS_OF)
        shown = await asyncio.to_thread(psflow, flow_settings, *command)
        [settled, *_] = await asyncio.to_thread(run_results, flow_settings, project_id)

        # The month is invoiced; then a person overrides an invoice line in NetSuite.
        handle, _ = await start_invoice(temporal_client, flow_settings, project_id, PERIOD, issue_date=TEST_TODAY)
        [billed] = (await handle.result()).invoices
        invoiced = await reconcile(temporal_client, flow_settings, project_id)
        await set_invoice_line_amount(erp, billed.erp_id, line=0, amount=Decimal("1.00"))
        # An invoiced entry's time bill deleted: posted again, it would be billed twice, so it waits.
        await delete_time_bill(erp, bills[invoiced_entry])
        overridden = await reconcile(temporal_client, flow_settings, project_id)
        status = await asyncio.to_thread(psflow, flow_settings, "reconcile", "status", "--period", PERIOD)

    seven = {"time_entry": 6, "expense": 1}
    assert (clean.status, clean.provisional, clean.differences, clean.fixed) == ("clean", False, {}, 0), clean
    assert clean.compared == {"psa": {**seven, "project": 1}, "erp": {**seven, "project": 1}, "ledger": seven}

    assert drift.differences == {"hours_mismatch": 1, "unapproved_after_posting": 1}, drift
    assert drift.status == "differences" and drift.fixed == 2 and drift.compared["ledger"]["time_entry"] == 7
    # Auto-fix re-posted the deleted time bill and posted the late entry: one ERP record each.
    assert await bills_of(connectors, deleted) == 1 and await bills_of(connectors, late) == 1
    assert set(found) == {f"{PERIOD}:{edited}", f"{PERIOD}:{unapproved}"}, found
    mismatch, taken_back = found[f"{PERIOD}:{edited}"], found[f"{PERIOD}:{unapproved}"]
    assert (mismatch.kind, mismatch.state, mismatch.system) == ("hours_mismatch", "open", "netsuite")
    assert mismatch.values["psa"]["minutes"] == mismatch.values["ledger"]["minutes"] == 60
    assert mismatch.values["erp"]["minutes"] == 180 and mismatch.values["erp"]["amount"] == "450.00"
    assert {"system": "netsuite", "type": "timebill", "id": bills[edited]} in mismatch.records
    assert (taken_back.kind, taken_back.system) == ("unapproved_after_posting", "kantata")
    assert taken_back.values["psa"]["approved"] is False and taken_back.values["ledger"]["minutes"] == 135
    store = Store(flow_settings.store_url)
    assert [event.action for event in store.audit_trail("time_entry", deleted)] == ["ledger.removed_vanished"]

    assert shown.exit_code == 0, shown.output
    eight = {"time_entry": 7, "expense": 1}
    said = "PSA: 7 time entries, 1 expense, 1 project; ERP: 7 time entries, 1 expense, 1 project; ledger: 7 time"
    assert f"{PERIOD} ({project_id}): clean — compared {said} entries, 1 expense" in shown.output, shown.output
    assert (settled.status, settled.compared["ledger"], settled.differences, settled.fixed) == ("clean", eight, {}, 0)
    for exception in (mismatch, taken_back):
        resolved = exc.get(store, exception.id)
        assert resolved.state == "resolved" and resolved.resolved_by == settled.run_key
        # Opened by the drift run (its two compares count once), closed by the run that no longer found it.
        assert [event.action for event in exc.history(store, exception.id)] == ["opened", "auto_resolved"]
    assert settled.run_key.startswith(f"{flow_settings.task_queue_prefix}reconcile:{PERIOD}:{project_id}/")

    assert (
        invoiced.status == "clean"
        and invoiced.compared["erp"]["invoice"] == invoiced.compared["ledger"]["invoice"] == 1
    )
    assert overridden.differences == {"invoice_mismatch": 1, "missing_in_erp": 1}, overridden
    assert overridden.fixed == 0 and overridden.postings == [] and await bills_of(connectors, invoiced_entry) == 0
    wrong = open_differences(flow_settings, project_id)[f"{PERIOD}:{billed.invoice_id}"]
    assert Decimal(wrong.values["ledger"]["amount"]) == billed.total
    assert Decimal(wrong.values["erp"]["amount"]) != billed.total
    store.engine.dispose()
    assert status.exit_code == 0 and status.output.count(f"reconcile:{PERIOD}:{project_id}") == 5, status.output
    assert "hours_mismatch 1" in status.output and "invoice_mismatch 1, missing_in_erp 1" in status.output


async def test_an_open_period_is_reconciled_provisionally_and_bad_periods_are_one_line_errors(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors, kantata: Kantata
) -> None:
    project_id, _, _ = await own_project(connectors, kantata)
    current = f"{TEST_TODAY:%Y-%m}"
    async with worker.running_workers(temporal_client, flow_settings):
        handle = await start_reconcile(temporal_client, flow_settings, current, project_id, today=TEST_TODAY)
        result = await handle.result()
    assert (result.status, result.provisional, result.total) == ("clean", True, 0), result
    description = await handle.describe()
    attributes = description.typed_search_attributes
    assert attributes.get(sa.RECON_PERIOD) == current and attributes.get(sa.FLOW_STATE) == "provisional-clean"
    [event] = await sink_events(flow_settings.sandbox_url, handle.id)
    assert event["type"] == "com.psflow.reconciliation.completed" and event["source"] == "psflow/reconciliation"
    data = event["data"]
    assert (data["period"], data["project_id"], data["status"], data["provisional"]) == (
        current,
        project_id,
        "clean",
        True,
    )
    assert (data["differences"], data["fixed"]) == ({}, 0)
    assert event["data"]["compared"]["psa"] == {"project": 1}

    malformed = psflow(flow_settings, "reconcile", "--period", "2026-13")
    ahead = psflow(flow_settings, "reconcile", "--period", "2999-01", "--as-of", AS_OF)
    bad_day = psflow(flow_settings, "reconcile", "--period", PERIOD, "--as-of", "tomorrow")
    never = psflow(flow_settings, "reconcile", "status", "--period", "2001-01")
    unknown = psflow(flow_settings, "reconcile", "--period", PERIOD, "--project", "PRJ-NOPE", "--as-of", AS_OF)
    early = psflow(flow_settings, "reconcile", "backfill", "--from", "2026-07", "--to", "2999-01")
    unscheduled = await asyncio.to_thread(
        psflow, flow_settings, "reconcile", "backfill", "--from", "2026-07", "--to", "2026-09"
    )
    assert early.exit_code == unscheduled.exit_code == 1
    assert early.output.strip() == (
        "error: --to 2999-01: its reconciliation is scheduled for 2999-02-02 04:00 UTC, not yet; reconcile it now "
        "(provisionally, while the month is open) with `psflow reconcile --period 2999-01`"
    )
    assert unscheduled.output.strip().endswith(": create the schedules with `psflow schedule apply`")
    assert (malformed.exit_code, ahead.exit_code, never.exit_code, unknown.exit_code) == (1, 1, 0, 1)
    assert unknown.output.strip() == (
        "error: unknown project 'PRJ-NOPE': psflow has posted nothing for it and did not provision it "
        "(project ids look like PRJ-0001 or salesforce:006...)"
    )
    assert (
        malformed.output.strip() == "error: --period: period '2026-13' is not a month written as YYYY-MM, e.g. 2026-10"
    )
    assert ahead.output.strip().startswith(f"error: --period 2999-01 has not started yet (today is {AS_OF})")
    assert bad_day.exit_code == 1
    assert bad_day.output.strip() == "error: --as-of 'tomorrow' is not a day: write it as YYYY-MM-DD"
    assert never.output.strip() == "2001-01: not reconciled yet; run `psflow reconcile --period 2001-01`"


async def test_the_periods_run_finds_a_job_made_by_hand_and_a_project_whose_client_differs(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors, kantata: Kantata
) -> None:
    project_id, _, _ = await own_project(connectors, kantata, psa_customer="C-RECON-OTHER")
    seeded = await connectors.netsuite.get_job("PRJ-0001")
    assert seeded is not None and seeded.customer_internal_id is not None
    by_hand = await create_job_by_hand(
        connectors.netsuite, customer_internal_id=seeded.customer_internal_id, name="Made by hand", currency="USD"
    )
    async with worker.running_workers(temporal_client, flow_settings):
        result = await (
            await start_reconcile(temporal_client, flow_settings, PERIOD, auto_fix=False, today=TEST_TODAY)
        ).result()

    # The whole sandbox's month is compared (other tests' work too): only these two are asserted.
    assert result.status == "differences" and result.fixed == 0 and result.postings == []
    assert result.compared["erp"]["project"] >= 2 and result.compared["psa"]["project"] >= 1
    store = Store(flow_settings.store_url)
    try:
        [made] = exc.find(store, flow="reconciliation", key=f"{PERIOD}:netsuite:{by_hand}")
        [differs] = exc.find(store, flow="reconciliation", key=f"{PERIOD}:{project_id}")
    finally:
        store.engine.dispose()
    assert (made.kind, made.system, made.values["psa"]) == ("project_missing_in_psa", "kantata", None)
    assert made.values["erp"]["name"] == "Made by hand" and made.values["erp"]["internal_id"] == by_hand
    assert differs.kind == "project_mismatch" and differs.values["psa"]["client"] == "C-RECON-OTHER"
    assert differs.values["erp"]["client"] != "C-RECON-OTHER" and differs.message.startswith(f"project {project_id}: ")


@pytest.mark.usefixtures("clear_faults")
async def test_a_worker_killed_mid_snapshot_is_resumed_by_another_from_its_last_page(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors, kantata: Kantata
) -> None:
    project_id, workspace, user = await own_project(connectors, kantata)
    saturday, _ = WEEKEND
    for n in range(12):
        await kantata.time(saturday, workspace, user, 30 + n, 15000, f"Paged {n}")
    await inject(flow_settings.sandbox_url, "kantata", latency_ms=150)  # a page at a time, slowly
    options = {"auto_fix": False, "page_size": 1, "heartbeat_timeout": timedelta(seconds=2), "today": TEST_TODAY}
    first = await start_worker(flow_settings)
    second = None
    try:
        handle = await start_reconcile(temporal_client, flow_settings, PERIOD, project_id, **options)
        for _ in range(600):  # at most a minute
            if await staged_pages(temporal_client, handle, "psa.reconciliation_snapshot") >= 4:
                break
            await asyncio.sleep(0.1)
        # The worker dies mid-snapshot; another one picks the activity up after its heartbeat timeout.
        first.send_signal(signal.SIGKILL)
        await first.wait()
        second = await start_worker(flow_settings)
        result = await asyncio.wait_for(handle.result(), timeout=90)
        progress = await handle.query(ReconcileWorkflow.progress)
    finally:
        for process in (first, second):
            if process is not None and process.returncode is None:
                process.kill()
                await process.wait()

    assert result.status == "clean" and result.compared["psa"]["time_entry"] == 12, result
    # The PSA snapshots (workspaces and time entries, a record a page) were cut off mid-way: the retries
    # started at the page after the last one staged, and the counts are still exact.
    assert progress.resumed and max(progress.resumed.values()) >= 4, progress
    assert progress.staged["psa.time_entry"] == 12 and progress.staged["psa.project"] == 1, progress


async def staged_pages(client: Client, handle: WorkflowHandle[Any, Any], activity_type: str) -> int:
    """The pages a running snapshot activity has heartbeated as staged (0 before its first)."""
    description = await handle.describe()
    for pending in description.raw_description.pending_activities:
        if pending.activity_type.name == activity_type and pending.heartbeat_details.payloads:
            [details] = await client.data_converter.decode(pending.heartbeat_details.payloads)
            if details.get("pages") and details.get("cursor") is not None:
                return int(details["pages"])
    return 0
