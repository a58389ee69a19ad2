"""``psflow amendment``: what an operator types, against the real server and emulators, and its one-line errors."""

from __future__ import annotations

import asyncio
import json
import shlex
from pathlib import Path

import pytest
from temporalio.client import Client
from typer.testing import CliRunner

import cli
import worker
from stack.connectors import Connectors
from stack.settings import Settings
from tests.flows.conftest import WinDeal
from tests.flows.test_amendments_e2e import project, provisioned

CLOSED = "127.0.0.1:1"


def cli_env(settings: Settings) -> dict[str, str]:
    return {
        "PSFLOW_TEMPORAL__ADDRESS": settings.temporal.address,
        "PSFLOW_TASK_QUEUE_PREFIX": settings.task_queue_prefix,
        "PSFLOW_DATA_DIR": str(settings.data_dir),
        "PSFLOW_SANDBOX_URL": settings.sandbox_url,
        "PSFLOW_SETTINGS_FILE": "",
        "COLUMNS": "200",
    }


def one_error_line(stderr: str, words: str) -> None:
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert words in lines[0], stderr


@pytest.mark.parametrize(
    ("terms", "args", "words"),
    [
        ({"budget": {"amount": "-5", "currency": "USD"}}, "", "budget must be greater than zero, got -5 USD"),
        ({"version": 3}, "", "says version 3 but the command line says 1"),
        ({}, "", "engagement_id: Field required"),
        (None, "", "is not JSON"),
        ({}, "--contract oracle:1", "'oracle:1' names no contract"),
    ],
    ids=["negative-budget", "version-mismatch", "no-engagement", "not-json", "unknown-crm"],
)
def test_a_bad_submission_is_one_error_line_and_reaches_no_server(
    tmp_path: Path, terms: dict[str, object] | None, args: str, words: str
) -> None:
    file = tmp_path / "amendment.json"
    base = {"engagement_id": "salesforce:006X", "effective_date": "2026-12-01", "end_date": "2027-01-31"}
    if terms == {}:
        base.pop("engagement_id")
    file.write_text("{nope" if terms is None else json.dumps({**base, **(terms or {})}), encoding="utf-8")
    command = f"amendment submit --contract {args.split()[-1] if args else '800X'} --version 1 --file {file}"
    env = {"PSFLOW_TEMPORAL__ADDRESS": CLOSED, "PSFLOW_DATA_DIR": str(tmp_path), "PSFLOW_SETTINGS_FILE": ""}
    result = CliRunner().invoke(cli.app, shlex.split(command), env=env)
    assert result.exit_code == 1, result.output
    one_error_line(result.stderr, words)


def test_retry_names_only_known_targets(tmp_path: Path) -> None:
    env = {"PSFLOW_TEMPORAL__ADDRESS": CLOSED, "PSFLOW_DATA_DIR": str(tmp_path), "PSFLOW_SETTINGS_FILE": ""}
    result = CliRunner().invoke(cli.app, ["amendment", "retry", "800X", "--target", "crm"], env=env)
    assert result.exit_code == 2
    one_error_line(result.stderr, "Invalid value for '--target'")


async def test_submit_status_list_and_retry_from_the_command_line(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors, win_deal: WinDeal, tmp_path: Path
) -> None:
    env = cli_env(flow_settings)
    runner = CliRunner()
    async with worker.running_workers(temporal_client, flow_settings):
        deal, engagement_id = await provisioned(temporal_client, flow_settings, win_deal)
        before = await project(connectors, engagement_id)
        file = tmp_path / "v1.json"
        terms = {
            "engagement_id": engagement_id,
            "effective_date": before.start_date.isoformat(),
            "budget": {"amount": str(before.budget.amount + 1000), "currency": before.budget.currency},
        }
        file.write_text(json.dumps(terms), encoding="utf-8")
        # The CLI runs its own event loop: give it a thread, while this loop keeps the worker going.
        submit = f"amendment submit --contract salesforce:{deal} --version 1 --file {file}"
        done = await asyncio.to_thread(runner.invoke, cli.app, shlex.split(submit), env=env)
        assert done.exit_code == 0, done.output + done.stderr
        assert "v1 applied in Kantata, applied in NetSuite, applied in events — applied" in done.stdout

        shown = await asyncio.to_thread(runner.invoke, cli.app, ["amendment", "status", f"salesforce:{deal}"], env=env)
        assert shown.exit_code == 0, shown.stderr
        assert "v1 applied in Kantata, applied in NetSuite, applied in events" in shown.stdout

        changed = {**terms, "budget": {"amount": "1.00", "currency": before.budget.currency}}
        file.write_text(json.dumps(changed), encoding="utf-8")
        refused = await asyncio.to_thread(runner.invoke, cli.app, shlex.split(submit), env=env)
        assert refused.exit_code == 1
        one_error_line(refused.stderr, "v1 refused, nothing applied: v1 of contract:salesforce:")

        for _ in range(50):  # visibility follows the run a moment later
            listed = await asyncio.to_thread(runner.invoke, cli.app, ["amendment", "list"], env=env)
            if f"salesforce:{deal}" in listed.stdout:
                break
            await asyncio.sleep(0.2)
        assert listed.exit_code == 0 and f"salesforce:{deal}" in listed.stdout, listed.stdout

        retried = await asyncio.to_thread(
            runner.invoke, cli.app, ["amendment", "retry", f"salesforce:{deal}", "--target", "erp"], env=env
        )
        assert retried.exit_code == 1
        one_error_line(retried.stderr, "NetSuite has no failed version in contract:salesforce:")
