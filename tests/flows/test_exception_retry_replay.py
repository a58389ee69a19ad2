"""Determinism: recorded retries of exceptions still replay on today's `RetryExceptionWorkflow`.

If this fails after a workflow change, the change would break retries in flight: guard it with
``workflow.patched``, or, if breaking is intended, re-record on the test stack with
``PSFLOW_RECORD_HISTORIES=1 pytest tests/flows/test_exception_retry_replay.py -k record``
(the last test runs the three retries every time and writes their histories only then).
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer

import worker
from connectors.netsuite.drift import set_time_bill_hours
from stack.connectors import Connectors
from stack.flows import retry_exception
from stack.settings import Settings
from store import Store
from store import exceptions as exc
from tests.conftest import DATA_CONVERTER, TEST_TODAY, anchor_month_day
from tests.flows._kantata import Kantata
from tests.flows.conftest import WinDeal
from tests.flows.test_posting import post
from tests.flows.test_reconciliation import PERIOD as RECON_PERIOD
from tests.flows.test_reconciliation import WEEKEND, internal_ids, own_project, reconcile
from workflows.retry_exception import RetryExceptionWorkflow

DIRECTORY = Path(__file__).resolve().parent.parent / "histories"
HISTORIES = sorted(DIRECTORY.glob("retry_exception_*.json"))
WORKFLOWS = [RetryExceptionWorkflow]


def test_there_are_histories_of_a_posting_a_provisioning_and_a_reconciliation_retry() -> None:
    assert {path.stem for path in HISTORIES} >= {
        "retry_exception_posting",
        "retry_exception_provisioning",
        "retry_exception_reconciliation",
    }


@pytest.mark.parametrize("path", HISTORIES, ids=lambda path: path.stem)
async def test_recorded_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
    await Replayer(workflows=WORKFLOWS, data_converter=DATA_CONVERTER).replay_workflow(history)


async def test_a_changed_step_is_caught() -> None:
    text = (DIRECTORY / "retry_exception_posting.json").read_text(encoding="utf-8")
    history = WorkflowHistory.from_json("tampered", text.replace("erp.retry_posting", "erp.post_something_else"))
    with pytest.raises(Exception, match=r"[Nn]ondeterminism|TMPRL1100"):
        await Replayer(workflows=WORKFLOWS, data_converter=DATA_CONVERTER).replay_workflow(history)


async def test_a_posting_a_provisioning_and_a_reconciliation_retry_resolve_and_record(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors, kantata: Kantata, win_deal: WinDeal
) -> None:
    """Retry a posting exception (an entry without a rate, given one), a provisioning one and a reconciliation
    difference (a time bill's hours edited, then put back): each is resolved. With
    ``PSFLOW_RECORD_HISTORIES=1`` their histories are saved for the replay tests above."""
    day, tag = anchor_month_day(3, 24), uuid.uuid4().hex[:8]
    workspace = await connectors.kantata.find_project_by_external_id("PRJ-0001")
    assert workspace is not None
    entry = await kantata.time(day, workspace, await kantata.participant(workspace), 60, 0, f"Recorded {tag}")
    await kantata.approve(day)
    deal = await win_deal("salesforce")
    recon_project, recon_workspace, recon_user = await own_project(connectors, kantata)
    drifted = await kantata.time(WEEKEND[1], recon_workspace, recon_user, 60, 15000, f"Recorded {tag}")
    await kantata.approve_ids("time_entries", [drifted])
    async with worker.running_workers(temporal_client, flow_settings):
        await post(temporal_client, flow_settings, day)
        await post(temporal_client, flow_settings, WEEKEND[1])
        [bill] = (await internal_ids(connectors, recon_project)).values()
        await set_time_bill_hours(connectors.netsuite, bill, 120)
        await reconcile(temporal_client, flow_settings, recon_project)
        await set_time_bill_hours(connectors.netsuite, bill, 60)
        store = Store(flow_settings.store_url)
        [posting] = exc.find(store, flow="posting", key=entry)
        [provisioning] = exc.record(
            store,
            [exc.Occurrence("provisioning", "salesforce", "engagement", f"salesforce:{deal}", "Failed", "it failed")],
            run_id="record",
        )
        [difference] = exc.find(store, flow="reconciliation", key=f"{RECON_PERIOD}:{drifted}")
        store.engine.dispose()
        assert posting.id is not None and difference.id is not None
        retries = {
            "retry_exception_posting": await retry_exception(
                temporal_client, flow_settings, posting.id, {"rate": "150"}, actor="recorder"
            ),
            "retry_exception_provisioning": await retry_exception(
                temporal_client, flow_settings, provisioning, {}, actor="recorder"
            ),
            "retry_exception_reconciliation": await retry_exception(
                temporal_client, flow_settings, difference.id, {}, actor="recorder", today=TEST_TODAY
            ),
        }
    for name, outcome in retries.items():
        assert outcome.outcome == "resolved", outcome
        if not os.environ.get("PSFLOW_RECORD_HISTORIES"):
            continue
        history = await temporal_client.get_workflow_handle(outcome.workflow_id).fetch_history()
        (DIRECTORY / f"{name}.json").write_text(json.dumps(history.to_json_dict(), indent=1) + "\n", encoding="utf-8")
