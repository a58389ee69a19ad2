"""One chaos run: arrange, break things on a timetable, settle, count. Always within its deadline.

Timetable, as fractions of the fault window T (every offset is drawn from the run's seed):

- 0: faults on at every system;
- 0.02-0.5 T: the deals are won in ten batches; their CRMs notify the gateway;
- 0.1-0.5 T: each day's entries are approved and its posting started (``psflow posting run``);
- 0.3 T: the hostile webhooks; 0.35 T: the bad CLI inputs;
- just after the last posting starts: the month is invoiced (``psflow invoice run-month``), so it
  meets postings still running;
- worker SIGKILLs spread over 0.05-0.9 T; the Temporal server restart(s) at 0.5 T (and on);
- the polling fallback is triggered every ``poll_every_s``;
- optionally (``outage_seconds``), from 0.25 T NetSuite answers every request 503 for that long: the
  "system briefly unavailable" of finding 2;
- T: faults off. Then the polling fallback runs once more, and the run waits for every provisioning,
  posting and invoicing run to close (a second poll picks up runs that failed meanwhile). When the
  month's invoicing reported work it could not include yet, the run invoices the month again, as that
  report tells the operator to, and waits for it. Then it counts.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from bench._chaos_amend import (
    AmendedContract,
    add_amendments,
    arrange_amendments,
    count_amendments,
    send_malformed_amendments,
    wait_applied,
    win_amendments,
)
from bench._chaos_cli import cli_cases, run_bad_cli
from bench._chaos_count import count_deals, count_entries, count_invoices
from bench._chaos_faults import ProcessChaos, fault_config, faults_off, faults_on, outage
from bench._chaos_flows import (
    Deadline,
    cli,
    create_poll_schedule,
    invoicing_id,
    poll_once,
    poll_while,
    posting_ids,
    provisioning_ids,
    result_of,
    wait_closed,
)
from bench._chaos_report import Observed, build_report, field_of, sandbox_deliveries
from bench._chaos_webhooks import send_hostile_webhooks
from bench._chaos_world import Deal, Entry, approve, chaos_days, choose_deals, create_entries, win
from bench._stack import Stack, fresh_stack
from sandbox.seed import anchor_date
from stack.connectors import Connectors

Say = Callable[[str], None]


def counting_reserve(deadline_seconds: float) -> float:
    """Seconds of the deadline kept for counting and stopping the stack."""
    return max(20.0, min(90.0, deadline_seconds / 10))


@dataclass(frozen=True)
class ChaosOptions:
    """One run's shape."""

    seed: int = 1
    deals: int = 63
    entries: int = 229
    days: int = 3
    fault_rate: float = 0.2
    latency_ms: float = 20.0
    worker_kills: int = 3
    server_restarts: int = 1
    fault_seconds: float = 300.0
    poll_every_s: float = 60.0
    outage_seconds: float = 0.0
    """NetSuite answers every request 503 for this long (at most 0.7 T), from 0.25 T (0: no outage)."""
    cli_inputs: int = 25
    amended_contracts: int = 4
    """Salesforce deals whose contract gets two CPQ amendments, won during the faults (`bench._chaos_amend`)."""
    amended_hubspot: int = 1
    """HubSpot deals that get two change orders, signed during the faults."""
    deadline_seconds: float = 1800.0
    today: date | None = None
    """The day the run counts "last month" from (default: the sandbox's anchor, which is today unless
    ``PSFLOW_SANDBOX_TODAY`` pins it); invoices are dated that day."""


@dataclass
class Plan:
    """The timetable's actions, as (seconds after faults on, label, action)."""

    steps: list[tuple[float, str, Callable[[], Awaitable[None]]]]


class Run:
    """State of one run while it happens."""

    def __init__(self, options: ChaosOptions, stack: Stack, connectors: Connectors, say: Say) -> None:
        self.options = options
        self.stack = stack
        self.connectors = connectors
        self.rng = random.Random(options.seed)
        self.started = time.monotonic()
        self.deadline = Deadline(self.started + options.deadline_seconds)
        self.say_raw = say
        self.chaos = ProcessChaos(stack, self.say)
        self.problems: list[str] = []
        self.today = options.today or anchor_date()
        self.won: list[Deal] = []
        self.webhooks: list[Any] = []
        self.cli_outcomes: list[Any] = []
        self.cli_ok: dict[str, bool] = {}
        self.contracts: list[AmendedContract] = []
        self.malformed_amendments: list[Any] = []

    def say(self, message: str) -> None:
        self.say_raw(f"[{time.monotonic() - self.started:6.1f}s] {message}")

    async def guarded(self, label: str, action: Callable[[], Awaitable[None]]) -> None:
        try:
            await action()
        except Exception as exc:
            self.problems.append(f"{label}: {type(exc).__name__}: {exc}"[:300])
            self.say(f"{label} failed: {exc}")

    def plan(self, deals: list[Deal], restart_deal: Deal, entries: list[Entry], days: list[date], period: str) -> Plan:
        o, rng, t = self.options, self.rng, self.options.fault_seconds
        steps: list[tuple[float, str, Callable[[], Awaitable[None]]]] = []
        batches = min(10, len(deals))
        for index in range(batches):
            batch = deals[index::batches]
            steps.append((t * (0.02 + 0.48 * index / max(1, batches - 1)), f"win batch {index}", self._win(batch)))
        for index, day in enumerate(days):
            mine = [entry for entry in entries if entry.day == day]
            offset = t * (0.1 + 0.4 * index / max(1, len(days) - 1))
            steps.append((offset, f"post {day}", self._post(day, mine)))
        # Right after the last day's posting starts, so the invoicing meets postings still running.
        steps.append((offset + max(2.0, 0.05 * t), f"invoice {period}", self._invoice(period)))
        steps.append((0.3 * t, "hostile webhooks", self._webhooks))
        if o.cli_inputs:
            steps.append((0.35 * t, "bad CLI inputs", self._bad_cli(period)))
        if o.outage_seconds:
            steps.append((0.25 * t, "NetSuite outage", self._outage))
        if self.contracts:
            steps.append((0.55 * t, "amendments", self._amend))
        for index in range(o.worker_kills):
            offset = t * ((index + 0.5) / o.worker_kills * 0.85 + rng.uniform(-0.04, 0.04))
            steps.append((max(0.05 * t, offset), f"worker kill {index + 1}", self._kill))
        for index in range(o.server_restarts):
            deal = restart_deal if index == 0 else None
            steps.append((t * (0.5 + 0.4 * index / max(1, o.server_restarts)), "server restart", self._restart(deal)))
        return Plan(sorted(steps, key=lambda step: step[0]))

    def _win(self, batch: list[Deal]) -> Callable[[], Awaitable[None]]:
        async def go() -> None:
            gate = asyncio.Semaphore(8)

            async def one(deal: Deal) -> None:
                async with gate:
                    await win(self.connectors, deal)
                    self.won.append(deal)

            await asyncio.gather(*(one(deal) for deal in batch))
            self.say(f"won {len(batch)} deals ({len(self.won)} so far)")

        return go

    def _post(self, day: date, entries: list[Entry]) -> Callable[[], Awaitable[None]]:
        async def go() -> None:
            await approve(self.stack.settings.sandbox_url, entries)
            ok = await cli(self.stack.settings, ["posting", "run", "--date", day.isoformat()], self.say)
            self.cli_ok[f"posting {day}"] = ok
            self.say(f"approved {len(entries)} entries of {day} and started its posting" + ("" if ok else ": FAILED"))

        return go

    def invoice_args(self, period: str) -> list[str]:
        """``psflow invoice run-month`` for the period, dated the run's day."""
        return ["invoice", "run-month", "--period", period, "--issue-date", self.today.isoformat()]

    def _invoice(self, period: str) -> Callable[[], Awaitable[None]]:
        async def go() -> None:
            ok = await cli(
                self.stack.settings,
                ["invoice", "run-month", "--period", period, "--issue-date", self.today.isoformat()],
                self.say,
            )
            self.cli_ok[f"invoice {period}"] = ok
            self.say(f"started invoicing {period}" + ("" if ok else ": FAILED"))

        return go

    async def _webhooks(self) -> None:
        replay = [next((d for d in self.won if d.crm == crm), None) for crm in ("salesforce", "hubspot")]
        self.webhooks = await send_hostile_webhooks(self.stack.settings, self.rng, [d for d in replay if d])
        bad = [w for w in self.webhooks if w.server_error or w.wrongly_accepted]
        self.say(f"sent {len(self.webhooks)} hostile webhooks: {len(bad)} answered 5xx or wrongly accepted")

    async def _amend(self) -> None:
        settings, reserve = self.stack.settings, counting_reserve(self.options.deadline_seconds)
        self.malformed_amendments = await send_malformed_amendments(settings, self.connectors, self.contracts)
        bad = [w for w in self.malformed_amendments if w.server_error or w.wrongly_accepted]
        self.say(f"sent {len(self.malformed_amendments)} malformed amendment deliveries: {len(bad)} 5xx or accepted")
        until = Deadline(self.deadline.at - 2 * reserve)
        rng = random.Random(self.options.seed * 7919 + 1)  # its own stream: the order does not depend on other steps
        self.problems += await win_amendments(self.stack.client, settings, self.connectors, self.contracts, rng, until)
        orders = ", ".join(f"{c.deal.id}: v{'/v'.join(map(str, c.won_order))}" for c in self.contracts)
        self.say(f"won the amendments of {len(self.contracts)} contracts ({orders})")

    def _bad_cli(self, period: str) -> Callable[[], Awaitable[None]]:
        async def go() -> None:
            self.cli_outcomes = await run_bad_cli(self.stack.settings, cli_cases(period)[: self.options.cli_inputs])
            bad = sum(outcome.bad for outcome in self.cli_outcomes)
            self.say(f"ran {len(self.cli_outcomes)} bad CLI inputs: {bad} with a traceback, exit 0 or no exit")

        return go

    async def _outage(self) -> None:
        o = self.options
        self.say(f"NetSuite down: every request answered 503 for {o.outage_seconds:g}s")
        restore = fault_config(o.fault_rate, o.latency_ms, o.seed * 1000 + 99)
        seconds = min(o.outage_seconds, 0.7 * o.fault_seconds)  # over before the faults go off at T
        await outage(self.stack.settings.sandbox_url, "netsuite", seconds, restore)
        self.say("NetSuite back (with the run's usual faults)")

    async def _kill(self) -> None:
        await self.chaos.kill_worker(pause_s=self.rng.uniform(0.5, 3.0))

    def _restart(self, deal: Deal | None) -> Callable[[], Awaitable[None]]:
        async def go() -> None:
            await self.chaos.restart_server(self.connectors, deal, down_s=5.0)

        return go


async def _at(run: Run, offset: float, label: str, action: Callable[[], Awaitable[None]], t0: float) -> None:
    await asyncio.sleep(max(0.0, t0 + offset - time.monotonic()))
    await run.guarded(label, action)


async def _invoice_again_if_told(run: Run, period: str, settle: Deadline) -> int:
    """Run the month again when its invoicing said it left work out (as its message tells the operator).

    Returns how many projects that first run reported (0: it reported nothing, and nothing is re-run).
    """
    first = await result_of(run.stack.client, invoicing_id(period))
    left_out = len(field_of(first, "not_invoiced") or [])
    unknown = field_of(first, "not_invoiced_unknown")
    if not (left_out or unknown) or settle.passed():
        return 0
    run.say(
        f"the invoicing of {period} reported work it could not include yet "
        f"({left_out} projects{'; ' + str(unknown) if unknown else ''}): invoicing the month again, as it says"
    )
    try:
        run.cli_ok[f"invoice {period} again"] = await asyncio.wait_for(
            cli(
                run.stack.settings,
                ["invoice", "run-month", "--period", period, "--issue-date", run.today.isoformat()],
                run.say,
            ),
            settle.left(),
        )
    except TimeoutError:
        run.problems.append(f"the deadline passed while invoicing {period} again")
    return max(left_out, 1)


async def run_chaos(options: ChaosOptions, workdir: Path, say: Say) -> dict[str, Any]:
    """Start a fresh stack (with the gateway), run the timetable, settle, count; the report's data."""
    async with fresh_stack(workdir, say, gateway=True) as stack:
        connectors = Connectors.build(stack.settings)
        try:
            return await _run(Run(options, stack, connectors, say))
        finally:
            await connectors.aclose()


async def _run(run: Run) -> dict[str, Any]:
    o, stack, client = run.options, run.stack, run.stack.client
    days = chaos_days(run.today, o.days)
    period = f"{days[0]:%Y-%m}"
    deals, restart_deal = await choose_deals(run.connectors, o.deals, run.rng, uuid.uuid4().hex[:8], run.say)
    entries = await create_entries(stack.settings.sandbox_url, days, o.entries, run.rng)
    run.contracts = await arrange_amendments(
        stack.settings, run.connectors, deals, o.amended_contracts, run.today, o.amended_hubspot
    )
    run.say(f"{len(deals)} deals to win, {len(entries)} entries on {', '.join(map(str, days))}, invoicing {period}")
    sid = await create_poll_schedule(client, stack.settings)
    plan = run.plan(deals, restart_deal, entries, days, period)
    stop_polling, stop_watching = asyncio.Event(), asyncio.Event()
    systems = await faults_on(stack.settings.sandbox_url, o.fault_rate, o.latency_ms, o.seed)
    run.say(f"faults on at {', '.join(systems)}: {o.fault_rate:.0%} of requests, {o.latency_ms:g} ms each")
    t0 = time.monotonic()
    reserve = counting_reserve(o.deadline_seconds)
    polling = asyncio.create_task(poll_while(client, sid, o.poll_every_s, stop_polling))
    watching = asyncio.create_task(run.chaos.watch_worker(stop_watching))
    fault_window = min(o.fault_seconds, max(0.0, run.deadline.left() - reserve))
    injected: dict[str, Any] = {}
    try:
        async with asyncio.timeout(max(1.0, run.deadline.left() - reserve)):
            await asyncio.gather(
                *(_at(run, offset, label, action, t0) for offset, label, action in plan.steps if offset < fault_window),
                asyncio.sleep(fault_window),
            )
    except TimeoutError:
        run.problems.append("the deadline passed during the fault window")
    finally:
        injected = await faults_off(stack.settings.sandbox_url)
        run.say("faults off")
    settle_started = time.monotonic()
    settle = Deadline(run.deadline.at - reserve)
    await poll_once(client, sid, settle, run.say)
    all_deals = [*deals, restart_deal] if run.chaos.restart_probe else deals
    runs = await wait_closed(client, provisioning_ids(all_deals), "provisioning runs", settle, run.say)
    if any(status in ("FAILED", "TIMED_OUT", "MISSING") for status in runs.values()):
        await poll_once(client, sid, settle, run.say)
        runs = await wait_closed(client, list(runs), "provisioning runs", settle, run.say)
    postings = await wait_closed(client, posting_ids(stack.settings, days), "postings", settle, run.say)
    invoicing = await wait_closed(client, [invoicing_id(period)], "invoicing", settle, run.say)
    reported_left_out = await _invoice_again_if_told(run, period, settle)
    if reported_left_out:
        invoicing = await wait_closed(client, [invoicing_id(period)], "invoicing", settle, run.say)
    await wait_applied(client, run.contracts, settle, run.say)
    stop_polling.set()
    stop_watching.set()
    triggers = await polling
    await watching
    settle_s = time.monotonic() - settle_started
    run.say("counting from the target systems")
    netsuite = run.connectors.netsuite
    deal_counts = await count_deals(stack.settings.sandbox_url, netsuite, all_deals)
    entry_counts, bills, reports = await count_entries(netsuite, entries)
    invoice_counts = await count_invoices(netsuite, period, bills, reports)
    reported = {deal.key: await result_of(client, deal.workflow_id) for deal in all_deals}
    posting_results = {wid: await result_of(client, wid) for wid in postings}
    posting_results[invoicing_id(period)] = await result_of(client, invoicing_id(period))
    observed = Observed(
        runs=runs, postings=postings, invoicing=invoicing, reported=reported, results=posting_results,
        injected=injected, poll_triggers=triggers, settle_s=settle_s, left_out=reported_left_out,
        deliveries=await sandbox_deliveries(stack.settings.sandbox_url),
    )  # fmt: skip
    amendments = await count_amendments(
        client, stack.settings.sandbox_url, run.connectors, run.contracts, run.malformed_amendments
    )
    result = build_report(run, days, period, deal_counts, entry_counts, invoice_counts, observed)
    return add_amendments(result, amendments, run.malformed_amendments)
