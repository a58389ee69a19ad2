"""Find, or build once, the ``temporal`` CLI whose dev server psflow runs locally and in tests.

Order: ``$TEMPORAL_CLI`` → ``temporal`` on PATH → a cached build → build it from its Go module into
the cache → the SDK's own download (needs internet). The version is pinned here and only here.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

from platformdirs import user_cache_dir

from stack.local._gobuild import GoBuildFailed, Progress, cli_main, executable, run_go

TEMPORAL_CLI_VERSION = "v1.5.1"
"""v1.5.1 is the last tag whose go.mod has no ``replace`` directive, so ``go install`` can build it."""

TEMPORAL_CLI_MODULE = "github.com/temporalio/cli/cmd/temporal"
ENV_VAR = "TEMPORAL_CLI"

DEV_SERVER_TUNING = ("history.transferProcessorMaxPollRPS=1000",)
"""Dynamic config for the dev server. Its single history shard otherwise reads task queues at most 20
times a second, so every workflow/activity handoff waits ~50 ms: a provisioning run made 14 of them
(bench.provisioning measured ~690 ms → ~380 ms per deal on a quiet machine with this)."""


def dev_server_tuning_flags() -> list[str]:
    """``--dynamic-config-value`` flags for ``temporal server start-dev`` (dev stack and tests)."""
    return [flag for value in DEV_SERVER_TUNING for flag in ("--dynamic-config-value", value)]


DEV_SERVER_SQLITE_PRAGMAS = ("journal_mode=WAL", "synchronous=NORMAL")
"""SQLite pragmas for a dev server with a database file. With the default rollback journal every
persistence write is a commit that syncs the journal and the database to disk; a provisioning run makes
dozens. In WAL mode with ``synchronous=NORMAL`` a commit appends to the log and syncs only at checkpoints:
the database survives a crash of the server, and may lose the last commits on a power cut, which is
acceptable for a development stack (bench.provisioning: docs/BENCHMARKS.md, issue 18)."""


def dev_server_sqlite_flags() -> list[str]:
    """``--sqlite-pragma`` flags for a dev server started with ``--db-filename`` (dev stack, benchmarks)."""
    return [flag for value in DEV_SERVER_SQLITE_PRAGMAS for flag in ("--sqlite-pragma", value)]


class TemporalCliError(Exception):
    """No Temporal CLI could be found, built or downloaded; the message says what to install."""


def cache_dir() -> Path:
    """Where built or downloaded CLIs live: ``~/.cache/psflow/temporal-cli-<version>`` on Linux."""
    return Path(user_cache_dir("psflow")) / f"temporal-cli-{TEMPORAL_CLI_VERSION}"


def cached_binary() -> Path:
    """The path a cached build has (whether or not it exists yet)."""
    return cache_dir() / "temporal"


def find_existing() -> Path | None:
    """A usable CLI without building or downloading anything, or None."""
    named = os.environ.get(ENV_VAR)
    if named:
        path = Path(named)
        if not executable(path):
            raise TemporalCliError(f"{ENV_VAR}={named} is not an executable file: fix the path or unset {ENV_VAR}")
        return path
    on_path = shutil.which("temporal")
    if on_path:
        return Path(on_path)
    cached = cached_binary()
    return cached if executable(cached) else None


def build_with_go(progress: Progress) -> Path:
    """Build the pinned CLI with ``go install`` into the cache, streaming go's output to ``progress``."""
    target = cache_dir()
    target.mkdir(parents=True, exist_ok=True)
    progress(f"building the Temporal CLI {TEMPORAL_CLI_VERSION} with Go into {target} (takes a few minutes, once)")
    try:
        run_go(["install", "-v", f"{TEMPORAL_CLI_MODULE}@{TEMPORAL_CLI_VERSION}"], progress, env={"GOBIN": str(target)})
    except GoBuildFailed as exc:
        raise TemporalCliError(str(exc)) from exc
    if not executable(cached_binary()):
        raise TemporalCliError(f"`go install` left no binary at {cached_binary()}")
    return cached_binary()


def download_with_sdk(progress: Progress) -> Path:
    """Let the Temporal SDK download its default CLI into the cache (needs internet access)."""
    from temporalio.testing import WorkflowEnvironment

    target = cache_dir()
    target.mkdir(parents=True, exist_ok=True)
    progress("downloading the Temporal CLI through the Temporal SDK")

    async def fetch() -> None:
        env = await WorkflowEnvironment.start_local(download_dest_dir=str(target))
        await env.shutdown()

    asyncio.run(fetch())
    downloaded = sorted(target.glob("temporal-sdk-python-*"))
    if not downloaded:
        raise TemporalCliError("the SDK download finished but left no binary in " + str(target))
    return downloaded[-1]


def ensure_temporal_cli(progress: Progress = lambda _line: None) -> Path:
    """Return a path to a ``temporal`` CLI, building or downloading it the first time.

    Raises:
        TemporalCliError: nothing worked; the message lists what to install.
    """
    found = find_existing()
    if found is not None:
        return found
    failures = []
    for attempt in (build_with_go, download_with_sdk):
        try:
            return attempt(progress)
        except TemporalCliError as exc:
            failures.append(str(exc))
        except Exception as exc:  # the SDK download raises whatever its HTTP client raises
            failures.append(f"the SDK download failed: {exc}")
    raise TemporalCliError(
        "no Temporal CLI is available and none could be built or downloaded.\n  - "
        + "\n  - ".join(failures)
        + f"\nDo one of: install Go 1.25+ (https://go.dev/dl/) and re-run, so psflow builds "
        f"{TEMPORAL_CLI_MODULE}@{TEMPORAL_CLI_VERSION} once; put a `temporal` binary on PATH; or set {ENV_VAR}."
    )


def main() -> int:
    """``python -m stack.local.temporal_cli``: print the CLI's path, building it first if needed."""
    return cli_main(ensure_temporal_cli, TemporalCliError)


if __name__ == "__main__":
    raise SystemExit(main())
