"""Three worker processes posting to the NetSuite emulator share its concurrency limit through the store.

The emulator counts what really arrives: ``peak_in_flight`` (never above the limit: it refuses the rest)
and ``rejected`` (the 429s of requests over the limit). Per-process budgets would let each of three
workers send five at once; shared ones keep the whole deployment at five and the emulator refuses none.
One worker is SIGKILLed while it holds slots: the others finish the postings and the slots come back.
The requests it left running at NetSuite still count there until they end, so right after the crash
at most that many requests may meet a 429 (the connector retries them); never more.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import psycopg
from temporalio.client import Client

import worker
from stack.connectors import Connectors
from stack.flows import start_posting
from stack.settings import Settings
from store.budgets import APPLICATION, libpq_url
from tests.budgets.workers import worker_process
from tests.flows.test_posting import approved, ledger_ids, netsuite_governance, seeded_day
from workflows.post_time_expenses import PostTimeExpensesResult

LIMIT = 5

HELD_BY = """
SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = %s
"""


async def slots_held_by(postgres_url: str, pid: int) -> int:
    """Advisory locks (concurrency slots) the budget connections of worker process `pid` hold now."""
    async with await psycopg.AsyncConnection.connect(libpq_url(postgres_url), autocommit=True) as connection:
        row = await (await connection.execute(HELD_BY, (f"{APPLICATION}:{pid}",))).fetchone()
    return int(row[0]) if row else 0


async def wait_until_holding(postgres_url: str, pid: int) -> None:
    """Return once worker process `pid` holds at least one concurrency slot (polls pg_locks)."""
    for _ in range(6000):
        if await slots_held_by(postgres_url, pid):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"worker {pid} never held a NetSuite slot")


async def test_three_workers_stay_within_netsuite_concurrency_and_a_killed_one_leaks_no_slot(
    temporal_client: Client, flow_settings: Settings, postgres_url: str
) -> None:
    settings = flow_settings.model_copy(update={"database_url": postgres_url})
    steady, crash = [seeded_day(n) for n in (20, 21, 22)], [seeded_day(n) for n in (24, 25)]
    connectors = Connectors.build(flow_settings)
    try:
        expected = {day: await approved(connectors, day) for day in steady + crash}
    finally:
        await connectors.aclose()
    env = {"PSFLOW_NETSUITE_MAX_CONCURRENCY": str(LIMIT)}
    before = await netsuite_governance(settings.sandbox_url)
    await netsuite_governance(settings.sandbox_url, limit=LIMIT, service_time_ms=100)
    try:
        async with (
            worker.running_workers(temporal_client, settings, queues=("flows", "crm", "psa", "hr", "events")),
            worker_process(settings, ["erp"], env=env) as victim,
            worker_process(settings, ["erp"], env=env) as second,
            worker_process(settings, ["erp"], env=env) as third,
        ):
            results = await asyncio.gather(*(post(temporal_client, settings, day) for day in steady))
            together = await netsuite_governance(settings.sandbox_url)
            # Setting the limit again restarts the emulator's counters for the crash.
            await netsuite_governance(settings.sandbox_url, limit=LIMIT, service_time_ms=100)
            posting = [asyncio.create_task(post(temporal_client, settings, day)) for day in crash]
            await wait_until_holding(postgres_url, victim.pid)
            orphans = await slots_held_by(postgres_url, victim.pid)
            await victim.kill()
            results += await asyncio.wait_for(asyncio.gather(*posting), timeout=120)
            after_crash = await netsuite_governance(settings.sandbox_url)
            assert await slots_held_by(postgres_url, victim.pid) == 0
            for survivor in (second, third):
                assert await survivor.stop() == 0, survivor.text()[-4000:]
    finally:
        await netsuite_governance(
            settings.sandbox_url, limit=before["concurrency_limit"], service_time_ms=before["service_time_ms"]
        )
    print(
        f"\nNetSuite limit {LIMIT}, 3 worker processes posting 3 days: peak in flight {together['peak_in_flight']},"
        f" rejected {together['rejected']}; one SIGKILLed holding {orphans} slot(s), 2 days more:"
        f" peak {after_crash['peak_in_flight']}, rejected {after_crash['rejected']}"
    )
    assert together["rejected"] == 0 and together["peak_in_flight"] == LIMIT, together
    # The killed worker's requests that NetSuite was still serving count against the account until they
    # end (the server does not stop on a client's disconnect), while their slots are free at once: at
    # most that many requests (the worker held at most LIMIT, `orphans` just before the kill) can meet a
    # 429, which the connector retries; never more.
    assert after_crash["rejected"] <= LIMIT and after_crash["peak_in_flight"] <= LIMIT, after_crash
    for day, result in zip(steady + crash, results, strict=True):
        assert result.failed == 0 and result.rejected == 0, result
        time_ids, expense_ids = expected[day]
        assert result.posted + result.already_posted == len(time_ids) + len(expense_ids), result
        assert ledger_ids(settings, day) == time_ids | expense_ids


async def post(client: Client, settings: Settings, day: date) -> PostTimeExpensesResult:
    handle = await start_posting(
        client, settings, day, page_size=5, pages_per_activity=1, heartbeat_timeout=timedelta(seconds=2)
    )
    return await asyncio.wait_for(handle.result(), timeout=120)
