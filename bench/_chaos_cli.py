"""Bad CLI input for a chaos run, and the CLI as the run's operator uses it.

Each case runs ``cli.py`` as a user would, against the run's stack. What is counted: a Python
traceback, exit 0 on bad input, no exit within the timeout, and an error that is not one line on stderr.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from stack.local.services import PROJECT_ROOT, worker_environment
from stack.settings import Settings


@dataclass(frozen=True)
class CliOutcome:
    """What one bad CLI input printed and returned."""

    argv: list[str]
    exit_code: int | None
    """None: it did not finish within the timeout."""
    traceback: bool
    error_lines: int
    first_line: str

    @property
    def bad(self) -> bool:
        """A traceback, exit 0 on bad input, or no exit at all."""
        return self.traceback or self.exit_code in (0, None)


def cli_cases(period: str) -> list[list[str]]:
    """25 inputs a hurried operator might type; ``period`` is a month that may be invoiced."""
    return [
        ["engagement", "provision", "--crm", "hubspot", "--opportunity", ""],
        ["engagement", "provision", "--crm", "salesforce", "--opportunity", " "],
        ["engagement", "provision", "--crm", "oracle", "--opportunity", "0068d000000000CAAQ"],
        ["engagement", "provision", "--crm", "salesforce", "--opportunity", "é" * 300],
        ["engagement", "provision", "--crm", "hubspot", "--opportunity", "-5"],
        ["engagement", "status", "not a key"],
        ["engagement", "status", "salesforce:"],
        ["engagement", "list", "--state", "bogus"],
        ["engagement", "list", "--limit", "0"],
        ["posting", "run", "--date", "2026-13-45"],
        ["posting", "run", "--date", "yesterday"],
        ["posting", "run", "--page-size", "0"],
        ["posting", "run", "--page-size", "201"],
        ["exceptions", "ignore", "abc"],
        ["exceptions", "ignore", "-1"],
        ["exceptions", "list", "--status", "bogus"],
        ["exceptions", "list", "--date", "2026-02-30"],
        ["invoice", "run", "--project", "", "--period", period],
        ["invoice", "run", "--project", "PRJ-0001", "--period", "2026-13"],
        ["invoice", "run-month", "--period", "1999"],
        ["invoice", "run-month", "--period", "2999-01"],
        ["kpis", "--from", "2026-10-05", "--to", "2026-10-01"],
        ["kpis", "--from", "notadate"],
        ["schedule", "backfill", "--from", "2026-11-05", "--to", "2026-11-01"],
        ["schedule", "describe", "no-such-schedule"],
    ]


async def run_cli(settings: Settings, argv: list[str], timeout_s: float = 90.0) -> CliOutcome:
    """``python cli.py ARGV`` against the run's stack."""
    env = {**os.environ, **worker_environment(settings), "COLUMNS": "100", "NO_COLOR": "1"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(PROJECT_ROOT / "cli.py"), *argv,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL,
        cwd=PROJECT_ROOT, env=env,
    )  # fmt: skip
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout_s)
    except TimeoutError:
        process.kill()
        await process.wait()
        return CliOutcome(argv, None, False, 0, "(timed out)")
    out, err = stdout.decode(errors="replace"), stderr.decode(errors="replace")
    lines = [line for line in err.splitlines() if line.strip()]
    return CliOutcome(
        argv=argv,
        exit_code=process.returncode,
        traceback="Traceback (most recent call last)" in out + err,
        error_lines=len(lines),
        first_line=(lines or out.splitlines() or [""])[0][:160],
    )


async def run_bad_cli(settings: Settings, cases: Sequence[list[str]], parallel: int = 3) -> list[CliOutcome]:
    """Every case, a few at a time."""
    gate = asyncio.Semaphore(parallel)

    async def one(argv: list[str]) -> CliOutcome:
        async with gate:
            return await run_cli(settings, argv)

    return list(await asyncio.gather(*(one(argv) for argv in cases)))
