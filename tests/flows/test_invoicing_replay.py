"""Determinism: recorded invoicing histories still replay on today's workflow code.

If this fails after a workflow change, the change would break runs already in flight: guard it with
``workflow.patched`` — or, if breaking is intended, re-record against the local stack (``psflow dev up``)
with ``python -m tests.flows.test_invoicing_replay``.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

import worker
from stack.client import connect
from stack.connectors import Connectors
from stack.flows import start_invoice, start_monthly_invoicing
from stack.settings import Settings, load_settings
from store import Store
from tests.conftest import DATA_CONVERTER
from tests.flows.test_invoicing import DAYS, PERIOD, Work, post_work
from workflows.invoice_project import InvoiceProjectWorkflow
from workflows.monthly_invoicing import MonthlyInvoicingWorkflow

DIRECTORY = Path(__file__).resolve().parent.parent / "histories"
HISTORIES = sorted(DIRECTORY.glob("invoice_project*.json"))
WORKFLOWS = [InvoiceProjectWorkflow, MonthlyInvoicingWorkflow]


def test_there_are_histories_of_a_project_and_of_a_month_before_and_after_supplementary_invoices() -> None:
    assert {path.stem for path in HISTORIES} >= {
        "invoice_project",
        "invoice_project_monthly",
        "invoice_project_reported",
        "invoice_project_monthly_supplementary",
        "invoice_project_failed_exceptions",  # since the exceptions patch: records the failure ...
        "invoice_project_resolved_exceptions",  # ... and the next good run resolves it
    }


@pytest.mark.parametrize("path", HISTORIES, ids=lambda path: path.stem)
async def test_recorded_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
    await Replayer(workflows=WORKFLOWS, data_converter=DATA_CONVERTER).replay_workflow(history)


async def test_a_changed_step_is_caught() -> None:
    text = (DIRECTORY / "invoice_project.json").read_text(encoding="utf-8")
    history = WorkflowHistory.from_json("tampered", text.replace("erp.post_invoice", "erp.post_something_else"))
    with pytest.raises(Exception, match=r"[Nn]ondeterminism|TMPRL1100"):
        await Replayer(workflows=WORKFLOWS, data_converter=DATA_CONVERTER).replay_workflow(history)


async def record(settings: Settings) -> None:
    """Invoice two seeded projects for last month, one by hand and one by the monthly run, then post late work
    and run the month again (a supplementary invoice); save the hand run's and the second month run's histories.

    ``invoice_project.json`` and ``invoice_project_monthly.json`` were recorded before the PSA report and
    supplementary invoices: they are kept, not re-recorded, to guard the paths patched for them.
    """
    client = await connect(settings)
    connectors = Connectors.build(settings)
    store = Store(settings.store_url)
    store.upgrade()
    eur = [Work.time(DAYS.start, 450, "160.00", currency="EUR"), Work.expense(DAYS.end, "64.10", currency="EUR")]
    await post_work(connectors, store, "PRJ-0012", eur)
    usd = [Work.time(DAYS.start + timedelta(days=3), 360, "175.00"), Work.expense(DAYS.end, "12.00")]
    await post_work(connectors, store, "PRJ-0008", usd)
    async with worker.running_workers(client, settings):
        project, _ = await start_invoice(client, settings, "PRJ-0012", PERIOD)
        await project.result()
        await (await start_monthly_invoicing(client, settings, PERIOD)).result()
        await post_work(connectors, store, "PRJ-0008", [Work.time(DAYS.end, 440, "187.50")])
        month = await start_monthly_invoicing(client, settings, PERIOD)
        await month.result()
        for name, handle in (("invoice_project_reported", project), ("invoice_project_monthly_supplementary", month)):
            history = await handle.fetch_history()
            path = DIRECTORY / f"{name}.json"
            path.write_text(json.dumps(history.to_json_dict(), indent=1) + "\n", encoding="utf-8")
            print(f"wrote {path}")
    await connectors.aclose()


if __name__ == "__main__":
    asyncio.run(record(load_settings(task_queue_prefix="record-invoicing-")))
