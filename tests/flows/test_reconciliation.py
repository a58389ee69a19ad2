"""Reconciliation end to end: work posted by the real posting flow, drift made through the emulators' own APIs.

One project of the test's own (an ERP job and a PSA workspace, as provisioning leaves them) gets time
on the first weekend of ``PERIOD`` (the demo firm books none on weekends), posted by the daily posting
workflow. Each reconciliation is scoped to that project, because the sandbox is the whole session's.
The drift cases share that one posted period: each changes a record of its own.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

from click.testing import Result
from temporalio.client import Client
from typer.testing import CliRunner

import cli
import worker
from canonical import BillingType, DateRange, Money, Project
from canonical.calendar import billing_period, previous_period
from connectors._core import paginate
from stack.connectors import Connectors
from stack.flows import start_reconcile
from stack.settings import Settings
from store import Store
from store import exceptions as exc
from store.reconciliation import ReconciliationRun, runs_of
from tests.conftest import TEST_TODAY
from tests.flows._kantata import Kantata
from tests.flows.test_posting import post
from workflows import search_attributes as sa
from workflows.reconcile import ReconcileResult

PERIOD = previous_period(TEST_TODAY)
"""The month before the sandbox's anchor: open in its NetSuite, and over by ``TEST_TODAY``."""
DAYS = billing_period(PERIOD)
WEEKEND = sorted(day for day in (DAYS.start + timedelta(days=n) for n in range(7)) if day.weekday() >= 5)


async def own_project(connectors: Connectors, kantata: Kantata) -> tuple[str, str, str]:
    """A USD project as provisioning leaves it (ERP job under a seeded customer, PSA workspace); a consultant on it."""
    project_id = f"TEST-RECON-{uuid.uuid4().hex[:6]}"
    seeded = await connectors.netsuite.get_job("PRJ-0001")
    assert seeded is not None and seeded.customer_internal_id is not None
    project = Project(
        id=project_id,
        code=project_id,
        name="Reconciled engagement",
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
    workspace = await kantata.workspace(project.name, "USD", project_id)
    user = await kantata.participant(str(await connectors.kantata.find_project_by_external_id("PRJ-0001")))
    return project_id, workspace, user


async def reconcile(client: Client, settings: Settings, project_id: str, **options: Any) -> ReconcileResult:
    options.setdefault("today", TEST_TODAY)
    return await (await start_reconcile(client, settings, PERIOD, project_id, **options)).result()


async def bills_of(connectors: Connectors, entry_id: str) -> int:
    """How many NetSuite time bills carry this entry's id as external id."""
    netsuite, period = connectors.netsuite, DateRange(start=DAYS.start, end=DAYS.end)
    rows = paginate(lambda c: netsuite.time_bills_page(period=period, cursor=c))
    return Counter([row.external_id async for row in rows])[entry_id]


async def netsuite(connectors: Connectors, method: str, path: str, body: dict[str, Any] | None = None) -> None:
    """A call to NetSuite's REST API as a person's script would make it (authenticated, not through psflow's logic)."""
    response = await connectors.netsuite.client.request(method, path, json=body)
    assert response.status_code == 204, response.text


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
    entries = [await kantata.time(day, workspace, user, 60 + 15 * n, 15000, f"Recon {n}") for n, day in
               enumerate([saturday, saturday, saturday, sunday, sunday])]  # fmt: skip
    await kantata.approve_ids("time_entries", entries)
    edited, deleted, *_ = entries

    async with worker.running_workers(temporal_client, flow_settings):
        for day in WEEKEND:
            await post(temporal_client, flow_settings, day)
        clean = await reconcile(temporal_client, flow_settings, project_id)

        # Drift, each through an emulator's own API: hours edited in NetSuite, a time bill deleted,
        # and an entry approved after its day was posted (never posted).
        await netsuite(connectors, "PATCH", f"/record/v1/timeBill/eid:{edited}", {"hours": "3:00"})
        await netsuite(connectors, "DELETE", f"/record/v1/timeBill/eid:{deleted}")
        late = await kantata.time(sunday, workspace, user, 45, 15000, "Approved late")
        await kantata.approve_ids("time_entries", [late])
        drift = await reconcile(temporal_client, flow_settings, project_id)
        found = open_differences(flow_settings, project_id)

        # Put the hours back as they were: the next run finds nothing and resolves the exception.
        await netsuite(connectors, "PATCH", f"/record/v1/timeBill/eid:{edited}", {"hours": "1:00"})
        shown = await asyncio.to_thread(psflow, flow_settings, "reconcile", "--period", PERIOD, "--project", project_id)
        [settled, *_] = await asyncio.to_thread(run_results, flow_settings, project_id)
        status = await asyncio.to_thread(psflow, flow_settings, "reconcile", "status", "--period", PERIOD)

    counts = {"psa": {"time_entry": 5}, "erp": {"time_entry": 5}, "ledger": {"time_entry": 5}}
    assert (clean.status, clean.provisional, clean.differences, clean.fixed) == ("clean", False, {}, 0), clean
    assert clean.compared == counts

    assert drift.status == "differences" and drift.differences == {"hours_mismatch": 1}, drift
    assert drift.fixed == 2 and drift.compared["ledger"] == {"time_entry": 6}, drift
    # Auto-fix re-posted the deleted time bill and posted the late entry: one ERP record each.
    assert await bills_of(connectors, deleted) == 1 and await bills_of(connectors, late) == 1
    assert set(found) == {f"{PERIOD}:{edited}"}, found
    mismatch = found[f"{PERIOD}:{edited}"]
    assert mismatch.kind == "hours_mismatch" and mismatch.state == "open"
    assert mismatch.values["psa"]["minutes"] == 60 and mismatch.values["erp"]["minutes"] == 180
    assert mismatch.values["ledger"]["minutes"] == 60 and mismatch.values["erp"]["amount"] == "450"
    assert {"system": "netsuite", "type": "timebill", "id": mismatch.values["erp"]["internal_id"]} in mismatch.records
    store = Store(flow_settings.store_url)
    vanished = store.audit_trail("time_entry", deleted)
    assert [event.action for event in vanished] == ["ledger.removed_vanished"]

    assert shown.exit_code == 0, shown.output
    assert f"{PERIOD} ({project_id}): clean — compared PSA 6, ERP 6, ledger 6" in shown.output
    six = {"psa": {"time_entry": 6}, "erp": {"time_entry": 6}, "ledger": {"time_entry": 6}}
    assert (settled.status, settled.compared, settled.differences, settled.fixed) == ("clean", six, {}, 0)
    resolved = exc.get(store, mismatch.id)
    assert resolved.state == "resolved" and resolved.resolved_by == settled.run_key
    assert resolved.resolved_by.startswith(f"{flow_settings.task_queue_prefix}reconcile:{PERIOD}:{project_id}/")
    assert [event.action for event in exc.history(store, mismatch.id)] == ["opened", "seen", "auto_resolved"]
    store.engine.dispose()
    assert status.exit_code == 0 and status.output.count(f"reconcile:{PERIOD}:{project_id}") == 3, status.output
    assert "PSA 6, ERP 6, ledger 6" in status.output and "hours_mismatch 1" in status.output


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

    malformed = psflow(flow_settings, "reconcile", "--period", "2026-13")
    ahead = psflow(flow_settings, "reconcile", "--period", "2999-01")
    never = psflow(flow_settings, "reconcile", "status", "--period", "2001-01")
    assert (malformed.exit_code, ahead.exit_code, never.exit_code) == (1, 1, 0)
    assert (
        malformed.output.strip() == "error: --period: period '2026-13' is not a month written as YYYY-MM, e.g. 2026-10"
    )
    assert ahead.output.strip().startswith("error: --period 2999-01 has not started yet (today is ")
    assert never.output.strip() == "2001-01: not reconciled yet; run `psflow reconcile --period 2001-01`"
