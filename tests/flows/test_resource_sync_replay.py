"""Determinism: recorded resource syncs (a hire that continued as new, a leaver, bad input, one worker) replay.

If this fails after a workflow change, the change would break syncs in flight: guard it with
``workflow.patched`` — or, if breaking is intended, re-record with
``PSFLOW_RECORD_HISTORIES=1 pytest tests/flows/test_resource_sync.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from tests.conftest import DATA_CONVERTER
from workflows.sync_resources import ResourceSyncWorkflow

DIRECTORY = Path(__file__).resolve().parent.parent / "histories"
HISTORIES = sorted(DIRECTORY.glob("resource_sync_*.json"))


def test_there_are_histories_of_a_continued_run_a_leaver_bad_input_and_one_worker() -> None:
    assert {path.stem for path in HISTORIES} >= {
        "resource_sync_bamboohr_hired_continued_as_new",
        "resource_sync_bamboohr_hired",
        "resource_sync_workday_left",
        "resource_sync_bad_input",
        "resource_sync_one_worker",
    }


@pytest.mark.parametrize("path", HISTORIES, ids=lambda path: path.stem)
async def test_recorded_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
    await Replayer(workflows=[ResourceSyncWorkflow], data_converter=DATA_CONVERTER).replay_workflow(history)


async def test_a_changed_step_is_caught() -> None:
    text = (DIRECTORY / "resource_sync_bamboohr_left.json").read_text(encoding="utf-8")
    history = WorkflowHistory.from_json("tampered", text.replace("resources.disable_due", "resources.disable_all"))
    with pytest.raises(Exception, match=r"[Nn]ondeterminism|TMPRL1100"):
        await Replayer(workflows=[ResourceSyncWorkflow], data_converter=DATA_CONVERTER).replay_workflow(history)
