"""Determinism: recorded polling and intake histories replay on today's workflow code.

``poll_closed_won_before_amendments`` was recorded with the polling workflow as it was before it routed
amendments: it proves the ``amendment-intake`` patch keeps runs already in flight replaying.
Re-record the others with the flow tests' fixtures when a change is meant to break them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from tests.conftest import DATA_CONVERTER
from workflows.amendment_intake import AmendmentIntakeWorkflow
from workflows.poll_closed_won import PollClosedWonWorkflow

HISTORIES = Path(__file__).resolve().parent / "histories"
RECORDED = {
    "poll_closed_won_before_amendments": PollClosedWonWorkflow,
    "poll_closed_won_with_amendment": PollClosedWonWorkflow,
    "amendment_intake_delivered": AmendmentIntakeWorkflow,
}


@pytest.mark.parametrize("name", sorted(RECORDED))
async def test_recorded_history_replays(name: str) -> None:
    path = HISTORIES / f"{name}.json"
    history = WorkflowHistory.from_json(name, path.read_text(encoding="utf-8"))
    replayer = Replayer(workflows=[RECORDED[name]], data_converter=DATA_CONVERTER)
    await replayer.replay_workflow(history)


async def test_a_changed_amendment_step_is_caught() -> None:
    """The replay check has teeth: a poll history whose amendment step differs fails to replay."""
    text = (HISTORIES / "poll_closed_won_with_amendment.json").read_text(encoding="utf-8")
    history = WorkflowHistory.from_json("tampered", text.replace("crm.amendments_won_since", "crm.something_else"))
    replayer = Replayer(workflows=[PollClosedWonWorkflow], data_converter=DATA_CONVERTER)
    with pytest.raises(Exception, match=r"[Nn]ondeterminism|TMPRL1100"):
        await replayer.replay_workflow(history)
