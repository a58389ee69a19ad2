"""Resource sync benchmark: N BambooHR workers synced into Kantata through Temporal, against a raw HR read.

    python -m bench.resources                          # 10 000 workers, 2 000 time off requests
    python -m bench.resources --workers 1000 --time-off 200 --changes 5

It starts its own stack on free ports in a temporary directory (`bench._stack.fresh_stack`: the
Temporal dev server with a SQLite file, the sandbox seeded with the demo firm, ONE worker
process), then hires N generated employees with M time off requests among them in the BambooHR
emulator (``POST /_admin/bamboohr/bulk-hire``, on its real clock; `bench._res_run`). Kantata holds
only the demo firm's users: every benchmark worker is invited, updated and given their time off by
the sync.

Then, timed:

1. **raw**: what a full sync reads from HR — the change feed from the start, every page of
   ``GET /employees``, the time off in the sync's window — through the same connector and page
   size, kept nowhere;
2. **full sync**: ``ResourceSyncWorkflow`` with ``full=True`` for the BambooHR entity, start to
   result: the sweep, invitations and profile writes in Kantata, the time off staged and applied,
   availability events, the mark saved;
3. **raw** again (the first read warms what the second finds warm: the ratio uses their mean);
4. **incremental sync**: ``--changes`` workers get a new job title through BambooHR's API, then
   ``ResourceSyncWorkflow`` without ``full``: the change feed from the mark, those workers read and
   applied, the time off compared again.

Figures: wall time of each phase, full sync / raw read, incremental / full, per-worker ms, the
worker process's peak RSS, history events (summed over a continue-as-new chain) and runs, HTTP
requests each system served (the sandbox's counters), CPU per worker per process, and what
Kantata holds afterwards. The last line of stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench._cli import load_1m, printed_report, run_cli, run_in_workdir
from bench._cpu import CpuMeter
from bench._posting_data import RssSampler
from bench._requests import RequestCountError, RequestMeter
from bench._res_run import (
    ResourceSyncError,
    change_workers,
    read_raw,
    sandbox_counts,
    seed_workers,
    sync,
)
from bench._stack import Stack, StackStartError, fresh_stack
from sandbox.seed import anchor_date
from stack.connectors import Connectors
from stack.local.temporal_cli import TemporalCliError

__all__ = ["ResourcesOptions", "main", "run_resources", "summary_table"]

Say = Callable[[str], None]
Advance = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ResourcesOptions:
    """One run's shape."""

    workers: int = 10_000
    time_off: int = 2_000
    changes: int = 10


async def _synced(
    stack: Stack, today: Any, *, full: bool, workers: int, advance: Advance, label: str
) -> dict[str, Any]:
    """One sync run with the worker's peak RSS, CPU and requests served by system around it."""
    requests = RequestMeter(stack.settings.sandbox_url)
    await requests.start()
    rss = RssSampler(stack.pids["worker"])
    rss.start()
    cpu = CpuMeter(stack.pids)
    cpu.start()

    def progress(done: int) -> None:
        advance(label, done, workers)

    try:
        figures = await sync(stack.client, stack.settings, today, full=full, progress=progress)
    finally:
        peak = await rss.stop()
    figures["requests"] = await requests.per_item(1, {})
    figures["worker_peak_rss_mb"] = peak
    figures["cpu_ms_per_worker"] = cpu.per_item_ms(workers)
    figures["per_worker_ms"] = round(figures["seconds"] * 1000 / workers, 2) if workers else None
    return figures


async def run_resources(
    options: ResourcesOptions,
    workdir: Path,
    *,
    say: Say = lambda _msg: None,
    advance: Advance = lambda _name, _done, _total: None,
) -> dict[str, Any]:
    """Start the stack, hire the workers, then time the raw reads and the full and incremental syncs."""
    load_before = load_1m()
    today = anchor_date()
    async with fresh_stack(workdir, say) as stack:
        url = stack.settings.sandbox_url
        connectors = Connectors.build(stack.settings)
        try:
            say(f"hiring {options.workers} employees with {options.time_off} time off requests in BambooHR")
            seeded = await seed_workers(url, options.workers, options.time_off, today)
            before = await sandbox_counts(url)
            first_raw = await read_raw(connectors, today)
            say(
                f"raw HR read of {first_raw['workers']} workers in {first_raw['seconds']} s; full sync through Temporal"
            )
            full = await _synced(
                stack, today, full=True, workers=first_raw["workers"], advance=advance, label="full sync"
            )
            say(f"full sync in {full['seconds']} s; reading HR raw again")
            second_raw = await read_raw(connectors, today)
            say(f"changing {options.changes} workers' job titles in BambooHR, then an incremental sync")
            changed = await change_workers(connectors, options.changes, datetime.fromisoformat(seeded["at"]))
            incremental = await _synced(
                stack, today, full=False, workers=len(changed), advance=advance, label="incremental"
            )
            after = await sandbox_counts(url)
        finally:
            await connectors.aclose()
    raw_s = (first_raw["seconds"] + second_raw["seconds"]) / 2
    return {
        "workers": options.workers,
        "time_off_requests": options.time_off,
        "today": today.isoformat(),
        "seeded": seeded,
        "raw": [first_raw, second_raw],
        "full": full,
        "ratio": round(full["seconds"] / raw_s, 2) if raw_s else None,
        "incremental": {**incremental, "changed": len(changed)},
        "incremental_to_full": round(incremental["seconds"] / full["seconds"], 4) if full["seconds"] else None,
        "kantata": {
            "users_before": before.get("kantata", {}).get("users", 0),
            "users_after": after.get("kantata", {}).get("users", 0),
            "time_off_entries_after": after.get("kantata", {}).get("time_off_entries", 0),
        },
        "machine": {"cpus": os.cpu_count(), "load_avg_1m_before": load_before, "load_avg_1m_after": load_1m()},
    }


def summary_table(result: dict[str, Any]) -> Table:
    """The full and incremental syncs beside the raw HR reads."""
    table = Table(title=f"Resource sync of {result['workers']} BambooHR workers into Kantata")
    for header in ("", "raw HR read", "full sync", "incremental sync"):
        table.add_column(header, justify="right" if header else "left")
    first, second = result["raw"]
    full, incremental = result["full"], result["incremental"]
    table.add_row(
        "seconds", f"{first['seconds']} / {second['seconds']}", str(full["seconds"]), str(incremental["seconds"])
    )
    table.add_row("workers", str(first["workers"]), str(first["workers"]), str(incremental["changed"]))
    table.add_row("ratio", "1", f"{result['ratio']}x raw", f"{result['incremental_to_full']}x full")
    table.add_row("ms per worker", "", str(full["per_worker_ms"]), str(incremental["per_worker_ms"]))
    table.add_row("worker peak RSS MB", "", str(full["worker_peak_rss_mb"]), str(incremental["worker_peak_rss_mb"]))
    table.add_row(
        "history events (runs)",
        "",
        f"{full['history_events']} ({full['runs']})",
        f"{incremental['history_events']} ({incremental['runs']})",
    )
    for system in ("kantata", "bamboohr", "total"):
        table.add_row(
            f"{system} requests",
            str(first["pages"] + 2) if system == "bamboohr" else "",
            str(int(full["requests"].get(system, 0))),
            str(int(incremental["requests"].get(system, 0))),
        )
    kantata, machine = result["kantata"], result["machine"]
    table.caption = (
        f"Kantata users {kantata['users_before']} → {kantata['users_after']}, "
        f"{kantata['time_off_entries_after']} time off entries · {first['time_off_requests']} time off requests "
        f"in the window · {machine['cpus']} CPUs · load {machine['load_avg_1m_before']} before, "
        f"{machine['load_avg_1m_after']} after"
    )
    return table


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.resources",
        description="Syncing N BambooHR workers into Kantata through Temporal, against reading HR raw.",
    )
    parser.add_argument("--workers", type=int, default=10_000, help="BambooHR employees to hire (default 10000)")
    parser.add_argument("--time-off", type=int, default=2_000, help="time off requests among them (default 2000)")
    parser.add_argument(
        "--changes", type=int, default=10, help="workers changed before the incremental sync (default 10)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the stack's directory (logs, databases)")
    args = parser.parse_args(argv)
    if not 1 <= args.workers <= 100_000:
        parser.error(f"--workers must be between 1 and 100000, got {args.workers}")
    if not 0 <= args.time_off <= 100_000:
        parser.error(f"--time-off must be between 0 and 100000, got {args.time_off}")
    if not 1 <= args.changes <= args.workers:
        parser.error(f"--changes must be between 1 and --workers ({args.workers}), got {args.changes}")
    return args


async def _main(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    options = ResourcesOptions(args.workers, args.time_off, args.changes)
    return await run_in_workdir(
        "psflow-resources-bench-",
        lambda workdir, say, advance: run_resources(options, workdir, say=say, advance=advance),
        keep=args.keep,
        console=console,
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.resources``: progress on stderr, the table and then the JSON line on stdout."""
    args = _parse(argv)
    errors = (StackStartError, TemporalCliError, ResourceSyncError, RequestCountError)
    return run_cli(lambda progress: _main(args, progress), errors, printed_report(summary_table))


if __name__ == "__main__":
    sys.exit(main())
