"""What every benchmark's command line does around its run: errors as one line, Ctrl-C, the kept logs."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console

__all__ = ["finish_workdir", "run_cli"]

T = TypeVar("T")


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
