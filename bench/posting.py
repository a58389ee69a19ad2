"""Posting benchmark: N approved time entries to the emulated ERP through Temporal, against raw httpx.

    python -m bench.posting --entries 20000
    python -m bench.posting --entries 10000 --latency-ms 20 --concurrency 5
    python -m bench.posting --entries 2000 --stack cluster --workers 3

It starts its own stack on free ports in a temporary directory (`bench._stack.fresh_stack`: the
Temporal dev server with a SQLite file, the sandbox, ONE worker process), after writing the demo
firm and 2 x N approved time entries into the sandbox's file (`bench._posting_data.seed_entries`):
N on one day for the orchestrated phase, N on the next for the raw phase. NetSuite's emulator
holds every request ``--latency-ms`` inside one of ``--concurrency`` slots, and the worker's
connector keeps the same number in flight (``PSFLOW_NETSUITE_MAX_CONCURRENCY``).

Orchestrated: ``PostTimeExpensesWorkflow`` for the first day, timed from start to result (read,
validate, look up, post, ledger, history). Raw: the second day's entries, read through the Kantata
connector and turned into the connector's time bill bodies before timing, then PUT by external
id with plain httpx at the same concurrency. The last line of stdout is one JSON object.

Targets (issue 18): ratio (orchestrated/raw entries per second) >= 0.95 from 5k to 20k entries and
>= 0.9 at 100k; worker peak RSS <= 200 MB; 100k takes at most 10.5x the time of 10k (judged across
runs, see docs/BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table
from temporalio.client import Client

from bench._cli import load_1m, printed_report, run_cli, run_in_workdir
from bench._cpu import CpuMeter
from bench._posting_data import RssSampler, SeedError, post_raw, quiet_dates, raw_bodies, seed_entries
from bench._stack import StackStartError, fresh_stack
from canonical import TimeEntry
from sandbox.seed import anchor_date
from stack.connectors import Connectors
from stack.flows import start_posting
from stack.local.temporal_cli import TemporalCliError
from stack.settings import Settings
from workflows.post_time_expenses import PostTimeExpensesWorkflow

__all__ = ["PostingOptions", "main", "run_posting", "summary_table"]

TARGET_RATIO = 0.95
"""Orchestrated / raw entries per second from 5k to 20k entries (issue 18)."""
TARGET_RATIO_AT_100K = 0.9
_PROGRESS_EVERY_S = 5.0
TARGET_RSS_MB_AT_100K = 200.0
TARGET_SCALING_100K_OVER_10K = 10.5

Say = Callable[[str], None]
Advance = Callable[[str, int, int], None]
"""Progress: phase name, entries done so far, total."""


@dataclass(frozen=True)
class PostingOptions:
    """One run's shape."""

    entries: int = 20000
    latency_ms: float = 20.0
    concurrency: int = 5
    page_size: int = 200
    stack: str = "fresh"
    """``fresh``: the dev server; ``cluster``: the real cluster (`bench._cluster`)."""
    workers: int = 1
    """Worker processes, each on every task queue (more than one on the cluster only)."""


@contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    """``name=value`` in this process's environment (which the worker process inherits), restored after."""
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


async def _orchestrated(
    client: Client, settings: Settings, day: date, options: PostingOptions, advance: Advance, pids: dict[str, int]
) -> dict[str, Any]:
    rss = RssSampler(pids["worker"])
    rss.start()
    cpu = CpuMeter(pids)
    cpu.start()
    started = time.perf_counter()
    handle = await start_posting(client, settings, day, page_size=options.page_size)
    result = asyncio.ensure_future(handle.result())
    while not result.done():
        # The progress moves when an activity call hands back (every 2 minutes at most): no need to
        # ask more often, and each query is work for the server and the worker being measured.
        await asyncio.wait([result], timeout=_PROGRESS_EVERY_S)
        if not result.done():
            try:
                progress = await handle.query(PostTimeExpensesWorkflow.progress)
            except Exception:  # a query can miss while the run continues as new; the next one answers
                continue
            advance("orchestrated", progress.counts.total, options.entries)
    outcome = result.result()
    seconds = time.perf_counter() - started
    advance("orchestrated", options.entries, options.entries)
    return {
        "seconds": round(seconds, 2),
        "entries_per_s": round(outcome.posted / seconds, 1),
        "posted": outcome.posted,
        "already_posted": outcome.already_posted,
        "rejected": outcome.rejected,
        "failed": outcome.failed,
        "runs": outcome.runs,
        "cpu_ms_per_entry": cpu.per_item_ms(options.entries),
        "worker_peak_rss_mb": await rss.stop(),
    }


async def _read_all(connectors: Connectors, day: date, page_size: int) -> list[TimeEntry]:
    entries: list[TimeEntry] = []
    cursor: str | None = None
    while True:
        page = await connectors.kantata.time_entries_page(
            approved=True, performed_on=day, cursor=cursor, per_page=page_size
        )
        entries.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return entries


async def _raw(
    connectors: Connectors, day: date, options: PostingOptions, advance: Advance, say: Say, pids: dict[str, int]
) -> dict[str, Any]:
    say(f"raw: reading the {day} entries and building their time bill bodies (not timed)")
    bodies = await raw_bodies(connectors.netsuite, await _read_all(connectors, day, 200))
    done = 0

    def one(count: int) -> None:
        nonlocal done
        done += count
        if done % 100 == 0 or done == len(bodies):
            advance("raw", done, len(bodies))

    cpu = CpuMeter({"sandbox": pids["sandbox"]})
    cpu.start()
    seconds, accepted = await post_raw(connectors.netsuite, bodies, options.concurrency, one)
    return {
        "seconds": round(seconds, 2),
        "entries_per_s": round(accepted / seconds, 1),
        "posted": accepted,
        "cpu_ms_per_entry": cpu.per_item_ms(len(bodies)),
    }


def target_ratio(entries: int) -> float:
    """The ratio a run of this size must reach: a little less at 100k, where the PSA's deep pages cost more."""
    return TARGET_RATIO_AT_100K if entries >= 100_000 else TARGET_RATIO


def judge(entries: int, ratio: float | None, rss_mb: float) -> dict[str, Any]:
    """Which targets this run can judge, and whether it meets them (scaling needs a 10k and a 100k run)."""
    meets: dict[str, Any] = {"ratio": ratio is not None and ratio >= target_ratio(entries)}
    meets["worker_peak_rss_mb_at_100k"] = rss_mb <= TARGET_RSS_MB_AT_100K if entries >= 100_000 else None
    meets["scaling_100k_over_10k"] = None
    return meets


async def run_posting(
    options: PostingOptions,
    workdir: Path,
    *,
    say: Say = lambda _msg: None,
    advance: Advance = lambda _name, _done, _total: None,
) -> dict[str, Any]:
    """Seed, start the stack, run both phases; returns the report (the JSON object)."""
    load_before = load_1m()
    orchestrated_day, raw_day = quiet_dates(anchor_date())
    say(f"seeding the demo firm and {options.entries} approved entries on {orchestrated_day} and on {raw_day}")
    started = time.perf_counter()
    await asyncio.to_thread(seed_entries, workdir / "sandbox.db", (orchestrated_day, raw_day), options.entries)
    say(f"seeded in {time.perf_counter() - started:.1f}s")
    with _environment("PSFLOW_NETSUITE_MAX_CONCURRENCY", str(options.concurrency)):
        async with fresh_stack(workdir, say, cluster=options.stack == "cluster", workers=options.workers) as stack:
            sandbox = stack.settings.sandbox_url
            async with httpx.AsyncClient(base_url=sandbox, timeout=30) as admin:
                response = await admin.put(
                    "/_admin/netsuite/concurrency",
                    json={"limit": options.concurrency, "service_time_ms": options.latency_ms},
                )
                response.raise_for_status()
                connectors = Connectors.build(stack.settings)
                try:
                    say(f"orchestrated: PostTimeExpensesWorkflow for {orchestrated_day}")
                    orchestrated = await _orchestrated(
                        stack.client, stack.settings, orchestrated_day, options, advance, stack.pids
                    )
                    raw = await _raw(connectors, raw_day, options, advance, say, stack.pids)
                finally:
                    await connectors.aclose()
                governance = (await admin.get("/_admin/netsuite/state")).json()
    rss_mb = orchestrated.pop("worker_peak_rss_mb")
    ratio = round(orchestrated["entries_per_s"] / raw["entries_per_s"], 3) if raw["entries_per_s"] else None
    return {
        "entries": options.entries,
        "latency_ms": options.latency_ms,
        "concurrency": options.concurrency,
        "page_size": options.page_size,
        "stack": {"server": "cluster" if options.stack == "cluster" else "dev-server", "workers": options.workers},
        "orchestrated": orchestrated,
        "raw": raw,
        "ratio": ratio,
        "worker_peak_rss_mb": rss_mb,
        "netsuite": {key: value for key, value in governance.items() if key not in ("periods", "counts")},
        "targets": {
            "ratio": target_ratio(options.entries),
            "worker_peak_rss_mb_at_100k": TARGET_RSS_MB_AT_100K,
            "scaling_100k_over_10k": TARGET_SCALING_100K_OVER_10K,
        },
        "meets": judge(options.entries, ratio, rss_mb),
        "machine": {"cpus": os.cpu_count(), "load_avg_1m_before": load_before, "load_avg_1m_after": load_1m()},
    }


def summary_table(result: dict[str, Any]) -> Table:
    """Both phases side by side, with the ratio and the RSS."""
    stack = result.get("stack", {"server": "dev-server", "workers": 1})
    table = Table(
        title=f"Posting: {result['entries']} entries, {result['latency_ms']:g} ms per request, "
        f"concurrency {result['concurrency']} ({stack['server']}, {stack['workers']} worker"
        f"{'s' if stack['workers'] > 1 else ''})"
    )
    for header in ("", "orchestrated", "raw httpx"):
        table.add_column(header, justify="right" if header else "left")
    orchestrated, raw = result["orchestrated"], result["raw"]
    table.add_row("seconds", str(orchestrated["seconds"]), str(raw["seconds"]))
    table.add_row("entries/s", str(orchestrated["entries_per_s"]), str(raw["entries_per_s"]))
    table.add_row("posted", str(orchestrated["posted"]), str(raw["posted"]))
    table.add_row("rejected / failed", f"{orchestrated['rejected']} / {orchestrated['failed']}", "")
    table.add_row(f"ratio (target >= {result['targets']['ratio']})", str(result["ratio"]), "")
    table.add_row("worker peak RSS MB", str(result["worker_peak_rss_mb"]), "")
    machine = result["machine"]
    table.caption = (
        f"{machine['cpus']} CPUs · load {machine['load_avg_1m_before']} before, {machine['load_avg_1m_after']} after"
    )
    return table


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.posting", description="Posting throughput through Temporal, against raw httpx."
    )
    parser.add_argument("--entries", type=int, default=20000, help="entries per phase (default 20000)")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="NetSuite time per request (default 20)")
    parser.add_argument("--concurrency", type=int, default=5, help="NetSuite concurrency limit (default 5)")
    parser.add_argument("--page-size", type=int, default=200, help="Kantata page size of the workflow (default 200)")
    parser.add_argument(
        "--stack",
        choices=("fresh", "cluster"),
        default="fresh",
        help="fresh: the dev server (default); cluster: the real Temporal cluster (server on PostgreSQL)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes, each on every task queue (default 1; more than one needs --stack cluster)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the stack's directory (logs, databases)")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error(f"--workers must be at least 1, got {args.workers}")
    if args.workers > 1 and args.stack != "cluster":
        parser.error("--workers above 1 needs --stack cluster (the workers share their store and budgets there)")
    if args.entries < 1:
        parser.error(f"--entries must be at least 1, got {args.entries}")
    if args.concurrency < 1:
        parser.error(f"--concurrency must be at least 1, got {args.concurrency}")
    if args.latency_ms < 0:
        parser.error(f"--latency-ms must be 0 or more, got {args.latency_ms:g}")
    if not 1 <= args.page_size <= 200:
        parser.error(f"--page-size must be between 1 and 200, got {args.page_size}")
    return args


async def _main(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    options = PostingOptions(
        args.entries, args.latency_ms, args.concurrency, args.page_size, stack=args.stack, workers=args.workers
    )
    return await run_in_workdir(
        "psflow-posting-bench-",
        lambda workdir, say, advance: run_posting(options, workdir, say=say, advance=advance),
        keep=args.keep,
        console=console,
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.posting``: progress on stderr, the table and then the JSON line on stdout."""
    args = _parse(argv)
    return run_cli(
        lambda progress: _main(args, progress),
        (StackStartError, SeedError, TemporalCliError),
        printed_report(summary_table),
    )


if __name__ == "__main__":
    sys.exit(main())
