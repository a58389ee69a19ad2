"""Determinism: recorded provisioning histories still replay on today's workflow code.

If this fails after a workflow change, the change would break runs already in flight: guard it with
``workflow.patched`` — or, if breaking is intended, re-record with ``python -m tests.record_histories``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.provision_engagement import ProvisionEngagementWorkflow

HISTORIES = sorted((Path(__file__).resolve().parent / "histories").glob("provision_engagement_*.json"))


def test_there_are_histories_for_both_outcomes() -> None:
    assert {path.stem for path in HISTORIES} >= {
        "provision_engagement_provisioned",
        "provision_engagement_compensated",
    }


@pytest.mark.parametrize("path", HISTORIES, ids=lambda path: path.stem)
async def test_recorded_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
    replayer = Replayer(workflows=[ProvisionEngagementWorkflow], data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)


async def test_a_nondeterministic_change_is_caught(tmp_path: Path) -> None:
    """The replay check has teeth: a history whose recorded steps differ fails to replay."""
    text = HISTORIES[0].read_text(encoding="utf-8").replace("erp.create_job", "erp.create_something_else")
    history = WorkflowHistory.from_json("tampered", text)
    replayer = Replayer(workflows=[ProvisionEngagementWorkflow], data_converter=pydantic_data_converter)
    with pytest.raises(Exception, match=r"[Nn]ondeterminism|TMPRL1100"):
        await replayer.replay_workflow(history)
