"""Determinism: recorded provisioning histories still replay on today's workflow code.

If this fails after a workflow change, the change would break runs already in flight: guard it with
``workflow.patched`` — or, if breaking is intended, re-record with ``python -m tests.record_histories``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from tests.conftest import DATA_CONVERTER
from workflows.provision_engagement import ProvisionEngagementWorkflow

HISTORIES = sorted((Path(__file__).resolve().parent / "histories").glob("provision_engagement_*.json"))


def test_there_are_histories_for_both_outcomes() -> None:
    """Runs from before the fewer-round-trips patch (issue 18), since it, and since the exceptions patch (issue 14)."""
    assert {path.stem for path in HISTORIES} >= {
        "provision_engagement_provisioned",
        "provision_engagement_compensated",
        "provision_engagement_provisioned_fewer_round_trips",
        "provision_engagement_compensated_fewer_round_trips",
        "provision_engagement_provisioned_exceptions",  # resolves its deal's exception (a local activity)
        "provision_engagement_compensated_exceptions",  # records one
    }


def test_the_recent_histories_take_the_lean_path() -> None:
    """The new histories are the patched path: no SLA timer on the happy path, the client set with the state and
    the PSA project id with the ERP job id."""
    path = HISTORIES[0].parent / "provision_engagement_provisioned_fewer_round_trips.json"
    history = WorkflowHistory.from_json("lean", path.read_text(encoding="utf-8"))
    assert not any(event.HasField("timer_started_event_attributes") for event in history.events)
    upserts = [
        sorted(event.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields)
        for event in history.events
        if event.HasField("upsert_workflow_search_attributes_event_attributes")
    ]
    # The patch's own TemporalChangeVersion, client+state, PSA+ERP ids, provisioned (were 5 without the first).
    assert upserts == [
        ["TemporalChangeVersion"],
        ["PsflowClient", "PsflowState"],
        ["ErpJobId", "PsaProjectId"],
        ["PsflowState"],
    ]


@pytest.mark.parametrize("path", HISTORIES, ids=lambda path: path.stem)
async def test_recorded_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
    replayer = Replayer(workflows=[ProvisionEngagementWorkflow], data_converter=DATA_CONVERTER)
    await replayer.replay_workflow(history)


async def test_a_nondeterministic_change_is_caught(tmp_path: Path) -> None:
    """The replay check has teeth: a history whose recorded steps differ fails to replay."""
    text = HISTORIES[0].read_text(encoding="utf-8").replace("erp.create_job", "erp.create_something_else")
    history = WorkflowHistory.from_json("tampered", text)
    replayer = Replayer(workflows=[ProvisionEngagementWorkflow], data_converter=DATA_CONVERTER)
    with pytest.raises(Exception, match=r"[Nn]ondeterminism|TMPRL1100"):
        await replayer.replay_workflow(history)
