"""``retry --set``: a failed item re-run once with a person's edits, recorded, and never posted twice.

Posting exceptions are made the way the daily run makes them, from records entered in the Kantata
emulator (an entry without a rate, one on a project the ERP has no job for); the ERP's time bills are
counted through the NetSuite emulator's API.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from temporalio.client import Client

import worker
from stack.flows import RetryRefused, retry_exception
from stack.settings import Settings
from store import ExceptionEvent, ExceptionRecord, LedgerEntry, Store
from store import exceptions as exc
from tests.flows.conftest import WinDeal


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


async def test_retries_that_cannot_apply_are_refused_in_one_line(
    temporal_client: Client, flow_settings: Settings
) -> None:
    store = _store(flow_settings)
    try:
        [ignored, provisioning] = exc.record(
            store,
            [
                exc.Occurrence("posting", "netsuite", "time_entry", f"kantata:x-{uuid.uuid4().hex}", "duplicate", "m"),
                exc.Occurrence("provisioning", "salesforce", "engagement", "salesforce:0068d000000XYZ1AAA", "r", "m"),
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
    }
    for (exception_id, fields), message in cases.items():
        with pytest.raises(RetryRefused, match=message) as refused:
            await retry_exception(temporal_client, flow_settings, exception_id, dict.fromkeys(fields, "x"), actor="ana")
        assert "\n" not in str(refused.value)


async def test_a_provisioning_and_an_invoicing_retry_re_run_their_flow_and_resolve_the_exception(
    temporal_client: Client, flow_settings: Settings, win_deal: WinDeal
) -> None:
    deal = await win_deal("salesforce")
    store = _store(flow_settings)
    try:
        provisioning, invoicing = exc.record(
            store,
            [
                exc.Occurrence("provisioning", "salesforce", "engagement", f"salesforce:{deal}", "Failed", "it failed"),
                # A month long past with nothing posted: its invoice run finds nothing to bill, whatever today is.
                exc.Occurrence("invoicing", "netsuite", "invoice", "PRJ-0002:2020-01", "Failed", "it failed"),
            ],
            run_id="test",
        )
    finally:
        store.engine.dispose()

    async with worker.running_workers(temporal_client, flow_settings):
        provisioned, invoiced = await asyncio.gather(
            retry_exception(temporal_client, flow_settings, provisioning, {}, actor="ana"),
            retry_exception(temporal_client, flow_settings, invoicing, {}, actor="ana"),
        )

    assert (provisioned.outcome, invoiced.outcome) == ("resolved", "resolved"), (provisioned, invoiced)
    run = await temporal_client.get_workflow_handle(f"engagement-provisioning:salesforce:{deal}").describe()
    assert run.status is not None and run.status.name == "COMPLETED"
    for exception_id, retry in ((provisioning, provisioned), (invoicing, invoiced)):
        steps = history(flow_settings, exception_id)
        assert [e.action for e in steps][-2:] == ["retried", "auto_resolved"]
        assert steps[-2].detail == {"edits": {}, "workflow_id": retry.workflow_id}
    store = _store(flow_settings)
    try:
        closed = [exc.get(store, i) for i in (provisioning, invoicing)]
    finally:
        store.engine.dispose()
    assert [row.state for row in closed] == ["resolved", "resolved"]
