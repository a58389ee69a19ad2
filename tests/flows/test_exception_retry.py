"""``retry --set``: a failed item re-run once with a person's edits, recorded, and never posted twice.

Posting exceptions are made the way the daily run makes them, from records entered in the Kantata
emulator (an entry without a rate, one on a project the ERP has no job for); the ERP's time bills are
counted through the NetSuite emulator's API.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowFailureError

import worker
from connectors.netsuite.drift import set_time_bill_hours
from stack.connectors import Connectors
from stack.flows import RetryRefused, retry_exception, trigger_provisioning
from stack.settings import Settings
from store import ExceptionEvent, ExceptionRecord, LedgerEntry, Store
from store import exceptions as exc
from tests.conftest import TEST_TODAY, anchor_month_day
from tests.flows._kantata import Kantata
from tests.flows.conftest import WinDeal, inject
from tests.flows.test_flow_exceptions import INVOICING, PROVISIONING, exceptions_of
from tests.flows.test_invoicing import DAYS, ISSUED, PERIOD, Work, new_project, post_work
from tests.flows.test_posting import in_erp, post
from tests.flows.test_posting_exceptions import psflow
from tests.flows.test_provisioning_saga import QUICK_RETRIES
from tests.flows.test_reconciliation import PERIOD as RECON_PERIOD
from tests.flows.test_reconciliation import WEEKEND, internal_ids, own_project, reconcile
from workflows.invoice_project import InvoiceProjectInput, InvoiceProjectResult, InvoiceProjectWorkflow
from workflows.invoice_project import workflow_id as invoice_workflow_id
from workflows.retry_exception import RetryExceptionInput, RetryExceptionWorkflow, workflow_id

DAY = date(2026, 10, 5)


def _store(settings: Settings) -> Store:
    store = Store(settings.store_url)
    store.upgrade()
    return store


def exception_of(settings: Settings, record_id: str) -> ExceptionRecord:
    store = _store(settings)
    try:
        [row] = exc.find(store, states=None, flow="posting", key=record_id)
        return row
    finally:
        store.engine.dispose()


def history(settings: Settings, exception_id: int) -> list[ExceptionEvent]:
    store = _store(settings)
    try:
        return exc.history(store, exception_id)
    finally:
        store.engine.dispose()


def ledger_row(settings: Settings, record_id: str) -> LedgerEntry | None:
    from sqlmodel import select

    store = _store(settings)
    try:
        with store.session() as session:
            return session.exec(select(LedgerEntry).where(LedgerEntry.source_id == record_id)).first()
    finally:
        store.engine.dispose()


def snapshot(settings: Settings, record_id: str) -> tuple[dict[str, Any], int]:
    """What a refused retry must leave as it was: the exception's row and the length of its history."""
    row = exception_of(settings, record_id)
    assert row.id is not None
    return row.model_dump(), len(history(settings, row.id))


async def test_a_retry_with_an_edit_posts_once_resolves_the_exception_and_records_the_edit(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors, kantata: Kantata, clear_faults: None
) -> None:
    day, tag = anchor_month_day(2, 22), uuid.uuid4().hex[:8]
    workspace = await connectors.kantata.find_project_by_external_id("PRJ-0001")
    job = await connectors.netsuite.find_job("PRJ-0001")
    assert workspace is not None and job is not None and job.currency is not None
    user = await kantata.participant(workspace)
    elsewhere = await kantata.workspace("Not in the ERP", job.currency, f"TEST-NOJOB-{tag}")
    no_rate = await kantata.time(day, workspace, user, 120, 0, f"Workshop {tag}")
    misfiled = await kantata.time(day, elsewhere, user, 90, 15000, f"Review {tag}")
    await kantata.approve(day)
    await kantata.archive(elsewhere)

    async with worker.running_workers(temporal_client, flow_settings):
        await post(temporal_client, flow_settings, day)
        rate_missing, project_unknown = exception_of(flow_settings, no_rate), exception_of(flow_settings, misfiled)
        assert (rate_missing.reason, project_unknown.reason) == ("missing_rate", "unknown_project")
        assert rate_missing.id is not None and project_unknown.id is not None
        assert rate_missing.retry_input is not None
        assert rate_missing.retry_input["hours"] == "2:00" and rate_missing.retry_input["rate"] == "0.00"
        assert rate_missing.retry_input["project_id"] == "PRJ-0001"

        # Refused before anything runs: nothing in the store or the ERP changes.
        before = snapshot(flow_settings, no_rate)
        refusals = {
            "color": f"exception {rate_missing.id} has no field 'color' to edit; its fields are billable, "
            "consultant_id, currency, date, hours, notes, project_id, rate, role, task_id$",
            "hours": "hours: must be more than 0:00 and at most 24:00 hours, got -2:00",
            "currency": "currency: 'ZZZ' is not an ISO 4217 currency code",
            "approved_at": "approved_at is what the PSA recorded and cannot be edited",
        }
        bad_values = {"color": "blue", "hours": "-2", "currency": "ZZZ", "approved_at": "2020-01-01T00:00:00Z"}
        for field, expected in refusals.items():
            with pytest.raises(RetryRefused, match=expected.replace("(", r"\(")):
                await retry_exception(
                    temporal_client, flow_settings, rate_missing.id, {field: bad_values[field]}, actor="ana"
                )
        unknown = await asyncio.to_thread(
            psflow, flow_settings, "exceptions", "retry", str(rate_missing.id), "--set", "color=blue"
        )
        assert unknown.exit_code == 1 and unknown.output.count("\n") == 1, unknown.output
        assert (
            f"error: exception {rate_missing.id} has no field 'color' to edit; its fields are billable"
            in unknown.output
        )
        assert snapshot(flow_settings, no_rate) == before
        assert no_rate not in (await in_erp(connectors, day))[0]

        # The rate set, through the CLI: the entry posts once, at that rate, and the retry resolves its exception.
        retried = await asyncio.to_thread(
            psflow,
            flow_settings,
            "exceptions",
            "retry",
            str(rate_missing.id),
            "--set",
            "rate=150",
            "--actor",
            "ana@firm.example",
        )
        assert retried.exit_code == 0, retried.output
        run = workflow_id(rate_missing.id, 1, prefix=flow_settings.task_queue_prefix)
        assert f"workflow_id: {run}" in retried.output and "outcome: resolved" in retried.output
        assert f"message: time entry {no_rate} posted to the ERP as " in retried.output
        resolved = exception_of(flow_settings, no_rate)
        assert (resolved.state, resolved.resolved_by) == ("resolved", run)
        steps = [(e.action, e.actor, e.detail) for e in history(flow_settings, rate_missing.id)]
        assert ("retried", "ana@firm.example", {"edits": {"rate": "150"}, "workflow_id": run}) in steps
        assert steps[-1][0] == "auto_resolved"
        posted = ledger_row(flow_settings, no_rate)
        assert posted is not None and posted.run_id == run
        assert (posted.amount, posted.minutes, posted.project_id) == (Decimal("300.0000"), 120, "PRJ-0001")
        assert (await in_erp(connectors, day))[0][no_rate] == 1

        # Again: refused, as it is resolved; the retry's workflow run again and the next daily run post nothing.
        with pytest.raises(RetryRefused, match=f"is resolved by {run}"):
            await retry_exception(temporal_client, flow_settings, rate_missing.id, {"rate": "150"}, actor="ana")
        again = await temporal_client.execute_workflow(
            RetryExceptionWorkflow.run,
            RetryExceptionInput(exception_id=rate_missing.id, flow="posting", actor="ana", edits={"rate": "175"}),
            id=f"exception-retry:{rate_missing.id}:test-{tag}",
            task_queue=flow_settings.task_queue("flows"),
        )
        assert again.outcome == "resolved"
        rerun = await post(temporal_client, flow_settings, day)
        assert rerun.already_posted >= 1
        bills, _ = await in_erp(connectors, day)
        assert bills[no_rate] == 1
        assert ledger_row(flow_settings, no_rate) == posted
        assert exception_of(flow_settings, no_rate).state == "resolved"

        # A project code corrected in two goes: the first still unknown (failed again, counted, the edit
        # kept), the second the right one.
        seen = exception_of(flow_settings, misfiled).occurrences
        wrong = await retry_exception(
            temporal_client, flow_settings, project_unknown.id, {"project_id": f"TEST-STILL-NOJOB-{tag}"}, actor="bo"
        )
        assert wrong.outcome == "failed again" and f"TEST-STILL-NOJOB-{tag}" in wrong.message, wrong
        still = exception_of(flow_settings, misfiled)
        assert still.state == "open" and still.occurrences == seen + 1
        assert still.retry_input is not None and still.retry_input["project_id"] == f"TEST-STILL-NOJOB-{tag}"
        # The ERP commits the time bill and the answer is lost: the PUT again, by external id, adds nothing.
        await inject(flow_settings.sandbox_url, "netsuite", commit_then_fail=1.0, commit_then_fail_mode="drop",
                     methods=["PUT"], path_regex="timeBill", times=1)  # fmt: skip
        fixed = await retry_exception(
            temporal_client, flow_settings, project_unknown.id, {"project_id": "PRJ-0001"}, actor="bo"
        )
        assert (fixed.outcome, fixed.workflow_id) == (
            "resolved",
            workflow_id(project_unknown.id, 2, prefix=flow_settings.task_queue_prefix),
        ), fixed
        moved = ledger_row(flow_settings, misfiled)
        assert moved is not None and moved.project_id == "PRJ-0001"
        assert (await in_erp(connectors, day))[0][misfiled] == 1
        async with httpx.AsyncClient() as http:
            faults = (await http.get(f"{flow_settings.sandbox_url}/_admin/faults")).json()
        assert faults["remaining"]["netsuite"] == 0, faults
        edits = [e.detail["edits"] for e in history(flow_settings, project_unknown.id) if e.action == "retried"]
        assert edits == [{"project_id": f"TEST-STILL-NOJOB-{tag}"}, {"project_id": "PRJ-0001"}]


async def test_retries_that_cannot_apply_are_refused_in_one_line(
    temporal_client: Client, flow_settings: Settings
) -> None:
    store = _store(flow_settings)
    try:
        [ignored, provisioning, unread, repriced] = exc.record(
            store,
            [
                exc.Occurrence("posting", "netsuite", "time_entry", f"kantata:x-{uuid.uuid4().hex}", "duplicate", "m"),
                exc.Occurrence("provisioning", "salesforce", "engagement", "salesforce:0068d000000XYZ1AAA", "r", "m"),
                exc.Occurrence("posting", "netsuite", "expense", "kantata:x-1", "unreadable", "m", business_date=DAY),
                exc.Occurrence("posting", "netsuite", "rate_change", "kantata:x-2", "rate_changed", "m"),
            ],
            run_id="test",
        )
        exc.act(store, ignored, "ignore", actor="ana")
    finally:
        store.engine.dispose()
    cases = {
        (ignored, ()): f"exception {ignored} is ignored by ana: only open or acknowledged ones can be retried",
        (provisioning, ("billing_address",)): f"exception {provisioning} takes no edits: retry it without --set",
        (987654321, ()): "no exception 987654321",
        (unread, ()): f"exception {unread} keeps no record to retry from .*: correct it in the PSA, then "
        f"`psflow posting run --date {DAY}`",
        (repriced, ()): f"exception {repriced} is a rate change, which a retry does not post again",
    }
    steps = {i: [e.action for e in history(flow_settings, i)] for i in (ignored, provisioning, unread, repriced)}
    for (exception_id, fields), message in cases.items():
        with pytest.raises(RetryRefused, match=message) as refused:
            await retry_exception(temporal_client, flow_settings, exception_id, dict.fromkeys(fields, "x"), actor="ana")
        assert "\n" not in str(refused.value)
    assert {i: [e.action for e in history(flow_settings, i)] for i in steps} == steps


async def test_a_failed_provisioning_and_a_failed_invoice_retried_re_run_their_flow_and_are_resolved(
    temporal_client: Client,
    flow_settings: Settings,
    connectors: Connectors,
    kantata: Kantata,
    win_deal: WinDeal,
    clear_faults: None,
) -> None:
    deal = await win_deal("salesforce")
    project_id, _ = await new_project(connectors, kantata, "retry")
    store = _store(flow_settings)
    await post_work(connectors, store, project_id, [Work.time(DAYS.start, 240, "150.00")])
    store.engine.dispose()
    # The ERP refuses jobs and invoices (HTTP 500) until the faults are cleared: both flows fail for good.
    await inject(flow_settings.sandbox_url, "netsuite", server_error=1.0, methods=["PUT"],
                 path_regex="/record/v1/(job|invoice)/")  # fmt: skip
    async with worker.running_workers(temporal_client, flow_settings):
        provisioning, _ = await trigger_provisioning(
            temporal_client, flow_settings, crm="salesforce", opportunity_id=deal, source="cli",
            sla=timedelta(seconds=3), **QUICK_RETRIES,
        )  # fmt: skip
        invoicing = await temporal_client.start_workflow(
            InvoiceProjectWorkflow.run,
            InvoiceProjectInput(project_id=project_id, period=PERIOD, issue_date=ISSUED, step_attempts=2),
            id=invoice_workflow_id(project_id, PERIOD),
            task_queue=flow_settings.task_queue("flows"),
        )
        for failing in (provisioning, invoicing):
            with pytest.raises(WorkflowFailureError):
                await failing.result()
        [engagement] = exceptions_of(flow_settings, PROVISIONING, f"salesforce:{deal}")
        [invoice] = exceptions_of(flow_settings, INVOICING, f"{project_id}:{PERIOD}")
        assert engagement.id is not None and invoice.id is not None
        with pytest.raises(RetryRefused, match=f"exception {engagement.id} takes no edits"):
            await retry_exception(temporal_client, flow_settings, engagement.id, {"sla": "1h"}, actor="ana")

        async with httpx.AsyncClient() as http:
            (await http.delete(f"{flow_settings.sandbox_url}/_admin/faults")).raise_for_status()
        provisioned, invoiced = await asyncio.gather(
            retry_exception(temporal_client, flow_settings, engagement.id, {}, actor="ana"),
            retry_exception(temporal_client, flow_settings, invoice.id, {}, actor="ana", today=ISSUED),
        )

    assert (provisioned.outcome, invoiced.outcome) == ("resolved", "resolved"), (provisioned, invoiced)
    # The re-runs are the flows' own runs under their one ids, and they resolved the exceptions, named.
    rerun = await temporal_client.get_workflow_handle(f"engagement-provisioning:salesforce:{deal}").describe()
    assert rerun.status is not None and rerun.status.name == "COMPLETED"
    billed = await temporal_client.get_workflow_handle(
        invoice_workflow_id(project_id, PERIOD), result_type=InvoiceProjectResult
    ).result()
    assert billed.status == "invoiced" and len(billed.invoices) == 1
    for before, retry, run in (
        (engagement, provisioned, rerun.id),
        (invoice, invoiced, invoice_workflow_id(project_id, PERIOD)),
    ):
        [after] = exceptions_of(flow_settings, (before.flow, before.system, before.kind), before.business_key)
        assert after.state == "resolved" and str(after.resolved_by).startswith(f"{run}/"), after
        assert after.id is not None
        steps = [(e.action, e.detail) for e in history(flow_settings, after.id)]
        assert [action for action, _ in steps] == ["opened", "retried", "auto_resolved"]
        assert steps[1][1] == {"edits": {}, "workflow_id": retry.workflow_id}


async def test_a_reconciliation_difference_retried_is_reconciled_again_and_resolved_once_it_is_gone(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors, kantata: Kantata
) -> None:
    project_id, workspace, user = await own_project(connectors, kantata)
    saturday = WEEKEND[0]
    entry = await kantata.time(saturday, workspace, user, 60, 15000, "Reconciled, then retried")
    await kantata.approve_ids("time_entries", [entry])
    async with worker.running_workers(temporal_client, flow_settings):
        await post(temporal_client, flow_settings, saturday)
        [bill] = (await internal_ids(connectors, project_id)).values()
        await set_time_bill_hours(connectors.netsuite, bill, 180)  # a person edits the hours in NetSuite
        drift = await reconcile(temporal_client, flow_settings, project_id)
        assert drift.differences == {"hours_mismatch": 1}, drift
        store = _store(flow_settings)
        [difference] = exc.find(store, flow="reconciliation", key=f"{RECON_PERIOD}:{entry}")
        store.engine.dispose()
        assert difference.id is not None

        # Retried before anyone put the hours back: reconciled again, still there.
        unchanged = await retry_exception(
            temporal_client, flow_settings, difference.id, {}, actor="ana", today=TEST_TODAY
        )
        assert unchanged.outcome == "failed again" and "still found after the re-run" in unchanged.message, unchanged
        await set_time_bill_hours(connectors.netsuite, bill, 60)
        fixed = await retry_exception(temporal_client, flow_settings, difference.id, {}, actor="ana", today=TEST_TODAY)

    assert fixed.outcome == "resolved", fixed
    assert fixed.workflow_id == workflow_id(difference.id, 2, prefix=flow_settings.task_queue_prefix)
    store = _store(flow_settings)
    try:
        resolved = exc.get(store, difference.id)
        steps = [event.action for event in exc.history(store, difference.id)]
    finally:
        store.engine.dispose()
    reconciled = f"{flow_settings.task_queue_prefix}reconcile:{RECON_PERIOD}:{project_id}/"
    assert resolved.state == "resolved" and str(resolved.resolved_by).startswith(reconciled), resolved
    assert steps == ["opened", "retried", "seen", "retried", "auto_resolved"]
