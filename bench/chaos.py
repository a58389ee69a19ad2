"""Chaos run: the whole stack on a bad day, then counts taken from the target systems' own APIs.

    python -m bench.chaos --seed 1
    python -m bench.chaos --seed 2 --deals 63 --entries 229 --days 3 --fault-rate 0.2 \
        --worker-kills 3 --server-restarts 1

It starts its own stack on free loopback ports in a temporary directory (`bench._stack.fresh_stack`
with the gateway: the Temporal dev server on a SQLite file, so a restart keeps its state; the
sandbox seeded with the demo firm; the webhook gateway subscribed to the sandbox's CRMs; one
worker), creates the run's deals and entries, turns faults on at every emulated system, wins the
deals (the CRMs notify the gateway), approves and posts the days and invoices the month with the
CLI, SIGKILLs and restarts the worker, restarts the Temporal server once with a webhook arriving
while it is down, and sends hostile webhooks and bad CLI input (`bench._chaos_run` has the
timetable). Then faults go off, the run waits for psflow to finish, and counts from NetSuite and
Kantata: deals lost, duplicated or half-provisioned, entries lost or duplicated, posted work not
invoiced or invoiced twice, gateway 5xx, CLI tracebacks. Progress goes to stderr; the table and
then one JSON object (its last line) to stdout. Everything is bounded by ``--deadline-minutes``.
Exit status: 0 when nothing was lost, duplicated or half-provisioned and the gateway never answered
5xx; 1 otherwise; 2 for bad options.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter

from bench._chaos_run import ChaosOptions, run_chaos
from bench._chaos_world import ArrangeError
from bench._cli import finish_workdir, run_cli
from bench._deals import DealSetupError
from bench._stack import StackStartError
from stack.local.temporal_cli import TemporalCliError

__all__ = ["ChaosOptions", "findings", "main", "passed", "run_chaos", "summary_table"]


def passed(result: dict[str, Any]) -> bool:
    """Nothing lost, duplicated or half-provisioned, no 5xx from the gateway, and a 503 while Temporal was down."""
    wrong = result["lost"] or result["duplicated"] or result["half_provisioned"] or result["gateway_5xx"]
    wrong = wrong or result.get("amendments_wrong", 0)
    return not wrong and result["restart_probe_ok"]


HUBSPOT_TIMEOUT_S = 5.0
"""How long the sandbox's HubSpot waits for a webhook's answer before counting the delivery as failed."""


def findings(result: dict[str, Any]) -> list[str]:
    """What went wrong, each tied to the finding of issue 11 it shows (or said to be new)."""
    deals, entries, invoices, gateway = result["deals"], result["entries"], result["invoices"], result["gateway"]
    found = []
    if deals["half_provisioned"] or deals["reported_provisioned_with_inactive_job"]:
        found.append(
            f"finding 1 (redo after compensation replays the ERP write): half-provisioned {deals['half_provisioned']}, "
            f"reported provisioned with an inactive job {deals['reported_provisioned_with_inactive_job']}"
        )
    if deals["lost"]:
        found.append(f"finding 2 (transient faults trigger compensation): deals not provisioned {deals['lost']}")
    if entries["lost"]:
        found.append(f"finding 3 (posting stalls under faults): {len(entries['lost'])} entries not in the ERP")
    if invoices["entries_not_invoiced"] or invoices["jobs_short"]:
        found.append(
            f"finding 7 (invoicing does not wait for the month's posting): {len(invoices['entries_not_invoiced'])} "
            f"entries (named on invoice lines) and {invoices['hours_not_invoiced']} h (billed per rate) posted "
            "but on no invoice"
        )
    if deals["duplicated"] or entries["duplicated"] or invoices["entries_invoiced_twice"] or invoices["jobs_over"]:
        found.append(
            f"NEW (duplicates): deals {deals['duplicated']}, ERP entries {entries['duplicated']}, "
            f"entries invoiced twice {invoices['entries_invoiced_twice']}, hours over {invoices['jobs_over']}"
        )
    if gateway["hostile_5xx_or_dropped"]:
        found.append(f"findings 4 and 5 (gateway 5xx on bad input): {gateway['hostile_5xx_or_dropped']}")
    if gateway["hostile_wrongly_accepted"]:
        found.append(f"finding 5 (bad record ids reach workflow ids): {gateway['hostile_wrongly_accepted']}")
    if gateway.get("genuine_refused"):
        found.append(f"NEW (a genuine redelivery refused 4xx): {gateway['genuine_refused']}")
    if gateway["crm_deliveries"]["5xx_other_than_503"]:
        found.append(f"gateway answered a CRM's own delivery 5xx: {gateway['crm_deliveries']}")
    probe = gateway["restart_probe"]
    if probe and (probe.get("status") != 503 or not probe.get("retry_after")):
        found.append(
            f"finding 8 (webhook while Temporal is down): answered {probe.get('status')} "
            f"with Retry-After {probe.get('retry_after')!r} after {probe.get('answer_s')} s, "
            "expected 503 with Retry-After"
        )
    if probe and (probe.get("answer_s") or 0) > HUBSPOT_TIMEOUT_S:
        found.append(
            f"finding 8 (webhook while Temporal is down): the gateway took {probe['answer_s']} s to answer; "
            f"the sandbox's HubSpot gives up after {HUBSPOT_TIMEOUT_S:g} s and counts the delivery as failed"
        )
    no_answer = gateway["crm_deliveries"].get("no_answer", 0)
    given_up = gateway["crm_deliveries"].get("relay_failed_for_good", 0)
    if no_answer or given_up:
        fate = (
            f"the relay gave up on {given_up} deliveries, whose deals only the polling fallback provisions"
            if given_up
            else "each was delivered on a retry"
        )
        found.append(
            f"finding 8 (webhook while Temporal is down): {no_answer} CRM delivery attempts got no answer; {fate}"
        )
    if result["cli"]["tracebacks"] or result["cli"]["exit_0"] or result["cli"]["not_one_line"]:
        found.append(
            f"finding 6 (CLI errors): tracebacks {result['cli']['tracebacks']}, exit 0 {result['cli']['exit_0']}, "
            f"not one line {result['cli']['not_one_line']}"
        )
    amendments = result.get("amendments")
    if amendments and (
        amendments["lost"] or amendments["duplicated"] or amendments["out_of_order"]
        or amendments["malformed_left_a_trace"] or amendments["malformed_wrongly_accepted"]
        or amendments["malformed_5xx_or_dropped"]
    ):  # fmt: skip
        found.append(
            f"NEW (amendments): lost {amendments['lost']}, duplicated {amendments['duplicated']}, out of order "
            f"{amendments['out_of_order']}, malformed left a trace {amendments['malformed_left_a_trace']}, "
            f"malformed accepted {amendments['malformed_wrongly_accepted']}, "
            f"5xx {amendments['malformed_5xx_or_dropped']}; "
            f"wrong values {amendments['wrong_values']}"
        )
    found += [f"harness: {problem}" for problem in result["problems"]]
    return found


def _names(items: list[str], limit: int = 3) -> str:
    if not items:
        return ""
    shown = ", ".join(items[:limit])
    return shown + (f" (+{len(items) - limit})" if len(items) > limit else "")


def summary_table(result: dict[str, Any]) -> Table:
    """What was expected, what the target systems hold, and what is wrong, per kind of record."""
    deals, entries, invoices = result["deals"], result["entries"], result["invoices"]
    gateway, cli = result["gateway"], result["cli"]
    options = result["options"]
    table = Table(
        title=f"Chaos run, seed {options['seed']}: {options['fault_rate']:.0%} faults, "
        f"{result['chaos']['worker_kills']} worker kills, {result['chaos']['server_restarts']} server restarts"
    )
    for header in ("", "expected", "found", "lost", "duplicated", "other", "which"):
        table.add_column(header, justify="left" if header in ("", "which") else "right")
    half = deals["half_provisioned"]
    table.add_row(
        "deals provisioned (PSA + ERP)", str(deals["expected"]), str(deals["provisioned"]), str(len(deals["lost"])),
        str(len(deals["duplicated"])), f"{len(half)} half-provisioned",
        _names(deals["lost"] + deals["duplicated"] + half),
    )  # fmt: skip
    table.add_row(
        "entries in the ERP", str(entries["expected"]), str(entries["posted"]), str(len(entries["lost"])),
        str(entries["duplicated"]), "", _names(entries["lost"]),
    )  # fmt: skip
    table.add_row(
        "entries on an invoice (named)", "", "", str(len(invoices["entries_not_invoiced"])),
        str(len(invoices["entries_invoiced_twice"])), f"{invoices['invoices']} invoices",
        _names(invoices["entries_not_invoiced"] + invoices["entries_invoiced_twice"]),
    )  # fmt: skip
    table.add_row(
        "hours on an invoice (per rate)", "", "", invoices["hours_not_invoiced"], invoices["hours_invoiced_twice"], "",
        _names(invoices["jobs_short"] + invoices["jobs_over"], 2),
    )  # fmt: skip
    probe = gateway["restart_probe"]
    table.add_row(
        "gateway: hostile requests", str(gateway["hostile_requests"]), "", "", "",
        f"{len(gateway['hostile_5xx_or_dropped'])} 5xx, {len(gateway['hostile_wrongly_accepted'])} wrongly accepted",
        _names(gateway["hostile_5xx_or_dropped"] + gateway["hostile_wrongly_accepted"]),
    )  # fmt: skip
    table.add_row(
        "gateway: webhook while Temporal down", "503", str(probe.get("status", "-")), "", "",
        f"Retry-After {probe.get('retry_after')}", f"redelivered: {probe.get('redelivery')}",
    )  # fmt: skip
    table.add_row(
        "gateway: CRM deliveries 5xx (not 503)",
        "0",
        str(gateway["crm_deliveries"]["5xx_other_than_503"]),
        "",
        "",
        "",
        "",
    )
    amendments = result.get("amendments")
    if amendments:
        table.add_row(
            "amendment versions applied (PSA + ERP + events)", str(amendments["expected"]), str(amendments["applied"]),
            str(len(amendments["lost"])), str(len(amendments["duplicated"])),
            f"{len(amendments['out_of_order'])} out of order, {len(amendments['malformed_deliveries'])} malformed "
            f"({len(amendments['malformed_wrongly_accepted'])} accepted, "
            f"{len(amendments['malformed_left_a_trace'])} left a trace)",
            _names(amendments["lost"] + amendments["duplicated"] + amendments["out_of_order"]),
        )  # fmt: skip
    table.add_row(
        "CLI: bad inputs", str(cli["inputs"]), "", "", "",
        f"{len(cli['tracebacks'])} tracebacks, {len(cli['exit_0'])} exit 0, {len(cli['not_one_line'])} not one line",
        _names(cli["tracebacks"] + cli["exit_0"]),
    )  # fmt: skip
    verdict = "[green]nothing lost or duplicated[/green]" if passed(result) else "[red]FAILED[/red]"
    table.caption = (
        f"{verdict} · lost {result['lost']}, duplicated {result['duplicated']}, half-provisioned "
        f"{result['half_provisioned']}, gateway 5xx {result['gateway_5xx']}, "
        f"CLI tracebacks {result['cli_tracebacks']} · "
        f"{result['seconds']['total']} s · {result['machine']['cpus']} CPUs"
    )
    return table


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description="The whole stack under chaos, counted.")
    defaults = ChaosOptions()
    parser.add_argument("--seed", type=int, default=defaults.seed, help="seed of every random choice (default 1)")
    parser.add_argument("--deals", type=int, default=defaults.deals, help="deals won (default 63)")
    parser.add_argument("--entries", type=int, default=defaults.entries, help="approved entries (default 229)")
    parser.add_argument("--days", type=int, default=defaults.days, help="business days posted (default 3)")
    parser.add_argument("--fault-rate", type=float, default=defaults.fault_rate, help="share of failing requests")
    parser.add_argument("--latency-ms", type=float, default=defaults.latency_ms, help="added to every request")
    parser.add_argument("--worker-kills", type=int, default=defaults.worker_kills, help="SIGKILLs of the worker")
    parser.add_argument("--server-restarts", type=int, default=defaults.server_restarts, help="Temporal restarts")
    parser.add_argument("--fault-seconds", type=float, default=defaults.fault_seconds, help="how long faults last")
    parser.add_argument(
        "--outage-seconds", type=float, default=0.0, help="NetSuite answers 503 to everything this long (default 0)"
    )
    parser.add_argument("--poll-every", type=float, default=defaults.poll_every_s, help="seconds between polls")
    parser.add_argument("--cli-inputs", type=int, default=defaults.cli_inputs, help="bad CLI inputs (0-25)")
    parser.add_argument(
        "--amended-contracts", type=int, default=defaults.amended_contracts, help="contracts amended twice (default 4)"
    )
    parser.add_argument(
        "--amended-hubspot", type=int, default=defaults.amended_hubspot, help="HubSpot deals with 2 change orders"
    )
    parser.add_argument("--deadline-minutes", type=float, default=defaults.deadline_seconds / 60, help="hard stop")
    parser.add_argument("--keep", action="store_true", help="keep the stack's directory (logs, databases)")
    args = parser.parse_args(argv)
    for name, minimum in (
        ("deals", 1), ("entries", 1), ("days", 1), ("worker_kills", 0), ("server_restarts", 0),
        ("amended_contracts", 0), ("amended_hubspot", 0),
    ):  # fmt: skip
        if getattr(args, name) < minimum:
            parser.error(f"--{name.replace('_', '-')} must be at least {minimum}, got {getattr(args, name)}")
    if not 0 <= args.fault_rate <= 1:
        parser.error(f"--fault-rate must be between 0 and 1, got {args.fault_rate:g}")
    if not 0 <= args.cli_inputs <= 25:
        parser.error(f"--cli-inputs must be between 0 and 25, got {args.cli_inputs}")
    for name in ("fault_seconds", "poll_every", "deadline_minutes"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name):g}")
    if not 0 <= args.outage_seconds <= 0.7 * args.fault_seconds:
        parser.error(f"--outage-seconds must be between 0 and 0.7 x --fault-seconds, got {args.outage_seconds:g}")
    if args.latency_ms < 0:
        parser.error(f"--latency-ms must be 0 or more, got {args.latency_ms:g}")
    return args


def options_from(args: argparse.Namespace) -> ChaosOptions:
    """The run's options from the command line."""
    return ChaosOptions(
        seed=args.seed, deals=args.deals, entries=args.entries, days=args.days, fault_rate=args.fault_rate,
        latency_ms=args.latency_ms, worker_kills=args.worker_kills, server_restarts=args.server_restarts,
        fault_seconds=args.fault_seconds, poll_every_s=args.poll_every, cli_inputs=args.cli_inputs,
        outage_seconds=args.outage_seconds, amended_contracts=args.amended_contracts,
        amended_hubspot=args.amended_hubspot,
        deadline_seconds=args.deadline_minutes * 60,
    )  # fmt: skip


async def _main(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    # The SDK's core logs every retried call while the server is down, on stdout: keep stdout for the result.
    quiet = TelemetryConfig(logging=LoggingConfig(filter=TelemetryFilter(core_level="ERROR", other_level="ERROR")))
    Runtime.set_default(Runtime(telemetry=quiet), error_if_already_set=False)
    running_task = asyncio.current_task()
    assert running_task is not None
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, running_task.cancel)
    workdir = Path(tempfile.mkdtemp(prefix="psflow-chaos-"))
    succeeded = False  # a run that fails its verdict keeps its logs too
    try:
        result = await run_chaos(
            options_from(args), workdir, lambda m: console.print(m, highlight=False, soft_wrap=True)
        )
        succeeded = passed(result)
        return result
    finally:
        finish_workdir(workdir, keep=args.keep, succeeded=succeeded, console=console)


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.chaos``: progress on stderr, the table and then the JSON line on stdout."""
    args = _parse(argv)
    return run_cli(
        lambda progress: _main(args, progress),
        (StackStartError, ArrangeError, DealSetupError, TemporalCliError),
        _report,
    )


def _report(result: dict[str, Any], progress: Console) -> int:
    Console(width=200).print(summary_table(result))
    for finding in findings(result):
        progress.print(f"- {finding}", highlight=False, soft_wrap=True)
    print(json.dumps(result, default=str), flush=True)
    return 0 if passed(result) else 1


if __name__ == "__main__":
    sys.exit(main())
