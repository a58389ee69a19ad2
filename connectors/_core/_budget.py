"""Per-system request budgets shared by every flow in a worker process.

A SaaS limit belongs to the tenant, not to a workflow: NetSuite caps concurrent requests per
account, HubSpot counts requests per rolling 10 seconds, Salesforce per day. One `RateBudget`
per system per process (`RateBudget.shared`) makes all flows draw from the same allowance.

The budget works on any event loop and across threads: rate and window decisions are
reservations computed under a thread lock, and the concurrency limit is a semaphore whose
waiters are futures on their own loops.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, ClassVar

import httpx

from connectors._core import _observe
from connectors._core._classify import parse_retry_after
from connectors._core._errors import RateLimitedError
from connectors._core._retry import THROTTLE_STATUSES

__all__ = ["BudgetTransport", "RateBudget"]

logger = logging.getLogger(__name__)


class _Slots:
    """A counting semaphore usable from several event loops at once."""

    def __init__(self, value: int) -> None:
        self._value = value
        self._lock = threading.Lock()
        self._waiters: deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = deque()

    async def acquire(self) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._value > 0 and not self._waiters:
                self._value -= 1
                return
            future: asyncio.Future[None] = loop.create_future()
            self._waiters.append((loop, future))
        try:
            await future
        except asyncio.CancelledError:
            with self._lock:
                queued = (loop, future) in self._waiters
                if queued:
                    self._waiters.remove((loop, future))
            if not queued and future.done() and not future.cancelled():
                # The permit was handed over just before the cancellation landed: give it back.
                self.release()
            raise

    def release(self) -> None:
        with self._lock:
            while self._waiters:
                loop, future = self._waiters.popleft()
                if loop.is_closed():
                    continue
                # Hand the permit straight to the waiter so a newcomer cannot overtake it.
                loop.call_soon_threadsafe(self._grant, future)
                return
            self._value += 1

    def _grant(self, future: asyncio.Future[None]) -> None:
        if future.cancelled():
            self.release()
        else:
            future.set_result(None)


class RateBudget:
    """Rate, concurrency and window limits for one system.

    Args:
        system: The system label.
        requests_per_second: Sustained request rate (token bucket); `None` for no rate limit.
        burst: Requests allowed back to back before the rate applies (default 1: evenly spaced).
        max_concurrency: Requests in flight at once; `None` for no limit.
        window: ``(count, seconds)``: at most `count` requests start in any `seconds`-long span
            (a rolling window, so it also holds for fixed windows such as HubSpot's 100 per 10 s).
        max_penalty_wait_s: A caller that would wait longer than this for a server-imposed
            pause (`penalise`) gets a `RateLimitedError` with the remaining delay instead, so an
            activity fails fast and Temporal schedules the retry rather than a worker sleeping.
    """

    _registry: ClassVar[dict[str, RateBudget]] = {}
    factory: ClassVar[Callable[..., RateBudget] | None] = None
    """What `shared` builds new budgets with (`connectors._core._shared_budget.share_budgets` sets it)."""
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        system: str,
        *,
        requests_per_second: float | None = None,
        burst: int | None = None,
        max_concurrency: int | None = None,
        window: tuple[int, float] | None = None,
        max_penalty_wait_s: float = 2.0,
    ) -> None:
        if requests_per_second is not None and requests_per_second <= 0:
            raise ValueError(f"{system}: requests_per_second must be positive, got {requests_per_second}")
        if burst is not None and burst < 1:
            raise ValueError(f"{system}: burst must be at least 1, got {burst}")
        if max_concurrency is not None and max_concurrency < 1:
            raise ValueError(f"{system}: max_concurrency must be at least 1, got {max_concurrency}")
        if window is not None and (window[0] < 1 or window[1] <= 0):
            raise ValueError(f"{system}: window must be (count >= 1, seconds > 0), got {window}")
        self.system = system
        self.limits: dict[str, Any] = {
            "requests_per_second": requests_per_second,
            "burst": burst,
            "max_concurrency": max_concurrency,
            "window": window,
        }
        self._interval = 1.0 / requests_per_second if requests_per_second else None
        self._tolerance = ((burst or 1) - 1) * (self._interval or 0.0)
        self._window_s = window[1] if window else 0.0
        self._window_starts: deque[float] | None = deque(maxlen=window[0]) if window else None
        self._actual_starts: deque[float] = deque(maxlen=window[0] if window else 1)
        self._slots = _Slots(max_concurrency) if max_concurrency else None
        self._max_penalty_wait_s = max_penalty_wait_s
        self._lock = threading.Lock()
        self._theoretical_arrival = float("-inf")
        self._last_start = float("-inf")
        self._penalty_until = float("-inf")
        self._in_flight = 0
        self._peak_in_flight = 0
        self._total_requests = 0
        self._total_wait_s = 0.0

    @classmethod
    def shared(cls, system: str, **limits: Any) -> RateBudget:
        """The process-wide budget for `system`, created with `limits` on first use.

        Later calls return the same instance; limits that differ from the first call's are
        logged and ignored, since one system has one allowance.
        """
        with cls._registry_lock:
            budget = cls._registry.get(system)
            if budget is None:
                budget = cls._registry[system] = (cls.factory or cls)(system, **limits)
            elif limits and any(budget.limits.get(key) != value for key, value in limits.items()):
                logger.warning("%s: rate budget already exists with %s; ignoring %s", system, budget.limits, limits)
            return budget

    @classmethod
    def reset_registry(cls) -> None:
        """Forget every shared budget (for tests)."""
        with cls._registry_lock:
            cls._registry.clear()

    @property
    def in_flight(self) -> int:
        """Requests holding a slot now."""
        return self._in_flight

    @property
    def peak_in_flight(self) -> int:
        """Most requests ever holding a slot at once."""
        return self._peak_in_flight

    @property
    def total_requests(self) -> int:
        """Slots granted so far."""
        return self._total_requests

    @property
    def total_wait_s(self) -> float:
        """Seconds callers spent waiting for slots, summed."""
        return self._total_wait_s

    def penalise(self, delay_s: float) -> None:
        """Hold back every caller for `delay_s` seconds, e.g. after a 429 with ``Retry-After``."""
        with self._lock:
            self._penalty_until = max(self._penalty_until, time.monotonic() + max(0.0, delay_s))
        logger.info("%s: server asked to slow down; pausing new requests for %.3fs", self.system, delay_s)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Wait for the budget to allow one request and hold it until the block exits.

        Raises:
            RateLimitedError: When a server-imposed pause has longer to run than
                ``max_penalty_wait_s``.
        """
        started = time.monotonic()
        self._check_penalty(started)
        if self._slots is not None:
            await self._slots.acquire()
        try:
            await self._wait_until(self._reserve(time.monotonic()))
            await self._wait_for_window()
            with self._lock:
                self._in_flight += 1
                self._peak_in_flight = max(self._peak_in_flight, self._in_flight)
                self._total_requests += 1
                wait_s = time.monotonic() - started
                self._total_wait_s += wait_s
            _observe.waited(self.system, wait_s)
            try:
                yield
            finally:
                with self._lock:
                    self._in_flight -= 1
        finally:
            if self._slots is not None:
                self._slots.release()

    def _check_penalty(self, now: float) -> None:
        remaining = self._penalty_until - now
        if remaining > self._max_penalty_wait_s:
            raise RateLimitedError(
                self.system, "request budget paused after the server throttled us", retry_after=remaining
            )

    def _reserve(self, now: float) -> float:
        """Claim the earliest start time the limits allow; reservations are first come, first served."""
        with self._lock:
            start = max(now, self._last_start, self._penalty_until)
            if self._interval is not None:
                start = max(start, self._theoretical_arrival - self._tolerance)
                self._theoretical_arrival = max(self._theoretical_arrival, start) + self._interval
            if self._window_starts is not None:
                if len(self._window_starts) == self._window_starts.maxlen:
                    start = max(start, self._window_starts[0] + self._window_s)
                self._window_starts.append(start)
            self._last_start = start
            return start

    async def _wait_for_window(self) -> None:
        """Start only if fewer than the window's count of requests *actually* started within it.

        Reservations space the planned starts, but a caller woken late (a busy event loop) starts
        after its planned time, and the next one on time: the server counts actual arrivals, so
        the window is checked again, against them, when the request is about to go.
        """
        if self._window_starts is None:
            return
        while True:
            with self._lock:
                now = time.monotonic()
                starts = self._actual_starts
                if len(starts) < (starts.maxlen or 0) or starts[0] + self._window_s <= now:
                    starts.append(now)
                    return
                delay = starts[0] + self._window_s - now
            await asyncio.sleep(delay)

    async def _wait_until(self, start: float) -> None:
        while True:
            # Re-read the penalty: the server may have throttled someone while we slept.
            now = time.monotonic()
            self._check_penalty(now)
            delay = max(start, self._penalty_until) - now
            if delay <= 0:
                return
            await asyncio.sleep(delay)


class BudgetTransport(httpx.AsyncBaseTransport):
    """Holds a budget slot for the whole exchange, response body included.

    Args:
        inner: The transport to send through (usually a `RetryTransport`).
        budget: The system's budget.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport, budget: RateBudget) -> None:
        self._inner = inner
        self.budget = budget

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send `request` within a slot; a throttling response pauses the whole budget."""
        async with self.budget.slot():
            started = time.perf_counter()
            response = await self._inner.handle_async_request(request)
            # Reading inside the slot keeps the concurrency bound honest for slow bodies too.
            await response.aread()
            # httpx times the exchange when *it* closes the body, which now never happens; time it here.
            response.elapsed = timedelta(seconds=time.perf_counter() - started)
        # The freed slot's next waiter was just woken: let it send before this caller goes on to
        # decode, map and record what it got, so the slot never waits on this process's own work.
        await asyncio.sleep(0)
        if response.status_code in THROTTLE_STATUSES:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if retry_after is not None:
                self.budget.penalise(retry_after)
        return response

    async def aclose(self) -> None:
        """Close the inner transport."""
        await self._inner.aclose()
