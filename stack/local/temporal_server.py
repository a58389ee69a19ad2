"""Find, or build once, the binaries of a real Temporal cluster: the server, its SQL schema tool, the UI server.

They are pinned to the versions the Temporal CLI (``stack.local.temporal_cli``) embeds, so the cluster runs
the same server as the dev server: ``go.temporal.io/server`` v1.29.1 (``cmd/server`` and ``cmd/tools/sql``)
and ``github.com/temporalio/ui-server/v2`` v2.42.1 (its assets are embedded: no Node build). ``go install``
names all three ``server``/``sql``; they are renamed in the cache, as the server's own Makefile names them
(research: temporal-round2 §6.1, §6.4).

Order, per binary: ``$<ENV_VAR>`` → a cached build → build it with Go into the cache.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_cache_dir

TEMPORAL_SERVER_VERSION = "v1.29.1"
"""The server version the Temporal CLI v1.5.1 embeds (its go.mod)."""
UI_SERVER_VERSION = "v2.42.1"
"""The UI server version the Temporal CLI v1.5.1 embeds (its go.mod)."""

Progress = Callable[[str], None]


class TemporalServerError(Exception):
    """A cluster binary could not be found or built; the message says what to do."""


@dataclass(frozen=True)
class Binary:
    """One Go-built binary of the cluster."""

    name: str
    """Its name in the cache (``temporal-server``)."""
    package: str
    version: str
    env_var: str

    def cached(self) -> Path:
        """``~/.cache/psflow/<name>-<version>/<name>`` on Linux (whether or not it exists yet)."""
        return Path(user_cache_dir("psflow")) / f"{self.name}-{self.version}" / self.name


SERVER = Binary("temporal-server", "go.temporal.io/server/cmd/server", TEMPORAL_SERVER_VERSION, "TEMPORAL_SERVER_BIN")
SQL_TOOL = Binary(
    "temporal-sql-tool", "go.temporal.io/server/cmd/tools/sql", TEMPORAL_SERVER_VERSION, "TEMPORAL_SQL_TOOL_BIN"
)
UI_SERVER = Binary(
    "temporal-ui-server", "github.com/temporalio/ui-server/v2/cmd/server", UI_SERVER_VERSION, "TEMPORAL_UI_SERVER_BIN"
)
ALL = (SERVER, SQL_TOOL, UI_SERVER)


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_existing(binary: Binary) -> Path | None:
    """A usable binary without building anything, or None."""
    named = os.environ.get(binary.env_var)
    if named:
        if not _executable(Path(named)):
            raise TemporalServerError(
                f"{binary.env_var}={named} is not an executable file: fix the path or unset {binary.env_var}"
            )
        return Path(named)
    cached = binary.cached()
    return cached if _executable(cached) else None


def build_with_go(binary: Binary, progress: Progress) -> Path:
    """``go install`` the pinned package into a scratch GOBIN, then move it to its cache path."""
    go = shutil.which("go")
    if go is None:
        raise TemporalServerError(
            f"{binary.name} is not built and Go is not installed: install Go 1.25+ and re-run, or set {binary.env_var}"
        )
    target = binary.cached()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as gobin:
        env = {**os.environ, "GOBIN": gobin, "GOFLAGS": "-trimpath", "CGO_ENABLED": "0"}
        progress(f"building {binary.name} {binary.version} with Go into {target.parent} (takes a few minutes, once)")
        process = subprocess.Popen(
            [go, "install", "-v", f"{binary.package}@{binary.version}"],
            env=env,
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
                progress(line)
                continue
            compiled += 1
            if compiled % 100 == 0:
                progress(f"{binary.name}: {compiled} packages built ({time.monotonic() - started:.0f}s)")
        built = Path(gobin) / Path(binary.package).name  # `server` or `sql`
        if process.wait() != 0 or not _executable(built):
            raise TemporalServerError(f"`go install {binary.package}@{binary.version}` failed:\n" + "\n".join(tail))
        built.replace(target)
    return target


def ensure(binary: Binary, progress: Progress = lambda _line: None) -> Path:
    """The path to ``binary``, building it the first time."""
    return find_existing(binary) or build_with_go(binary, progress)


def main() -> int:
    """``python -m stack.local.temporal_server``: print the three binaries' paths, building them first if needed."""
    import sys

    try:
        for binary in ALL:
            print(ensure(binary, progress=lambda line: print(line, file=sys.stderr, flush=True)))
    except TemporalServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
