"""Per-account governance: the concurrency limit, and the TBA nonces already seen.

NetSuite limits how many requests an account may have in flight at once (5 on the base
service tier), shared by every integration. The limit is enforced by `GatedRoute`, which wraps
each record and query route: a request that finds the account full is refused with 429
``CONCURRENCY_LIMIT_EXCEEDED`` at once, and its slot is released before the response goes out,
so a client that waits for an answer before sending the next request never overruns the limit.

``service_time_ms`` (admin-settable, default 0) holds every request that long inside its slot,
standing in for the hundreds of milliseconds a real NetSuite write takes; with it, a burst of
concurrent requests really overlaps, in process or over a socket.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute

from sandbox._db import SandboxDB
from sandbox._framework import SandboxHTTPError, get_db
from sandbox.systems.netsuite._errors import CONCURRENCY_LIMIT_EXCEEDED
from sandbox.systems.netsuite._types import NAME

DEFAULT_CONCURRENCY_LIMIT = 5
_SETTINGS_KEY = "governance"


@dataclass
class Account:
    """Governance state of the one emulated account (per sandbox app).

    Attributes:
        limit: Concurrent requests allowed.
        service_time_ms: Time each request holds its slot before it is handled.
        in_flight: Requests holding a slot now.
        peak_in_flight: Most requests ever in flight at once (reset when the limit is set).
        rejected: Requests refused with 429 (reset when the limit is set).
        nonces: TBA nonces seen, by (consumer key, token id, nonce), with their timestamps.
    """

    limit: int = DEFAULT_CONCURRENCY_LIMIT
    service_time_ms: float = 0.0
    in_flight: int = 0
    peak_in_flight: int = 0
    rejected: int = 0
    nonces: dict[tuple[str, str, str], int] = field(default_factory=dict)

    def remember_nonce(self, nonce: tuple[str, str, str], timestamp: int, *, now: float, window_s: float) -> bool:
        """Note a TBA nonce; False when it was seen before (a replay).

        Nonces older than the timestamp window can never be replayed successfully, so they are
        forgotten, oldest first (the dict keeps arrival order): each call does O(1) work on average
        however many requests the account has served.
        """
        while self.nonces:
            oldest = next(iter(self.nonces))
            if now - self.nonces[oldest] <= window_s:
                break
            del self.nonces[oldest]
        if nonce in self.nonces:
            return False
        self.nonces[nonce] = timestamp
        return True

    def configure(self, db: SandboxDB, *, limit: int, service_time_ms: float) -> None:
        """Set the limit and service time (kept across restarts) and restart the counters."""
        db.kv_set(NAME, _SETTINGS_KEY, {"limit": limit, "service_time_ms": service_time_ms})
        self.limit, self.service_time_ms = limit, service_time_ms
        self.peak_in_flight = self.rejected = 0

    def snapshot(self) -> dict[str, Any]:
        """What the admin state endpoint reports."""
        return {
            "concurrency_limit": self.limit,
            "service_time_ms": self.service_time_ms,
            "in_flight": self.in_flight,
            "peak_in_flight": self.peak_in_flight,
            "rejected": self.rejected,
        }


async def _database(request: Request) -> SandboxDB:
    # An async dependency: the framework's sync ``get_db`` would cost a thread hop per request.
    return get_db(request)


AccountDB = Annotated[SandboxDB, Depends(_database)]
"""The sandbox DB, as a route dependency."""

_accounts: weakref.WeakKeyDictionary[SandboxDB, Account] = weakref.WeakKeyDictionary()


def account(db: SandboxDB) -> Account:
    """The account state of the app that owns ``db``."""
    state = _accounts.get(db)
    if state is None:
        saved = db.kv_get(NAME, _SETTINGS_KEY) or {}
        state = _accounts[db] = Account(
            limit=saved.get("limit", DEFAULT_CONCURRENCY_LIMIT), service_time_ms=saved.get("service_time_ms", 0.0)
        )
    return state


class GatedRoute(APIRoute):
    """A route that counts against the account's concurrency limit."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap the handler: take a slot or answer 429, hold it until the response is built."""
        handler = super().get_route_handler()

        async def gated(request: Request) -> Response:
            state = account(get_db(request))
            if state.in_flight >= state.limit:
                state.rejected += 1
                raise SandboxHTTPError(
                    429,
                    CONCURRENCY_LIMIT_EXCEEDED,
                    f"Concurrent request limit exceeded: this account allows {state.limit} requests at a time. "
                    "Request blocked; send it again when a running request has finished.",
                )
            state.in_flight += 1
            state.peak_in_flight = max(state.peak_in_flight, state.in_flight)
            try:
                if state.service_time_ms:
                    await asyncio.sleep(state.service_time_ms / 1000)
                return await handler(request)
            finally:
                state.in_flight -= 1

        return gated
