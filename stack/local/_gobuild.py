"""Running ``go install`` / ``go build`` for the Go programs psflow builds once into its cache.

The Temporal CLI, Jaeger and (for a cluster) the Temporal server are Go programs built from their
modules on first use. A build takes minutes and names hundreds of packages with ``-v``: this runs
it, reports downloads and errors as they come and a count every ``every`` packages, and keeps the
last lines for the error message.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

Progress = Callable[[str], None]

__all__ = ["GoBuildFailed", "Progress", "cli_main", "executable", "go_binary", "run_go"]


class GoBuildFailed(Exception):
    """``go`` is missing or the build failed; the message holds the last lines go printed."""


def executable(path: Path) -> bool:
    """``path`` is a file this process may run."""
    return path.is_file() and os.access(path, os.X_OK)


def go_binary() -> str:
    """The ``go`` command on PATH.

    Raises:
        GoBuildFailed: Go is not installed.
    """
    go = shutil.which("go")
    if go is None:
        raise GoBuildFailed("Go is not installed (install Go 1.25+ from https://go.dev/dl/)")
    return go


def run_go(
    args: Sequence[str],
    progress: Progress,
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    every: int = 100,
) -> None:
    """Run ``go <args>`` (with ``-v`` among them) with ``-trimpath`` and no cgo, streaming progress.

    Raises:
        GoBuildFailed: Go is missing or exited non-zero.
    """
    environment = {**os.environ, "GOFLAGS": "-trimpath", "CGO_ENABLED": "0", **(env or {})}
    process = subprocess.Popen(
        [go_binary(), *args],
        cwd=cwd,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    tail: list[str] = []
    compiled = 0
    started = time.monotonic()
    for line in process.stdout:
        line = line.rstrip()
        tail = [*tail[-19:], line]
        if line.startswith("go: ") or " " in line:
            progress(line)  # downloads and errors
            continue
        compiled += 1  # `-v` names each package as it is built: count them instead of printing hundreds
        if compiled % every == 0:
            progress(f"{compiled} packages built ({time.monotonic() - started:.0f}s)")
    if process.wait() != 0:
        raise GoBuildFailed(f"`go {' '.join(args)}` failed:\n" + "\n".join(tail))


def cli_main(ensure: Callable[[Progress], Path], error: type[Exception]) -> int:
    """``python -m stack.local.<tool>``: print the tool's path, building it first if needed; 1 on ``error``."""
    try:
        path = ensure(lambda line: print(line, file=sys.stderr, flush=True))
    except error as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0
