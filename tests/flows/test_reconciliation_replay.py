"""Determinism: a recorded reconciliation (with auto-fix's child postings) still replays on today's code.

If this fails after a workflow change, the change would break runs already in flight: guard it with
``workflow.patched`` — or, if breaking is intended, re-record with
``PSFLOW_RECORD_HISTORIES=1 pytest tests/flows/test_reconciliation.py -k drift``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from tests.conftest import DATA_CONVERTER
from workflows.reconcile import ReconcileWorkflow

DIRECTORY = Path(__file__).resolve().parent.parent / "histories"
HISTORIES = sorted(DIRECTORY.glob("reconcile*.json"))


def test_there_is_a_history_of_a_run_that_fixed_and_compared_again() -> None:
    assert {path.stem for path in HISTORIES} >= {"reconcile_fixed"}


@pytest.mark.parametrize("path", HISTORIES, ids=lambda path: path.stem)
async def test_recorded_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
    await Replayer(workflows=[ReconcileWorkflow], data_converter=DATA_CONVERTER).replay_workflow(history)


async def test_a_changed_step_is_caught() -> None:
    text = (DIRECTORY / "reconcile_fixed.json").read_text(encoding="utf-8")
    history = WorkflowHistory.from_json("tampered", text.replace("erp.reconciliation_compare", "erp.compare_else"))
    with pytest.raises(Exception, match=r"[Nn]ondeterminism|TMPRL1100"):
        await Replayer(workflows=[ReconcileWorkflow], data_converter=DATA_CONVERTER).replay_workflow(history)
