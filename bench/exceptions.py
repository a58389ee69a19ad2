"""Exceptions benchmark: the store's queries over 10k and 100k open exceptions, against a plain SELECT.

    python -m bench.exceptions                      # 10 000 and 100 000 open exceptions
    python -m bench.exceptions --open 10000 --repeats 50

For each size it creates a new SQLite store in a temporary directory (migrated to head, as the
worker does) and records that many open exceptions through ``store.exceptions.record`` in pages of
500, spread over every flow and its kinds, first seen over the 30 days before a pinned instant (no
wall clock). It then times, at that instant:

- ``escalate_due`` on a page (the sweep's default 1000), a few pages one after another;
- ``find`` as ``psflow exceptions list`` calls it: the first page of active ones, filtered by flow,
  flow and kind, a rare flow, escalated or not, one business key, a page deep in the id order, and
  a keyset walk over every page;
- in the same rounds, interleaved with them so load on the machine falls on all alike, a baseline:
  ``SELECT id FROM exception LIMIT 200`` through the same engine, and the same page's full rows in
  raw SQL (what ``find`` costs beyond the database: building the records).

Each figure is the median of ``--repeats`` runs with its spread (p10, p90, min, max) and its ratio
to the baseline's median; ``plan`` is SQLite's ``EXPLAIN QUERY PLAN`` of the statement ``find``
sent. The last line of stdout is one JSON object. No Temporal and no sandbox: the store alone, as
the CLI and the sweep use it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import event, text

from bench._cli import finish_workdir, load_1m, run_cli
from bench._exceptions_data import AS_OF, bench_key, seed
from store import Store
from store import exceptions as exc

__all__ = ["ExceptionsOptions", "main", "run_exceptions", "summary_table"]

PAGE = 200
"""``find``'s default page, and the CLI's."""

Say = Callable[[str], None]


@dataclass(frozen=True)
class ExceptionsOptions:
    """One run's shape."""

    sizes: tuple[int, ...] = (10_000, 100_000)
    repeats: int = 25
    escalation_pages: int = 5


@dataclass
class Timings:
    """Milliseconds of each run of one measured call, and the rows its last run gave."""

    ms: list[float]
    rows: int = 0
    plan: str | None = None

    def figures(self, baseline_ms: float | None) -> dict[str, Any]:
        ordered = sorted(self.ms)
        deciles = statistics.quantiles(ordered, n=10) if len(ordered) > 1 else ordered * 9
        median = statistics.median(ordered)
        return {
            "median_ms": round(median, 3),
            "p10_ms": round(deciles[0], 3),
            "p90_ms": round(deciles[-1], 3),
            "min_ms": round(ordered[0], 3),
            "max_ms": round(ordered[-1], 3),
            "rows": self.rows,
            "ratio": round(median / baseline_ms, 2) if baseline_ms else None,
            "plan": self.plan,
        }


class StatementLog:
    """The last SQL statement (and its parameters) the store's engine sent: to ask SQLite for its plan."""

    def __init__(self, store: Store) -> None:
        self.last: tuple[str, Any] | None = None

        @event.listens_for(store.engine, "before_cursor_execute")
        def _seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
            self.last = (statement, parameters)

    def plan(self, store: Store) -> str | None:
        if self.last is None:
            return None
        statement, parameters = self.last
        with store.engine.connect() as connection:
            cursor = connection.connection.cursor()
            rows = cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters).fetchall()
            return "; ".join(str(row[-1]) for row in rows)


def _timed(call: Callable[[], Sequence[Any]]) -> tuple[float, Sequence[Any]]:
    started = time.perf_counter()
    rows = call()
    return (time.perf_counter() - started) * 1000, rows


def _raw(store: Store, sql: str) -> Callable[[], Sequence[Any]]:
    def call() -> Sequence[Any]:
        with store.engine.connect() as connection:
            return list(connection.execute(text(sql)).fetchall())

    return call


def escalate(store: Store, pages: int) -> dict[str, Any]:
    """Time ``escalate_due`` at ``AS_OF`` on up to ``pages`` pages of the sweep's size, one after another."""
    timings = Timings([])
    escalated = 0
    for _ in range(pages):
        ms, rows = _timed(lambda: exc.escalate_due(store, now=AS_OF))
        if not rows:
            break
        timings.ms.append(ms)
        escalated += len(rows)
    if not timings.ms:
        return {"pages": 0, "rows": 0}
    figures = timings.figures(None)
    for key in ("ratio", "plan"):
        figures.pop(key)
    figures.update(rows=escalated, pages=len(timings.ms), ms_per_escalation=round(sum(timings.ms) / escalated, 3))
    return figures


def queries(store: Store, count: int) -> dict[str, Callable[[], Sequence[Any]]]:
    """What is timed, by name; the baseline first."""
    middle = count // 2
    day = (AS_OF - timedelta(days=2, hours=1)).date()
    return {
        "baseline_select_ids": _raw(store, f"SELECT id FROM exception LIMIT {PAGE}"),
        "raw_active_rows": _raw(
            store, f"SELECT * FROM exception WHERE state IN ('open', 'acknowledged') ORDER BY id LIMIT {PAGE}"
        ),
        "raw_active_rows_id_order": _raw(
            store, f"SELECT * FROM exception WHERE +state IN ('open', 'acknowledged') ORDER BY id LIMIT {PAGE}"
        ),
        "find_active": lambda: exc.find(store),
        "find_flow": lambda: exc.find(store, flow="posting"),
        "find_flow_kind": lambda: exc.find(store, flow="reconciliation", kind="hours_mismatch"),
        "find_rare_flow": lambda: exc.find(store, flow="amendment"),
        "find_escalated": lambda: exc.find(store, escalated=True),
        "find_not_escalated_flow": lambda: exc.find(store, flow="posting", escalated=False),
        "find_business_date": lambda: exc.find(store, business_date=day),
        "find_key": lambda: exc.find(store, key=bench_key(middle)),
        "find_deep_page": lambda: exc.find(store, after_id=middle),
    }


def measure(store: Store, count: int, repeats: int) -> dict[str, Any]:
    """Every query ``repeats`` times, in interleaved rounds; figures with their ratio to the baseline."""
    log = StatementLog(store)
    calls = queries(store, count)
    timings = {name: Timings([]) for name in calls}
    for name, call in calls.items():  # one untimed run each: warm caches, take the plan
        log.last = None
        timings[name].rows = len(call())
        timings[name].plan = log.plan(store)
    for _ in range(repeats):
        for name, call in calls.items():
            ms, _rows = _timed(call)
            timings[name].ms.append(ms)
    baseline = statistics.median(timings["baseline_select_ids"].ms)
    return {name: timing.figures(baseline) for name, timing in timings.items()}


def walk(store: Store, repeats: int) -> dict[str, Any]:
    """Every active exception, page by page through ``after_id``: per-page figures and the whole walk's."""
    per_page = Timings([])
    totals = []
    for _ in range(repeats):
        after: int | None = None
        seen = 0
        started = time.perf_counter()
        while True:
            ms, rows = _timed(partial(exc.find, store, after_id=after, limit=PAGE))
            per_page.ms.append(ms)
            if not rows:
                break
            seen += len(rows)
            after = rows[-1].id
        totals.append(time.perf_counter() - started)
        per_page.rows = seen
    figures = per_page.figures(None)
    figures.pop("ratio")
    figures.pop("plan")
    figures.update(pages=len(per_page.ms) // repeats, walk_s_median=round(statistics.median(totals), 3))
    return figures


def run_size(workdir: Path, count: int, options: ExceptionsOptions, say: Say) -> dict[str, Any]:
    """One size: a new store, the exceptions recorded, then escalation, queries and the walk timed."""
    store = Store(f"sqlite:///{workdir / f'exceptions-{count}.db'}")
    store.upgrade()
    try:
        say(f"recording {count} open exceptions")
        seconds = seed(store, count, say)
        say(f"recorded in {seconds:.1f}s; escalating, then {options.repeats} rounds of queries")
        escalation = escalate(store, options.escalation_pages)
        figures = measure(store, count, options.repeats)
        say("walking every page")
        paging = walk(store, max(1, options.repeats // 10))
    finally:
        store.engine.dispose()
    return {
        "open": count,
        "record_s": round(seconds, 2),
        "recorded_per_s": round(count / seconds, 1),
        "escalate_due": escalation,
        "queries": figures,
        "walk": paging,
    }


def run_exceptions(options: ExceptionsOptions, workdir: Path, *, say: Say = lambda _msg: None) -> dict[str, Any]:
    """Every size in turn; returns the report (the JSON object)."""
    load_before = load_1m()
    runs = [run_size(workdir, count, options, say) for count in options.sizes]
    scaling: dict[str, float | None] = {}
    if len(runs) > 1:
        small, large = runs[0]["queries"], runs[-1]["queries"]
        scaling = {
            name: round(large[name]["median_ms"] / small[name]["median_ms"], 2) if small[name]["median_ms"] else None
            for name in small
        }
    return {
        "sizes": list(options.sizes),
        "repeats": options.repeats,
        "page": PAGE,
        "as_of": AS_OF.isoformat(),
        "runs": runs,
        "scaling_largest_over_smallest": scaling,
        "machine": {"cpus": os.cpu_count(), "load_avg_1m_before": load_before, "load_avg_1m_after": load_1m()},
    }


def summary_table(result: dict[str, Any]) -> Table:
    """Median ms (and ratio to the baseline) per query and size."""
    table = Table(title=f"Exceptions store: median of {result['repeats']} runs, {result['page']} rows a page")
    table.add_column("")
    for run in result["runs"]:
        table.add_column(f"{run['open']:,} open", justify="right")
    if result["scaling_largest_over_smallest"]:
        table.add_column("scaling", justify="right")
    runs = result["runs"]
    for name in runs[0]["queries"]:
        cells = [f"{run['queries'][name]['median_ms']:g} ms ({run['queries'][name]['ratio']:g}x)" for run in runs]
        scale = result["scaling_largest_over_smallest"].get(name)
        table.add_row(name, *cells, *([] if not result["scaling_largest_over_smallest"] else [f"{scale:g}x"]))
    table.add_row("walk: ms per page", *(f"{run['walk']['median_ms']:g}" for run in runs))
    table.add_row("walk: s for every page", *(f"{run['walk']['walk_s_median']:g}" for run in runs))
    table.add_row("escalate_due: ms per page", *(f"{run['escalate_due'].get('median_ms', '-')}" for run in runs))
    table.add_row("record: exceptions/s", *(f"{run['recorded_per_s']:g}" for run in runs))
    machine = result["machine"]
    table.caption = (
        f"ratio: to SELECT id ... LIMIT {result['page']} in the same rounds · {machine['cpus']} CPUs · "
        f"load {machine['load_avg_1m_before']} before, {machine['load_avg_1m_after']} after"
    )
    return table


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.exceptions", description="The exceptions store's queries over N open exceptions."
    )
    parser.add_argument(
        "--open", type=int, nargs="+", default=[10_000, 100_000], help="open exceptions, one store each"
    )
    parser.add_argument("--repeats", type=int, default=25, help="runs of each query (default 25)")
    parser.add_argument("--escalation-pages", type=int, default=5, help="escalate_due pages timed (default 5)")
    parser.add_argument("--keep", action="store_true", help="keep the stores' directory")
    args = parser.parse_args(argv)
    if min(args.open) < 1:
        parser.error(f"--open must be at least 1, got {min(args.open)}")
    if args.repeats < 2:
        parser.error(f"--repeats must be at least 2, got {args.repeats}")
    if args.escalation_pages < 1:
        parser.error(f"--escalation-pages must be at least 1, got {args.escalation_pages}")
    return args


async def _main(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    options = ExceptionsOptions(tuple(args.open), args.repeats, args.escalation_pages)
    workdir = Path(tempfile.mkdtemp(prefix="psflow-exceptions-bench-"))
    succeeded = False
    try:
        result = run_exceptions(options, workdir, say=lambda msg: console.print(msg, highlight=False))
        succeeded = True
        return result
    finally:
        finish_workdir(workdir, keep=args.keep, succeeded=succeeded, console=console)


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.exceptions``: progress on stderr, the table and then the JSON line on stdout."""
    args = _parse(argv)
    return run_cli(lambda progress: _main(args, progress), (), _report)


def _report(result: dict[str, Any], _progress: Console) -> int:
    Console().print(summary_table(result))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
