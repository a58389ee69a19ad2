"""Provisioning benchmark: N won deals through the full saga, against the same steps called directly.

    python -m bench.provisioning --deals 200                # open loop, Poisson arrivals at 20/s
    python -m bench.provisioning --deals 200 --concurrency 8  # closed loop, 8 deals in flight
    python -m bench.provisioning --stack local              # drive the stack `psflow dev up` runs
    python -m bench.provisioning --stack cluster --workers 3  # the real cluster, three worker processes

Without ``--stack local`` it starts its own stack on free ports in a temporary directory (the
Temporal dev server with a SQLite file, the sandbox with the demo firm, ONE worker process), with
the emulators at zero added latency. It creates 2N open deals (plus warm-up deals) before any
timing, then runs two phases with the same arrivals: the orchestrated phase wins each deal and
triggers provisioning as the CLI does (``stack.flows.trigger_provisioning``, source ``cli``) and
times from the trigger to the workflow's ``provisioned`` result; the baseline phase wins fresh
deals and calls the same activity methods directly in this process. The last line of stdout is
one JSON object with both phases' figures, their ratios and whether the target is met.

The target (issue 4): p95 <= 300 ms and >= 20 engagements/s with one worker on 2 cores. An open
loop cannot complete faster than it offers, so at ``--rate`` the throughput half is judged as
"offered >= 20/s, every deal provisioned, p95 within target" (a worker that cannot keep up
queues, and its p95 grows past the target); at ``--concurrency`` both halves are judged literally.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import sys
import tempfile
import uuid
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from temporalio.client import Client

from bench._cli import finish_workdir, load_1m, run_cli
from bench._cpu import CpuMeter
from bench._deals import DealSetupError, create_open_deals
from bench._load import Arrivals, BenchOptions, Done, Phase, drive
from bench._paths import baseline_store, direct, orchestrated
from bench._report import PHASES, TARGET_THROUGHPUT_PER_S, judge, report, summary_table
from bench._requests import RequestCountError, RequestMeter
from bench._stack import Stack, StackStartError, fresh_stack, local_stack, temporal_cli_version
from stack.connectors import Connectors
from stack.local.temporal_cli import TemporalCliError
from stack.settings import Settings

__all__ = ["Arrivals", "BenchOptions", "judge", "main", "report", "run_benchmark", "summary_table"]


Say = Callable[[str], None]
OWN_REQUESTS_PER_DEAL = {"salesforce": 1}
"""Requests the benchmark itself sends per deal (the PATCH that wins it), left out of the per-deal counts."""
PhaseStarted = Callable[[str, int], Done]
"""Called as a phase starts with its name and deal count; returns the per-deal callback."""


async def run_benchmark(
    client: Client,
    settings: Settings,
    options: BenchOptions,
    *,
    say: Say = lambda _msg: None,
    phase_started: PhaseStarted = lambda _name, _count: lambda _ok: None,
    load_avg_before: float | None = None,
    cli_version: str | None = None,
    stack: dict[str, Any] | None = None,
    pids: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """Run both phases against a stack whose worker is already polling ``settings``' task queues.

    Args:
        client: A client of the stack's Temporal server (pydantic converter).
        settings: The settings the worker runs with (task queues, sandbox, store).
        options: Deals, arrivals, warm-up.
        say: Progress messages.
        phase_started: Progress per deal (see `PhaseStarted`).
        load_avg_before: The 1-minute load average before the stack started (now, if not given).
        cli_version: The Temporal CLI's version, for the report.
        stack: What ran the orchestrated phase (kind, server config), for the report.
        pids: The stack's processes by name, to report CPU per deal of each (this process is always counted).

    Returns:
        The report (`report`): figures per phase, ratios, target, machine.
    """
    machine: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "load_avg_1m_before": load_1m() if load_avg_before is None else load_avg_before,
        "python": platform.python_version(),
        "temporal_cli_version": cli_version,
    }
    connectors = Connectors.build(settings)
    store = await baseline_store(settings)
    try:
        per_phase = options.warmup + options.deals
        run_id = uuid.uuid4().hex[:8]
        deals = await create_open_deals(connectors.salesforce, per_phase * len(PHASES), run_id, say)
        paths = {"orchestrated": orchestrated(client, settings, connectors), "baseline": direct(connectors, store)}
        phases: dict[str, Phase] = {}
        failures: dict[str, list[str]] = {}
        for index, name in enumerate(PHASES):
            mine = deals[index * per_phase : (index + 1) * per_phase]
            warm, measured = mine[: options.warmup], mine[options.warmup :]
            if warm:
                say(f"{name}: warming up with {len(warm)} deals, one at a time (not counted)")
                warmed = await drive(warm, paths[name], Arrivals(concurrency=1), timeout_s=options.deal_timeout_s)
                failures[f"{name}_warmup"] = warmed.failures
            say(f"{name}: {len(measured)} deals, {options.arrivals.mode}")
            meter = CpuMeter(pids or {})
            requests = RequestMeter(settings.sandbox_url)
            await requests.start()
            meter.start()
            phases[name] = await drive(
                measured,
                paths[name],
                options.arrivals,
                timeout_s=options.deal_timeout_s,
                done=phase_started(name, len(measured)),
            )
            provisioned = len(phases[name].latencies_s)
            phases[name].cpu_ms_per_deal = meter.per_item_ms(provisioned)
            own = {system: count * len(measured) for system, count in OWN_REQUESTS_PER_DEAL.items()}
            phases[name].requests_per_deal = await requests.per_item(provisioned, own)
            failures[name] = phases[name].failures
        machine["load_avg_1m_after"] = load_1m()
        return report(options, phases, machine, failures, stack)
    finally:
        await connectors.aclose()
        await asyncio.to_thread(store.engine.dispose)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.provisioning",
        description="Provisioning latency and throughput, against a direct baseline.",
    )
    parser.add_argument("--deals", type=int, default=200, help="deals per phase (default 200)")
    arrival = parser.add_mutually_exclusive_group()
    arrival.add_argument("--rate", type=float, help="open loop: Poisson arrivals per second (default 20)")
    arrival.add_argument("--concurrency", type=int, help="closed loop: deals in flight at once")
    parser.add_argument("--warmup", type=int, default=5, help="deals through each path first, not counted (default 5)")
    parser.add_argument("--seed", type=int, default=4, help="seed of the arrival schedule (default 4)")
    parser.add_argument(
        "--deal-timeout", type=float, default=300.0, help="seconds before a deal counts as failed (default 300)"
    )
    parser.add_argument(
        "--stack",
        choices=("fresh", "cluster", "local"),
        default="fresh",
        help="fresh: start one on the dev server (default); cluster: start one on the real Temporal cluster "
        "(server on PostgreSQL); local: psflow dev up's",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes, each on every task queue (default 1; more than one needs --stack cluster)",
    )
    parser.add_argument(
        "--dynamic-config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a dev server dynamic config value on top of psflow dev up's (repeatable; --stack fresh only)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the fresh stack's directory (logs, databases)")
    args = parser.parse_args(argv)
    for name, minimum in (("deals", 1), ("warmup", 0), ("concurrency", 1), ("workers", 1)):
        value = getattr(args, name)
        if value is not None and value < minimum:
            parser.error(f"--{name} must be at least {minimum}, got {value}")
    if args.rate is not None and args.rate <= 0:
        parser.error(f"--rate must be positive, got {args.rate:g}")
    if args.dynamic_config and args.stack != "fresh":
        parser.error(
            "--dynamic-config configures the fresh stack's dev server; the local stack's is `psflow dev up`'s "
            "and the cluster's is bench/_cluster.py's"
        )
    for value in args.dynamic_config:
        if "=" not in value:
            parser.error(
                f"--dynamic-config takes KEY=VALUE, e.g. history.transferProcessorMaxPollRPS=200; got {value!r}"
            )
    if args.workers > 1 and args.stack != "cluster":
        parser.error("--workers above 1 needs --stack cluster (the workers share their store and budgets there)")
    if args.deal_timeout <= 0:
        parser.error(f"--deal-timeout must be positive, got {args.deal_timeout:g}")
    return args


async def _main(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    load_before = load_1m()
    running_task = asyncio.current_task()
    assert running_task is not None
    for signum in (signal.SIGINT, signal.SIGTERM):
        # Cancel rather than die, so the fresh stack's processes are stopped on the way out.
        asyncio.get_running_loop().add_signal_handler(signum, running_task.cancel)
    arrivals = Arrivals(
        rate=None if args.concurrency else (args.rate or TARGET_THROUGHPUT_PER_S),
        concurrency=args.concurrency,
        seed=args.seed,
    )
    options = BenchOptions(deals=args.deals, arrivals=arrivals, warmup=args.warmup, deal_timeout_s=args.deal_timeout)
    say: Say = lambda message: console.print(message, highlight=False)  # noqa: E731
    workdir = Path(tempfile.mkdtemp(prefix="psflow-bench-")) if args.stack != "local" else None
    stack: AbstractAsyncContextManager[Stack] = (
        local_stack(say)
        if workdir is None
        else fresh_stack(workdir, say, args.dynamic_config, cluster=args.stack == "cluster", workers=args.workers)
    )
    succeeded = False
    try:
        async with stack as running:
            with Progress(
                TextColumn("{task.description:<13}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("failed {task.fields[failed]}"),
                TimeElapsedColumn(),
                console=console,
            ) as progress:

                def phase_started(name: str, count: int) -> Done:
                    task = progress.add_task(name, total=count, failed=0)
                    failed = 0

                    def done(ok: bool) -> None:
                        nonlocal failed
                        failed += not ok
                        progress.update(task, advance=1, failed=failed)

                    return done

                result = await run_benchmark(
                    running.client,
                    running.settings,
                    options,
                    say=progress.console.print,
                    phase_started=phase_started,
                    load_avg_before=load_before,
                    cli_version=running.temporal_cli_version or temporal_cli_version(),
                    stack={
                        "kind": args.stack,
                        "server": running.server,
                        "workers": running.workers,
                        "dynamic_config": args.dynamic_config,
                    },
                    pids=running.pids,
                )
        succeeded = True
        return result
    finally:
        finish_workdir(workdir, keep=args.keep, succeeded=succeeded, console=console)


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.provisioning``: progress on stderr, the table and then the JSON line on stdout."""
    args = _parse(argv)
    return run_cli(
        lambda progress: _main(args, progress),
        (StackStartError, DealSetupError, TemporalCliError, RequestCountError),
        _report,
    )


def _report(result: dict[str, Any], _progress: Console) -> int:
    Console().print(summary_table(result))
    for name, found in result["first_failures"].items():
        Console().print(f"{name} failures (first {len(found)}): " + "; ".join(found), highlight=False)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
