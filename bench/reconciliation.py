"""Reconciliation benchmark: a period of N posted entries reconciled through Temporal, against a raw read.

    python -m bench.reconciliation                     # 100 000 entries in the period
    python -m bench.reconciliation --entries 10000 --drift 25

It starts its own stack on free ports in a temporary directory (`bench._stack.fresh_stack`: the
Temporal dev server with a SQLite file, the sandbox, ONE worker process), after writing the demo
firm and N approved time entries on the last Saturday of the month before the sandbox's anchor
into the sandbox's file (`bench._posting_data.seed_entries`). Before anything is timed, every day
of that month with approved work is posted through ``PostTimeExpensesWorkflow``, so the ledger and
the ERP hold what the PSA approved (`bench._recon_data`).

Then, timed:

1. **raw**: every page a reconciliation reads — the PSA's time entries, expenses and projects, the
   ERP's time bills, expense reports, jobs and invoices, the ledger's rows — through the same
   connectors and page sizes, all at once as the workflow reads them, kept nowhere, compared with nothing;
2. **reconcile (clean)**: ``ReconcileWorkflow`` for the period, from start to result: snapshots into
   the store's staging table, the compare in SQL, exceptions; it must find no difference;
3. **raw** again (the first read warms what the second finds warm: the ratio uses their mean);
4. **drift**: ``--drift`` posted time bills get their hours edited in NetSuite through its REST API,
   and the period is reconciled again: it must find exactly that many ``hours_mismatch``.

Figures: wall time of each phase, reconcile / raw, records per second, the worker's peak RSS during
the reconciliations, the workflow's history length, CPU per
record per process, the differences found. The last line of stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench._cli import load_1m, printed_report, run_cli, run_in_workdir
from bench._cpu import CpuMeter
from bench._posting_data import RssSampler, SeedError, seed_entries
from bench._recon_data import (
    bench_period,
    days_with_approved_work,
    inject_hours_drift,
    ledger_count,
    post_days,
    read_raw,
)
from bench._recon_run import ReconcileError, reconcile
from bench._stack import Stack, StackStartError, fresh_stack
from canonical import DateRange
from sandbox.seed import anchor_date
from stack.connectors import Connectors
from stack.local.temporal_cli import TemporalCliError
from store import Store

__all__ = ["ReconciliationOptions", "main", "run_reconciliation", "summary_table"]

Say = Callable[[str], None]
Advance = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ReconciliationOptions:
    """One run's shape."""

    entries: int = 100_000
    drift: int = 10


async def _raw(connectors: Connectors, store: Store, period: DateRange, pids: dict[str, int]) -> dict[str, Any]:
    cpu = CpuMeter({"sandbox": pids["sandbox"]})
    cpu.start()
    started = time.perf_counter()
    counts, by_listing = await read_raw(connectors, store, period)
    seconds = time.perf_counter() - started
    records = sum(count for name, count in counts.items() if name != "pages")
    return {
        "seconds": round(seconds, 2),
        "records": records,
        "records_per_s": round(records / seconds, 1),
        "read": counts,
        "seconds_by_listing": by_listing,
        "cpu_ms_per_record": cpu.per_item_ms(records),
    }


async def _reconciled(stack: Stack, period: DateRange, records: int) -> dict[str, Any]:
    rss = RssSampler(stack.pids["worker"])
    rss.start()
    cpu = CpuMeter(stack.pids)
    cpu.start()
    try:
        figures = await reconcile(stack.client, stack.settings, period)
    finally:
        peak = await rss.stop()
    figures["records_per_s"] = round(records / figures["seconds"], 1) if figures["seconds"] else None
    figures["cpu_ms_per_record"] = cpu.per_item_ms(records)
    figures["worker_peak_rss_mb"] = peak
    return figures


async def run_reconciliation(
    options: ReconciliationOptions,
    workdir: Path,
    *,
    say: Say = lambda _msg: None,
    advance: Advance = lambda _name, _done, _total: None,
) -> dict[str, Any]:
    """Seed, start the stack, post the period, then time the raw read, the reconciliations and the drift."""
    load_before = load_1m()
    period, day = bench_period(anchor_date())
    say(f"seeding the demo firm and {options.entries} approved entries on {day} (period {period.start:%Y-%m})")
    started = time.perf_counter()
    await asyncio.to_thread(seed_entries, workdir / "sandbox.db", (day,), options.entries)
    seed_s = round(time.perf_counter() - started, 2)
    async with fresh_stack(workdir, say) as stack:
        connectors = Connectors.build(stack.settings)
        store = Store(stack.settings.store_url)
        try:
            days = await days_with_approved_work(connectors, period)
            say(f"posting {len(days)} days of {period.start:%Y-%m} through PostTimeExpensesWorkflow (not timed)")
            posting = await post_days(stack.client, stack.settings, days, options.entries, advance)
            ledger = await asyncio.to_thread(ledger_count, store, period)
            say(f"posted: {posting['posted']} in {posting['seconds']} s; reading the period raw")
            first_raw = await _raw(connectors, store, period, stack.pids)
            say(f"raw read in {first_raw['seconds']} s; reconciling {period.start:%Y-%m} through Temporal")
            clean = await _reconciled(stack, period, first_raw["records"])
            say(f"reconciled in {clean['seconds']} s ({clean['status']}); reading the period raw again")
            second_raw = await _raw(connectors, store, period, stack.pids)
            say(f"editing {options.drift} time bills' hours in NetSuite, then reconciling again")
            edited = await inject_hours_drift(connectors, day, options.drift)
            drifted = await _reconciled(stack, period, first_raw["records"])
        finally:
            await connectors.aclose()
            store.engine.dispose()
    raw_s = (first_raw["seconds"] + second_raw["seconds"]) / 2
    before, after = clean["differences"], drifted["differences"]
    new = {kind: after.get(kind, 0) - before.get(kind, 0) for kind in {*before, *after}}
    new = {kind: count for kind, count in new.items() if count}
    found = new.get("hours_mismatch", 0)
    return {
        "entries": options.entries,
        "period": f"{period.start:%Y-%m}",
        "bench_day": day.isoformat(),
        "seed_s": seed_s,
        "posting": posting,
        "ledger_rows": ledger,
        "raw": [first_raw, second_raw],
        "reconcile": clean,
        "ratio": round(clean["seconds"] / raw_s, 2) if raw_s else None,
        "drift": {
            "injected": len(edited),
            "found": found,
            "new_differences": new,
            "all_found": new == {"hours_mismatch": len(edited)},
            "reconcile": drifted,
        },
        "machine": {"cpus": os.cpu_count(), "load_avg_1m_before": load_before, "load_avg_1m_after": load_1m()},
    }


def summary_table(result: dict[str, Any]) -> Table:
    """The reconciliations beside the raw reads, with the drift's verdict."""
    table = Table(title=f"Reconciliation of {result['period']}: {result['entries']} benchmark entries")
    for header in ("", "raw read", "reconcile (clean)", "reconcile (drift)"):
        table.add_column(header, justify="right" if header else "left")
    first, second = result["raw"]
    clean, drifted = result["reconcile"], result["drift"]["reconcile"]
    table.add_row(
        "seconds", f"{first['seconds']} / {second['seconds']}", str(clean["seconds"]), str(drifted["seconds"])
    )
    table.add_row("records", str(first["records"]), str(clean.get("compared_total", "")), "")
    table.add_row("ratio to the raw read", "1", str(result["ratio"]), "")
    table.add_row("worker peak RSS MB", "", str(clean["worker_peak_rss_mb"]), str(drifted["worker_peak_rss_mb"]))
    table.add_row("history events", "", str(clean["history_length"]), str(drifted["history_length"]))
    table.add_row("status", "", clean["status"], drifted["status"])
    table.add_row(
        "differences",
        "",
        str(sum(clean["differences"].values())),
        f"{result['drift']['found']} of {result['drift']['injected']}",
    )
    machine = result["machine"]
    table.caption = (
        f"posted {result['posting']['posted']} in {result['posting']['seconds']} s (not timed) · "
        f"{machine['cpus']} CPUs · load {machine['load_avg_1m_before']} before, {machine['load_avg_1m_after']} after"
    )
    return table


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.reconciliation",
        description="Reconciling a period of N posted entries through Temporal, against reading it raw.",
    )
    parser.add_argument("--entries", type=int, default=100_000, help="entries in the period (default 100000)")
    parser.add_argument("--drift", type=int, default=10, help="time bills edited in NetSuite (default 10)")
    parser.add_argument("--keep", action="store_true", help="keep the stack's directory (logs, databases)")
    args = parser.parse_args(argv)
    if args.entries < 1:
        parser.error(f"--entries must be at least 1, got {args.entries}")
    if not 1 <= args.drift <= args.entries:
        parser.error(f"--drift must be between 1 and --entries ({args.entries}), got {args.drift}")
    return args


async def _main(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    options = ReconciliationOptions(args.entries, args.drift)
    return await run_in_workdir(
        "psflow-reconciliation-bench-",
        lambda workdir, say, advance: run_reconciliation(options, workdir, say=say, advance=advance),
        keep=args.keep,
        console=console,
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.reconciliation``: progress on stderr, the table and then the JSON line on stdout."""
    args = _parse(argv)
    errors = (StackStartError, SeedError, TemporalCliError, ReconcileError)
    return run_cli(lambda progress: _main(args, progress), errors, printed_report(summary_table))


if __name__ == "__main__":
    sys.exit(main())
