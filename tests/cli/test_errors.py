"""Every CLI error is one ``error:`` line on stderr with a non-zero exit: no traceback, no usage box.

The inputs are ones an operator types (issue 11, finding 6, and their neighbours in every command).
Temporal is a closed port, so a command that reached it instead of refusing its input first would
say "cannot reach Temporal" and fail its case's expected words.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import cli

ROOT = Path(__file__).resolve().parents[2]
CLOSED = "127.0.0.1:1"

CASES: dict[str, tuple[str, str]] = {
    # finding 6
    "provision-empty-id": ("engagement provision --crm hubspot --opportunity ''", "hubspot opportunity id ''"),
    "provision-blank-id": ("engagement provision --opportunity ' '", "salesforce opportunity id ' ' is not valid"),
    "provision-negative-deal": ("engagement provision --crm hubspot -o -5", "positive whole number"),
    "provision-300-unicode": ("engagement provision -o 006" + "é" * 297, "(300 characters)"),
    "provision-account-id": ("engagement provision -o 0018d0000000001AAA", "an Opportunity id starts with 006"),
    "provision-unknown-crm": ("engagement provision --crm oracle -o 1", "Invalid value for '--crm'"),
    "provision-no-id": ("engagement provision", "Missing option '--opportunity'"),
    "status-empty-ref": ("engagement status ''", "opportunity id '' is not valid"),
    "status-unknown-crm": ("engagement status engagement-provisioning:oracle:1", "names no provisioning run"),
    "resolve-nobody": ("engagement resolve hubspot:8123 --by ''", "invalid answer: resolved_by: String should"),
    "resolve-bad-address": ("engagement resolve hubspot:8123 --by ops --billing-address x", "expected 'line1, city"),
    "resolve-bad-ref": ("engagement resolve hubspot:0 --by ops --abandon", "hubspot opportunity id '0'"),
    "list-unknown-state": ("engagement list --state nope", "Invalid value for '--state'"),
    "list-limit-0": ("engagement list --limit 0", "Invalid value for '--limit'"),
    "posting-bad-date": ("posting run --date 2026-13-01", "Invalid value for '--date'"),
    "posting-page-size-0": ("posting run --page-size 0", "Invalid value for '--page-size'"),
    "posting-page-size-201": ("posting run --page-size 201", "Invalid value for '--page-size'"),
    "posting-unknown-option": ("posting run --nope", "No such option: --nope"),
    "exceptions-ignore-abc": ("exceptions ignore abc", "Invalid value for 'exception_id'"),
    "exceptions-ignore-0": ("exceptions ignore 0", "Invalid value for 'exception_id'"),
    "exceptions-bad-status": ("exceptions list --status bogus", "Invalid value for '--state' / '--status'"),
    "exceptions-bad-date": ("exceptions list --date yesterday", "Invalid value for '--date'"),
    "backfill-reversed": ("schedule backfill --from 2026-02-01 --to 2026-01-01", "--to 2026-01-01 is before"),
    "backfill-bad-date": ("schedule backfill --from nope --to 2026-01-01", "Invalid value for '--from'"),
    "invoice-bad-period": ("invoice run --project PRJ-0001 --period 2026-13", "--period: period '2026-13'"),
    "invoice-month-bad-period": ("invoice run-month --period 26-1", "--period: period '26-1'"),
    "kpis-bad-date": ("kpis --from nope", "--from 'nope' is not a date"),
    "kpis-reversed": ("kpis --from 2026-02-01 --to 2026-01-01", "is before --from"),
    "gateway-port-range": ("gateway serve --port 99999", "Invalid value for '--port'"),
    "gateway-port-abc": ("gateway serve --port abc", "Invalid value for '--port'"),
    "sandbox-unknown-seed": ("sandbox up --seed x", "unknown seed 'x'"),
    "unknown-command": ("nope", "No such command 'nope'"),
    "unwritable-directory": ("schema export --directory /proc/psflow/schemas", "No such file or directory"),
    "unreachable-temporal": ("engagement status hubspot:8123", f"cannot reach Temporal at {CLOSED}"),
}
"""Arguments as typed in a shell, and the words the one error line must contain."""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "PSFLOW_TEMPORAL__ADDRESS": CLOSED,
        "PSFLOW_DATA_DIR": str(tmp_path / "psflow-data"),
        "PSFLOW_SANDBOX_URL": "http://127.0.0.1:1",
        "PSFLOW_SETTINGS_FILE": "",
        "COLUMNS": "80",  # narrow, as a terminal would be: one line must not mean one wrapped box
    }


def assert_one_error_line(stderr: str, words: str) -> None:
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    assert words in lines[0], stderr


@pytest.mark.parametrize(("args", "words"), CASES.values(), ids=CASES.keys())
def test_a_bad_input_is_one_error_line_on_stderr(env: dict[str, str], args: str, words: str) -> None:
    result = CliRunner().invoke(cli.app, shlex.split(args), env=env)
    assert result.exit_code not in (0, None), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert_one_error_line(result.stderr, words)


def test_a_fault_of_psflow_itself_is_one_line_too(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise KeyError("a bug")

    monkeypatch.setattr("stack.schedules.firm_zone", broken)
    result = CliRunner().invoke(cli.app, ["posting", "run"], env=env)
    assert result.exit_code == 1
    assert_one_error_line(result.stderr, "KeyError: 'a bug' (psflow failed unexpectedly; PSFLOW_DEBUG=1 shows")


def test_a_group_without_its_command_shows_its_help_not_an_error(env: dict[str, str]) -> None:
    result = CliRunner().invoke(cli.app, ["engagement"], env=env)
    assert result.exit_code == 2
    assert "provision" in result.stdout and result.stderr == ""


@pytest.mark.parametrize(
    ("args", "words"),
    [CASES["provision-empty-id"], CASES["provision-unknown-crm"], CASES["exceptions-ignore-abc"]],
    ids=["provision-empty-id", "provision-unknown-crm", "exceptions-ignore-abc"],
)
def test_the_installed_entry_point_prints_the_same_one_line(env: dict[str, str], args: str, words: str) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PSFLOW_")}
    finished = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), *shlex.split(args)],
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert finished.returncode != 0
    assert finished.stdout == ""
    assert_one_error_line(finished.stderr, words)
