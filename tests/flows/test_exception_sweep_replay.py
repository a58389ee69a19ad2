"""Determinism: recorded exception-sweep histories still replay on today's workflow code.

The histories are a sweep that continued as new (small pages) and the run that finished it. If this
fails after a workflow change, the change would break sweeps in flight: guard it with
``workflow.patched``, or, if breaking them is intended, re-record against the local stack
(``psflow dev up``) with ``python -m tests.flows.test_exception_sweep_replay``.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer

import worker
from stack.client import connect
from stack.settings import Settings, load_settings
from store import Store
from store import exceptions as exc
from tests.conftest import DATA_CONVERTER
from workflows.exception_sweep import ExceptionSweepInput, ExceptionSweepWorkflow

DIRECTORY = Path(__file__).resolve().parent.parent / "histories"
HISTORIES = sorted(DIRECTORY.glob("exception_sweep*.json"))


def test_there_are_histories_of_a_continued_and_a_completed_sweep() -> None:
    assert {path.stem for path in HISTORIES} >= {"exception_sweep_continued_as_new", "exception_sweep_completed"}


@pytest.mark.parametrize("path", HISTORIES, ids=lambda path: path.stem)
async def test_recorded_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
    replayer = Replayer(workflows=[ExceptionSweepWorkflow], data_converter=DATA_CONVERTER)
    await replayer.replay_workflow(history)


async def record(client: Client, config: Settings) -> None:
    """Open five exceptions, sweep them past both thresholds in pages of two, save both runs' histories."""
    store = Store(config.store_url, exception_policy=config.exception_policy())
    store.upgrade()
    monday = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    occurrences = [
        exc.Occurrence(
            flow="posting",
            system="netsuite",
            kind="time_entry",
            business_key=f"kantata:replay-{n}-{uuid.uuid4().hex[:8]}",
            reason="unknown_project",
            message="project PRJ-9 is not in NetSuite",
        )
        for n in range(5)
    ]
    exc.record(store, occurrences, run_id="record-histories", now=monday)
    store.engine.dispose()
    async with worker.running_workers(client, config):
        handle = await client.start_workflow(
            ExceptionSweepWorkflow.run,
            ExceptionSweepInput(as_of=monday + timedelta(days=30), page_size=2, pages_per_run=2),
            id=f"{config.task_queue_prefix}exception-sweep-record-{uuid.uuid4().hex[:8]}",
            task_queue=config.task_queue("flows"),
        )
        await handle.result()
        first = client.get_workflow_handle(handle.id, run_id=handle.first_execution_run_id)
        histories = {
            "continued_as_new": await first.fetch_history(),
            "completed": await client.get_workflow_handle(handle.id).fetch_history(),
        }
    for name, history in histories.items():
        path = DIRECTORY / f"exception_sweep_{name}.json"
        path.write_text(json.dumps(json.loads(history.to_json()), indent=1) + "\n", encoding="utf-8")
        print(f"wrote {path}")


async def main() -> None:
    config = load_settings()
    await record(await connect(config), config)


if __name__ == "__main__":
    asyncio.run(main())
