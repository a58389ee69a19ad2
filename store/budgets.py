"""Request budgets every worker of a deployment shares, kept in the PostgreSQL store.

- **Concurrency** (NetSuite's concurrent-request limit): slot ``i`` of a system is the
  session-level advisory lock ``(key, i)``; a request takes the first free one
  (``psflow_budget_try_slot``, migration 0009) and holds it on a connection of its own for the
  whole exchange. PostgreSQL drops a session's advisory locks when the session ends, so a
  worker that crashes or is SIGKILLed leaks no slot: its connections close and the slots are
  free again. Releasing one notifies the waiters (``NOTIFY``); they also retry on a short timer,
  which covers slots freed by a dead session (no notification then).
- **Rolling windows** (HubSpot's requests per 10 s, Salesforce's daily allocation): ``count``
  rows per budget in ``budget_start`` (migration 0009), each holding the start time of the last
  request that used it. A request may start only by taking a row whose start is a window old,
  so no `seconds`-long span ever holds more than ``count`` starts (two starts in one row are a
  window apart). Taking a row is one ``UPDATE … FOR UPDATE SKIP LOCKED`` under autocommit: nothing
  is held between requests, so a crash leaks nothing. Time is the database's clock, the same for
  every worker.

One `PostgresBudgets` per process, used from one event loop (the worker's). The budgets of one
deployment are told apart from another's on the same database by `scope` (the worker uses its
namespace and task queue prefix).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg

__all__ = ["PostgresBudgets", "libpq_url"]

log = logging.getLogger(__name__)

_Connection = psycopg.AsyncConnection[Any]

APPLICATION = "psflow-budget"
"""The budget connections' ``application_name`` is ``psflow-budget:<pid>``: pg_stat_activity shows who holds what."""

CHANNEL = "psflow_budget"
"""The ``NOTIFY`` channel a released concurrency slot is announced on (payload: the lock key)."""

_TRY_LOCK = "SELECT psflow_budget_try_slot(%s, %s)"
_UNLOCK = "SELECT pg_advisory_unlock(%s, %s), pg_notify(%s, %s)"
_TAKE_START = """
UPDATE budget_start SET started_at = extract(epoch FROM clock_timestamp())
WHERE (budget, slot) = (
    SELECT budget, slot FROM budget_start
    WHERE budget = %(budget)s AND started_at <= extract(epoch FROM clock_timestamp()) - %(seconds)s
    ORDER BY started_at LIMIT 1 FOR UPDATE SKIP LOCKED
)
RETURNING started_at
"""
_NEXT_START = (
    "SELECT min(started_at) + %(seconds)s - extract(epoch FROM clock_timestamp()) FROM budget_start"
    " WHERE budget = %(budget)s"
)
_ENSURE_ROWS = """
INSERT INTO budget_start (budget, slot, started_at)
SELECT %(budget)s, s, 0 FROM generate_series(0, %(count)s - 1) AS s
ON CONFLICT (budget, slot) DO NOTHING
"""
_DROP_EXTRA_ROWS = "DELETE FROM budget_start WHERE budget = %(budget)s AND slot >= %(count)s"


def libpq_url(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL (``postgresql+psycopg://…``) as libpq takes it."""
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme.startswith(("postgresql", "postgres")):
        raise ValueError(f"not a PostgreSQL URL: {scheme}://…")
    return f"postgresql://{rest}"


def lock_key(scope: str, system: str) -> int:
    """The first (int4) half of a system's advisory lock keys: stable across processes and versions."""
    digest = hashlib.blake2b(f"psflow-budget/{scope}/{system}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


class PostgresBudgets:
    """A `connectors._core.BudgetBackend` in PostgreSQL, shared by every worker of one deployment.

    Args:
        url: The store's PostgreSQL URL (migrated: `budget_start` must exist).
        scope: Names the deployment; budgets of different scopes never meet.
        poll_s: The longest a waiter for a concurrency slot sleeps between attempts when no release
            is announced (a slot freed by a dead session is found this way).
        max_window_connections: Connections this process uses at once for window starts.
    """

    def __init__(self, url: str, *, scope: str, poll_s: float = 0.05, max_window_connections: int = 4) -> None:
        self._url = libpq_url(url)
        self.scope = scope
        self._poll_s = poll_s
        self._idle: list[_Connection] = []
        self._window_gate = asyncio.Semaphore(max_window_connections)
        self._released: dict[str, asyncio.Event] = {}
        self._listener: asyncio.Task[None] | None = None
        self._ensured: dict[str, int] = {}
        self._closed = False

    @asynccontextmanager
    async def concurrency(self, system: str, limit: int) -> AsyncIterator[None]:
        """Hold one of `system`'s `limit` slots, deployment-wide, for the ``async with`` block."""
        key = lock_key(self.scope, system)
        await self._listen()
        connection = await self._connection()
        try:
            slot = await self._lock(connection, key, limit)
        except BaseException:
            # A cancelled attempt may have taken the lock after all: closing the session drops it.
            await self._discard(connection)
            raise
        try:
            yield
        finally:
            try:
                await connection.execute(_UNLOCK, (key, slot, CHANNEL, str(key)))
            except BaseException:
                await self._discard(connection)
                raise
            self._idle.append(connection)

    async def start(self, system: str, count: int, seconds: float) -> float:
        """Wait until a request of `system` may start within its rolling window; the start recorded (epoch s)."""
        budget = f"{self.scope}/{system}"
        params = {"budget": budget, "seconds": seconds, "count": count}
        async with self._window_gate:
            connection = await self._connection()
            try:
                if self._ensured.get(budget) != count:
                    await connection.execute(_ENSURE_ROWS, params)
                    await connection.execute(_DROP_EXTRA_ROWS, params)
                    self._ensured[budget] = count
                while True:
                    taken = await (await connection.execute(_TAKE_START, params)).fetchone()
                    if taken is not None:
                        started_at = float(taken[0])
                        break
                    row = await (await connection.execute(_NEXT_START, params)).fetchone()
                    wait_s = float(row[0]) if row and row[0] is not None else 0.0
                    # <= 0: the old enough rows are being taken by others right now; try again soon.
                    await asyncio.sleep(max(wait_s, 0.001))
            except BaseException:
                await self._discard(connection)
                raise
            self._idle.append(connection)
            return started_at

    async def aclose(self) -> None:
        """Close every connection (held slots are released with them)."""
        self._closed = True
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
        while self._idle:
            await self._idle.pop().close()

    async def _lock(self, connection: _Connection, key: int, limit: int) -> int:
        delay = 0.002
        while True:
            released = self._released.setdefault(str(key), asyncio.Event())
            row = await (await connection.execute(_TRY_LOCK, (key, limit))).fetchone()
            if row is not None and row[0] >= 0:
                return int(row[0])
            try:
                # Jitter spreads the retries of the waiters a timer (not a notification) wakes.
                await asyncio.wait_for(released.wait(), timeout=delay * random.uniform(0.5, 1.5))
            except TimeoutError:
                delay = min(delay * 2, self._poll_s)

    async def _listen(self) -> None:
        if self._listener is None or self._listener.done():
            connection = await self._connect()
            await connection.execute(f"LISTEN {CHANNEL}")
            self._listener = asyncio.create_task(self._wake_on_release(connection))

    async def _wake_on_release(self, connection: _Connection) -> None:
        try:
            async for notice in connection.notifies():
                released = self._released.pop(notice.payload, None)
                if released is not None:
                    released.set()
        except psycopg.Error as exc:
            if not self._closed:
                log.warning("budget release notifications stopped (%s); waiters poll until a new listener", exc)
        finally:
            await connection.close()

    async def _connection(self) -> _Connection:
        while self._idle:
            connection = self._idle.pop()
            if not connection.closed:
                return connection
        return await self._connect()

    async def _connect(self) -> _Connection:
        return await psycopg.AsyncConnection.connect(
            self._url, autocommit=True, application_name=f"{APPLICATION}:{os.getpid()}"
        )

    async def _discard(self, connection: _Connection) -> None:
        try:
            await asyncio.shield(connection.close())
        except BaseException:  # the session goes away either way; the caller re-raises its own error
            log.debug("closing a budget connection failed", exc_info=True)
