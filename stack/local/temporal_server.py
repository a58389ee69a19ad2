"""Find, or build once, the binaries of a real Temporal cluster: the server, its SQL schema tool, the UI server.

They are pinned to the versions the Temporal CLI (``stack.local.temporal_cli``) embeds, so the cluster runs
the same server as the dev server: ``go.temporal.io/server`` v1.29.1 (``cmd/server`` and ``cmd/tools/sql``)
and ``github.com/temporalio/ui-server/v2`` v2.42.1 (its assets are embedded: no Node build). They are
named in the cache as the server's own Makefile names them (research: temporal-round2 §6.1, §6.4).

They are built from the tools module ``tools/temporal``, not with ``go install <pkg>@<version>``: that module
requires the CLI v1.5.1 beside them, so the dependency versions are the CLI's (``go install server@v1.29.1``
takes the server's own go.mod, whose older golang.org/x/net and others recompile most of the tree), and the
packages the CLI's build already compiled come from Go's build cache.

Order, per binary: ``$<ENV_VAR>`` → a cached build → build it with Go into the cache.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_cache_dir

from stack.local._gobuild import GoBuildFailed, Progress, cli_main, executable, run_go

TEMPORAL_SERVER_VERSION = "v1.29.1"
"""The server version the Temporal CLI v1.5.1 embeds (its go.mod)."""
UI_SERVER_VERSION = "v2.42.1"
"""The UI server version the Temporal CLI v1.5.1 embeds (its go.mod)."""
TOOLS_MODULE = Path(__file__).resolve().parents[2] / "tools" / "temporal"
"""The Go module the binaries are built from; its go.mod requires the versions above."""


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


def find_existing(binary: Binary) -> Path | None:
    """A usable binary without building anything, or None."""
    named = os.environ.get(binary.env_var)
    if named:
        if not executable(Path(named)):
            raise TemporalServerError(
                f"{binary.env_var}={named} is not an executable file: fix the path or unset {binary.env_var}"
            )
        return Path(named)
    cached = binary.cached()
    return cached if executable(cached) else None


def build_with_go(binary: Binary, progress: Progress) -> Path:
    """``go build`` the pinned package from the tools module into a scratch file beside the cache path, then
    move it there (so a failed or interrupted build never leaves a binary that looks usable)."""
    target = binary.cached()
    target.parent.mkdir(parents=True, exist_ok=True)
    progress(f"building {binary.name} {binary.version} with Go into {target.parent} (takes a few minutes, once)")
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        built = Path(scratch) / binary.name
        try:
            run_go(["build", "-v", "-o", str(built), binary.package], progress, cwd=TOOLS_MODULE)
        except GoBuildFailed as exc:
            raise TemporalServerError(f"{exc}\nInstall Go 1.25+ and re-run, or set {binary.env_var}") from exc
        if not executable(built):
            raise TemporalServerError(f"`go build {binary.package}` left no binary at {built}")
        built.replace(target)
    return target


def ensure(binary: Binary, progress: Progress = lambda _line: None) -> Path:
    """The path to ``binary``, building it the first time."""
    return find_existing(binary) or build_with_go(binary, progress)


def ensure_all(progress: Progress) -> Path:
    """Every binary of the cluster, built if needed; returns the server's path."""
    for binary in (SQL_TOOL, UI_SERVER):
        progress(str(ensure(binary, progress)))
    return ensure(SERVER, progress)


def main() -> int:
    """``python -m stack.local.temporal_server``: print the three binaries' paths, building them first if needed."""
    return cli_main(ensure_all, TemporalServerError)


if __name__ == "__main__":
    raise SystemExit(main())
