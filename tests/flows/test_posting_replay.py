"""Determinism: recorded posting histories still replay on today's workflow code.

The histories are a run that continued as new, the run that finished after it, and a day with
nothing to post. If this fails after a workflow change, the change would break postings already in
flight: guard it with ``workflow.patched``, or, if breaking them is intended, re-record against the
local stack (``psflow dev up``) with ``python -m tests.flows.test_posting_replay``.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

import worker
from stack.client import connect
from stack.flows import start_posting
from stack.settings import load_settings
from tests.conftest import DATA_CONVERTER
from tests.flows.test_posting import seeded_day
from workflows.post_time_expenses import PostTimeExpensesWorkflow

DIRECTORY = Path(__file__).resolve().parent.parent / "histories"
HISTORIES = sorted(DIRECTORY.glob("post_time_expenses*.json"))
NOTHING_TO_POST = date(2027, 2, 28)


def test_there_are_histories_of_a_continued_a_completed_and_an_empty_posting() -> None:
    assert {path.stem for path in HISTORIES} >= {
        "post_time_expenses_continued_as_new",
        "post_time_expenses_completed",
        "post_time_expenses_nothing_to_post",
    }


@pytest.mark.parametrize("path", HISTORIES, ids=lambda path: path.stem)
async def test_recorded_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
    replayer = Replayer(workflows=[PostTimeExpensesWorkflow], data_converter=DATA_CONVERTER)
    await replayer.replay_workflow(history)


async def record() -> None:
    """Post a seeded day in small pages (so it continues as new) and an empty day; save their histories."""
    config = load_settings()
    client = await connect(config)
    async with worker.running_workers(client, config):
        handle = await start_posting(
            client, config, seeded_day(5), page_size=10, pages_per_activity=1, max_activities_per_run=3
        )
        await handle.result()
        first = client.get_workflow_handle(handle.id, run_id=handle.first_execution_run_id)
        empty = await start_posting(client, config, NOTHING_TO_POST)
        await empty.result()
        histories = {
            "continued_as_new": await first.fetch_history(),
            "completed": await client.get_workflow_handle(handle.id).fetch_history(),
            "nothing_to_post": await empty.fetch_history(),
        }
    for name, history in histories.items():
        text = json.dumps(json.loads(history.to_json()), indent=1)
        (DIRECTORY / f"post_time_expenses_{name}.json").write_text(text + "\n", encoding="utf-8")
        print(f"wrote {DIRECTORY / f'post_time_expenses_{name}.json'}")


if __name__ == "__main__":
    asyncio.run(record())
