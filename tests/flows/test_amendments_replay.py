"""Determinism: recorded contract histories still replay on today's ContractWorkflow.

The contract workflow runs for years, so every run in flight must keep replaying across deploys. If
this fails after a change, guard the change with ``workflow.patched``; re-record
(``PSFLOW_RECORD_HISTORIES=1 pytest tests/flows/test_amendments_ordering.py tests/flows/test_amendments_e2e.py``)
only for a change that is meant to break replay, and add the new histories beside the old ones.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHandle, WorkflowHistory
from temporalio.worker import Replayer

from tests.conftest import DATA_CONVERTER
from workflows.amend_contract import ContractWorkflow

DIRECTORY = Path(__file__).resolve().parents[1] / "histories"
HISTORIES = sorted(DIRECTORY.glob("contract_*.json"))


def _without_stack_traces(node: Any) -> Any:
    """The history with failures' stack traces blanked: they name the recording machine's paths."""
    if isinstance(node, dict):
        return {key: "" if key == "stackTrace" else _without_stack_traces(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_without_stack_traces(value) for value in node]
    return node


async def save_history(handle: WorkflowHandle[Any, Any], name: str) -> None:
    """Write a run's history as ``tests/histories/contract_{name}.json`` (when recording)."""
    history = await handle.fetch_history()
    text = json.dumps(_without_stack_traces(history.to_json_dict()), indent=1) + "\n"
    (DIRECTORY / f"contract_{name}.json").write_text(text, encoding="utf-8")


def test_there_are_contract_histories() -> None:
    assert {path.stem for path in HISTORIES} >= {
        "contract_out_of_order",
        "contract_failed_then_retried",
        "contract_missing_version",
        "contract_e2e_rates_and_budget",  # recorded before the ERP target repriced posted time (patched since)
        "contract_e2e_repriced",
        "contract_failed_then_retried_exceptions",  # since the exceptions patch: the failure recorded, then resolved
    }


@pytest.mark.parametrize("path", HISTORIES, ids=lambda path: path.stem)
async def test_recorded_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
    replayer = Replayer(workflows=[ContractWorkflow], data_converter=DATA_CONVERTER)
    await replayer.replay_workflow(history)


async def test_a_nondeterministic_change_is_caught() -> None:
    """The replay check has teeth: a history whose recorded steps differ fails to replay."""
    text = HISTORIES[0].read_text(encoding="utf-8").replace("erp.apply_amendment", "erp.apply_something_else")
    history = WorkflowHistory.from_json("tampered", text)
    replayer = Replayer(workflows=[ContractWorkflow], data_converter=DATA_CONVERTER)
    with pytest.raises(Exception, match=r"[Nn]ondeterminism|TMPRL1100"):
        await replayer.replay_workflow(history)
