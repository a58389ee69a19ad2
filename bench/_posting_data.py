"""What the posting benchmark needs beyond the provisioning bench's stack: bulk entries, RSS, a raw poster.

Seeding: tens of thousands of entries through the Kantata admin API would take longer than the
run, so `seed_entries` writes them straight into the sandbox's SQLite file BEFORE the sandbox
process starts: the demo firm first (as ``--seed demo`` would, which then finds the file
non-empty and leaves it alone), then approved time entries shaped exactly as the emulator's own
seed stores them (``sandbox.systems.kantata._seed``) and approved through its own submission
helper. Each copies a billable, priced demo entry's project, task, consultant, role and rate,
with its own notes so the duplicate rule never matches.

The raw baseline (`post_raw`) PUTs the same time bill bodies the connector builds
(``connectors.netsuite.mapping.time_bill_body``) to ``record/v1/timeBill/eid:<id>`` with a plain
``httpx.AsyncClient`` signed like the connector (TBA), at the same concurrency: no ledger, no
lookups per call, no Temporal.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import psutil

from canonical import TimeEntry
from connectors.netsuite import NetSuiteConnector, mapping
from connectors.netsuite.client import _auth
from sandbox._db import SandboxDB
from sandbox.app import create_app
from sandbox.systems.kantata._approvals import DATE_FIELDS, EXPENSES, TIME, submit
from sandbox.systems.kantata._store import NAME

Progress = Callable[[int], None]


class SeedError(Exception):
    """The sandbox file could not be given the benchmark's entries; the message says why."""


def quiet_dates(today: date) -> tuple[date, date]:
    """The last Saturday and Sunday before ``today``: the demo firm logs business days only."""
    saturday = today - timedelta(days=(today.weekday() - 5) % 7 or 7)
    return saturday, saturday + timedelta(days=1)


def _templates(db: SandboxDB) -> list[dict[str, Any]]:
    """Billable, priced, approved demo entries: their project, task, consultant, role and rate."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in db.query(NAME, TIME, where={"approved": True, "billable": True}):
        if entry.get("rate_in_cents", 0) > 0 and entry.get("story_id") is not None:
            key = (str(entry["workspace_id"]), str(entry["user_id"]))
            seen.setdefault(key, entry)
    return [seen[key] for key in sorted(seen)]


def seed_entries(db_path: Path, days: Sequence[date], count: int, *, today: date | None = None) -> None:
    """Write the demo firm and ``count`` approved time entries on each of ``days`` into a new sandbox file.

    Raises:
        SeedError: The file exists already, or a day already has demo time or expenses.
    """
    if db_path.exists():
        raise SeedError(f"{db_path} exists: the benchmark seeds a new sandbox file")
    create_app(db_path, seed="demo", today=today).state.db.close()
    db = SandboxDB(db_path)
    try:
        for day in days:
            for kind in (TIME, EXPENSES):
                found = db.count(NAME, kind, where={DATE_FIELDS[kind]: day.isoformat()})
                if found:
                    raise SeedError(f"the demo firm already has {found} {kind} on {day}: pick other dates")
        templates = _templates(db)
        if not templates:
            raise SeedError("the demo firm has no billable, priced, approved time entry to copy")
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        with db.transaction():
            for day in days:
                created = []
                for number in range(count):
                    template = templates[number % len(templates)]
                    record = {
                        "workspace_id": template["workspace_id"],
                        "story_id": template["story_id"],
                        "user_id": template["user_id"],
                        "role_id": template["role_id"],
                        "date_performed": day.isoformat(),
                        "time_in_minutes": 30 * (1 + number % 16),
                        "billable": True,
                        "rate_in_cents": template["rate_in_cents"],
                        "currency": template["currency"],
                        "notes": f"Benchmark entry {day.isoformat()} #{number}",
                        "approved": False,
                        "is_invoiced": False,
                        "created_at": stamp,
                        "updated_at": stamp,
                    }
                    created.append(db.insert(NAME, TIME, record))
                submit(db, TIME, created, "approved")
    finally:
        db.close()


class RssSampler:
    """Peak resident set size of a process and its children, sampled every ``interval_s`` in a thread.

    The process's own peak is the kernel's high-water mark (``VmHWM`` in ``/proc/<pid>/status``, where
    there is one), exact whatever the interval; its children's current RSS is added at each sample.
    Finding the children reads every process's ``/proc`` entry (~4 ms of CPU on a busy machine), so
    a sample a second, not four: the sampler must not take the CPU the phase it measures runs on.
    """

    def __init__(self, pid: int, interval_s: float = 1.0) -> None:
        self._pid = pid
        self._interval_s = interval_s
        self.peak_bytes = 0
        self._task: asyncio.Task[None] | None = None

    def _sample(self) -> None:
        try:
            process = psutil.Process(self._pid)
            total = _high_water_mark(self._pid) or process.memory_info().rss
            for child in process.children(recursive=True):
                total += child.memory_info().rss
        except psutil.Error:
            return
        self.peak_bytes = max(self.peak_bytes, total)

    async def _run(self) -> None:
        while True:
            await asyncio.to_thread(self._sample)
            await asyncio.sleep(self._interval_s)

    def start(self) -> None:
        """Begin sampling (from the running event loop)."""
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> float:
        """Stop sampling; returns the peak in MB."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await asyncio.to_thread(self._sample)
        return round(self.peak_bytes / 2**20, 1)


def _high_water_mark(pid: int) -> int | None:
    """The process's peak RSS in bytes as the kernel counts it (Linux), or None where it is not readable."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # kB
    except (OSError, ValueError, IndexError):
        return None
    return None


async def raw_bodies(netsuite: NetSuiteConnector, entries: Sequence[TimeEntry]) -> list[tuple[str, dict[str, Any]]]:
    """The time bill body the connector would send for each entry, its job and employee looked up once each."""
    jobs: dict[str, str] = {}
    employees: dict[str, str] = {}
    for project in sorted({e.project_id for e in entries}):
        page = await netsuite.suiteql_page(f"SELECT id FROM job WHERE externalid = '{project}'", page_size=1)
        jobs[project] = str(page.items[0]["id"])
    for consultant in sorted({e.consultant_id for e in entries}):
        page = await netsuite.suiteql_page(f"SELECT id FROM employee WHERE email = '{consultant}'", page_size=1)
        employees[consultant] = str(page.items[0]["id"])
    bodies = []
    for entry in entries:
        if entry.bill_rate is None:
            raise SeedError(f"{entry.id} has no rate: the seeded entries all carry one")
        body = mapping.time_bill_body(
            entry,
            job_internal_id=jobs[entry.project_id],
            employee_internal_id=employees[entry.consultant_id],
            rate=entry.bill_rate.amount,
        )
        bodies.append((entry.id, body))
    return bodies


async def post_raw(
    netsuite: NetSuiteConnector, bodies: Sequence[tuple[str, dict[str, Any]]], concurrency: int, done: Progress
) -> tuple[float, int]:
    """PUT every body with ``concurrency`` requests in flight; returns (seconds, records the emulator accepted)."""
    _, transport = _auth(netsuite.settings, httpx.AsyncHTTPTransport())
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    queue = list(reversed(bodies))
    accepted = 0
    async with httpx.AsyncClient(
        base_url=netsuite.settings.rest_root, transport=transport, limits=limits, timeout=60
    ) as client:

        async def lane() -> None:
            nonlocal accepted
            while queue:
                external_id, body = queue.pop()
                response = await client.put("/record/v1/timeBill/eid:" + quote(external_id, safe=":"), json=body)
                if response.status_code >= 400:
                    raise SeedError(f"the raw PUT of {external_id} answered {response.status_code}: {response.text}")
                accepted += 1
                done(1)

        started = time.perf_counter()
        await asyncio.gather(*(lane() for _ in range(concurrency)))
        return time.perf_counter() - started, accepted
