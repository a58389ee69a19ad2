"""The store-backed budgets on a real PostgreSQL: several sessions (as several workers would be) share one limit.

Each `PostgresBudgets` opens its own connections, so three of them in one test are three workers as far as
PostgreSQL can tell; a separate process stands for the worker that is SIGKILLed.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stack.connectors import budget_backend
from stack.settings import Settings
from store.budgets import PostgresBudgets

HOLDER = """
import asyncio, sys
from contextlib import AsyncExitStack
from store.budgets import PostgresBudgets

async def main():
    budgets = PostgresBudgets(sys.argv[1], scope=sys.argv[2])
    async with AsyncExitStack() as held:
        for _ in range(int(sys.argv[3])):
            await held.enter_async_context(budgets.concurrency("netsuite", int(sys.argv[3])))
        print("held", flush=True)
        await asyncio.sleep(3600)

asyncio.run(main())
"""


async def test_three_sessions_never_exceed_the_concurrency_limit(postgres_url: str) -> None:
    backends = [PostgresBudgets(postgres_url, scope="test") for _ in range(3)]
    in_flight = peak = 0

    async def request(backend: PostgresBudgets) -> None:
        nonlocal in_flight, peak
        async with backend.concurrency("netsuite", 3):
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.02)
            in_flight -= 1

    try:
        await asyncio.gather(*(request(backend) for backend in backends for _ in range(10)))
    finally:
        await asyncio.gather(*(backend.aclose() for backend in backends))
    print(f"\npeak in flight across 3 sessions, limit 3: {peak}")
    assert peak == 3


async def test_another_scope_has_slots_of_its_own(postgres_url: str) -> None:
    one, other = PostgresBudgets(postgres_url, scope="one"), PostgresBudgets(postgres_url, scope="other")
    try:
        async with one.concurrency("netsuite", 1):
            await asyncio.wait_for(_enter_and_leave(other, 1), timeout=5)
    finally:
        await one.aclose()
        await other.aclose()


async def test_a_killed_holder_leaks_no_slot(postgres_url: str) -> None:
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLDER, postgres_url, "test", "2", stdout=subprocess.PIPE
    )
    survivor = PostgresBudgets(postgres_url, scope="test")
    try:
        assert holder.stdout is not None
        assert await asyncio.wait_for(holder.stdout.readline(), timeout=30) == b"held\n"
        # Both slots are the holder's: nobody else gets one.
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(_enter_and_leave(survivor, 2), timeout=0.5)
        holder.kill()
        await holder.wait()
        killed = time.monotonic()
        # The dead session's locks are gone with it: both slots are free again, at once.
        async with survivor.concurrency("netsuite", 2), survivor.concurrency("netsuite", 2):
            back_after = time.monotonic() - killed
    finally:
        if holder.returncode is None:
            holder.kill()
            await holder.wait()
        await survivor.aclose()
    print(f"\nslots of the SIGKILLed holder back after {back_after * 1000:.0f} ms")


async def test_a_rolling_window_holds_across_sessions(postgres_url: str) -> None:
    backends = [PostgresBudgets(postgres_url, scope="test") for _ in range(3)]
    try:
        starts = await asyncio.gather(*(backend.start("hubspot", 4, 0.5) for backend in backends for _ in range(6)))
    finally:
        await asyncio.gather(*(backend.aclose() for backend in backends))
    starts.sort()
    # No half second holds five starts: every fifth start is at least a window after the first of them.
    spans = [later - first for first, later in zip(starts, starts[4:], strict=False)]
    print(f"\n18 starts, 4 per 0.5 s: shortest span of 5 consecutive starts {min(spans):.3f} s")
    assert min(spans) >= 0.5


async def test_a_daily_allocation_is_spent_across_sessions(postgres_url: str) -> None:
    backends = [PostgresBudgets(postgres_url, scope="test") for _ in range(3)]
    try:
        for backend in backends[:2]:
            for _ in range(3):
                await backend.start("salesforce", 7, 86400)
        await backends[2].start("salesforce", 7, 86400)
        # Seven of seven spent: the eighth waits for the oldest start to be a day old, whoever asks.
        for backend in backends:
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(backend.start("salesforce", 7, 86400), timeout=0.3)
    finally:
        await asyncio.gather(*(backend.aclose() for backend in backends))


def test_the_backend_follows_the_store(postgres_url: str, tmp_path: Path) -> None:
    sqlite = Settings(data_dir=tmp_path)
    assert budget_backend(sqlite) is None
    assert budget_backend(Settings(database_url=postgres_url, budget_backend="process")) is None
    shared = budget_backend(Settings(database_url=postgres_url, task_queue_prefix="t1-"))
    assert isinstance(shared, PostgresBudgets) and shared.scope == "default/t1-"
    with pytest.raises(ValueError, match="needs a PostgreSQL store"):
        budget_backend(Settings(data_dir=tmp_path, budget_backend="postgres"))


async def _enter_and_leave(backend: PostgresBudgets, limit: int) -> None:
    async with backend.concurrency("netsuite", limit):
        pass
