"""What every benchmark's command line does around its run: errors as one line, Ctrl-C, the kept logs."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import tempfile
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

__all__ = ["finish_workdir", "load_1m", "printed_report", "run_cli", "run_in_workdir"]

T = TypeVar("T")
Say = Callable[[str], None]
Advance = Callable[[str, int, int], None]


def load_1m() -> float:
    """The machine's 1-minute load average, as every benchmark reports it beside its figures."""
    return round(os.getloadavg()[0], 2)


def run_cli(
    run: Callable[[Console], Coroutine[Any, Any, T]],
    known_errors: tuple[type[BaseException], ...],
    report: Callable[[T, Console], int],
) -> int:
    """Run a benchmark with progress on stderr, then ``report`` its result; the process's exit code.

    A known error (the stack did not start, the data could not be arranged ...) is one red line and
    exit 1; an interrupt stops the stack and exits 130.
    """
    progress = Console(stderr=True)
    try:
        result = asyncio.run(run(progress))
    except known_errors as exc:
        progress.print(f"[red]error:[/red] {exc}", highlight=False)
        return 1
    except (KeyboardInterrupt, asyncio.CancelledError):
        progress.print("interrupted: the stack was stopped")
        return 130
    return report(result, progress)


def finish_workdir(workdir: Path | None, *, keep: bool, succeeded: bool, console: Console) -> None:
    """Keep the stack's logs and databases after a failed run (or with ``--keep``); delete them otherwise."""
    if workdir is None:
        return
    if keep or not succeeded:
        console.print(f"the stack's logs and databases are in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


async def run_in_workdir(
    prefix: str,
    run: Callable[[Path, Say, Advance], Awaitable[dict[str, Any]]],
    *,
    keep: bool,
    console: Console,
) -> dict[str, Any]:
    """Run a benchmark in a fresh working directory, with a progress bar per named phase.

    SIGINT and SIGTERM cancel it (the stack stops); the directory is kept after a failure or with ``keep``.
    """
    running_task = asyncio.current_task()
    assert running_task is not None
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, running_task.cancel)
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    succeeded = False
    try:
        with Progress(
            TextColumn("{task.description:<13}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            tasks: dict[str, Any] = {}

            def advance(name: str, done: int, total: int) -> None:
                if name not in tasks:
                    tasks[name] = progress.add_task(name, total=total)
                progress.update(tasks[name], completed=done)

            result = await run(workdir, progress.console.print, advance)
        succeeded = True
        return result
    finally:
        finish_workdir(workdir, keep=keep, succeeded=succeeded, console=console)


def printed_report(summary: Callable[[dict[str, Any]], Table]) -> Callable[[dict[str, Any], Console], int]:
    """A ``run_cli`` report: the summary table, then the result as one JSON line on stdout."""

    def report(result: dict[str, Any], _progress: Console) -> int:
        Console().print(summary(result))
        print(json.dumps(result), flush=True)
        return 0

    return report
