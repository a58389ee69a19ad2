import asyncio
import itertools
import logging
import threading
import time

import httpx
import pytest

from connectors._core import BudgetTransport, RateBudget, RateLimitedError, RestClient


class SlowApi:
    """Counts how many requests are inside the server at once."""

    def __init__(self, delay: float = 0.01) -> None:
        self.delay = delay
        self.inside = 0
        self.peak = 0
        self.starts: list[float] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.starts.append(time.monotonic())
        self.inside += 1
        self.peak = max(self.peak, self.inside)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.inside -= 1
        return httpx.Response(200, json={"ok": True})


async def test_concurrency_never_exceeds_max_under_50_requests() -> None:
    api = SlowApi()
    budget = RateBudget("netsuite", max_concurrency=5)
    async with RestClient(
        "netsuite", base_url="https://ns.test", transport=httpx.MockTransport(api), budget=budget
    ) as client:
        await asyncio.gather(*(client.get_json(f"/record/{i}") for i in range(50)))
    assert budget.peak_in_flight == 5
    assert api.peak <= 5
    assert budget.total_requests == 50
    assert budget.in_flight == 0
    assert budget.total_wait_s > 0


async def test_requests_are_spaced_by_rate() -> None:
    budget = RateBudget("workday", requests_per_second=50)
    starts: list[float] = []

    async def one() -> None:
        async with budget.slot():
            starts.append(time.monotonic())

    began = time.monotonic()
    await asyncio.gather(*(one() for _ in range(10)))
    # Ten requests at 50/s need nine 20 ms gaps; allow generous slack for scheduling.
    assert starts[-1] - began >= 0.15
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert sum(gap >= 0.012 for gap in gaps) >= 7


async def test_burst_lets_the_first_requests_through_together() -> None:
    budget = RateBudget("kantata", requests_per_second=10, burst=5)
    starts: list[float] = []

    async def one() -> None:
        async with budget.slot():
            starts.append(time.monotonic())

    began = time.monotonic()
    await asyncio.gather(*(one() for _ in range(6)))
    assert starts[4] - began < 0.05
    assert starts[5] - began >= 0.07


async def test_rolling_window_limits_starts_per_window() -> None:
    budget = RateBudget("hubspot", window=(3, 0.2))
    starts: list[float] = []

    async def one() -> None:
        async with budget.slot():
            starts.append(time.monotonic())

    began = time.monotonic()
    await asyncio.gather(*(one() for _ in range(7)))
    assert starts[-1] - began >= 0.35
    assert all(starts[i + 3] - starts[i] >= 0.19 for i in range(len(starts) - 3))


async def test_rolling_window_counts_actual_starts_when_the_loop_wakes_callers_late() -> None:
    budget = RateBudget("hubspot", window=(3, 0.2))
    starts: list[float] = []

    async def one() -> None:
        async with budget.slot():
            starts.append(time.monotonic())

    async def busy_loop_at_the_second_window() -> None:
        await asyncio.sleep(0.19)
        time.sleep(0.06)  # noqa: ASYNC251 — blocking the loop is the point: the 4th-6th callers wake late

    await asyncio.gather(busy_loop_at_the_second_window(), *(one() for _ in range(7)))
    assert all(starts[i + 3] - starts[i] >= 0.199 for i in range(len(starts) - 3)), [
        round(b - a, 3) for a, b in zip(starts, starts[3:], strict=False)
    ]


async def test_penalise_holds_back_everyone() -> None:
    budget = RateBudget("hubspot")
    budget.penalise(0.2)
    began = time.monotonic()
    async with budget.slot():
        pass
    assert time.monotonic() - began >= 0.15


async def test_long_penalty_fails_fast_with_remaining_delay() -> None:
    budget = RateBudget("salesforce", max_penalty_wait_s=1.0)
    budget.penalise(60)
    with pytest.raises(RateLimitedError) as caught:
        async with budget.slot():
            pass
    assert 55 <= (caught.value.retry_after or 0) <= 60
    assert budget.total_requests == 0


async def test_budget_transport_penalises_on_429_with_retry_after() -> None:
    def api(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "0.2"})

    budget = RateBudget("kantata")
    async with httpx.AsyncClient(transport=BudgetTransport(httpx.MockTransport(api), budget)) as client:
        await client.get("https://k.test/")
        began = time.monotonic()
        await client.get("https://k.test/")
    assert time.monotonic() - began >= 0.15


class _SlowBody(httpx.AsyncByteStream):
    """A response body that records whether the budget slot is still held while it streams."""

    def __init__(self, budget: RateBudget) -> None:
        self.budget = budget
        self.in_flight_while_streaming: list[int] = []

    async def __aiter__(self):  # type: ignore[no-untyped-def]
        self.in_flight_while_streaming.append(self.budget.in_flight)
        await asyncio.sleep(0.01)
        yield b'{"ok": true}'


async def test_slot_is_held_until_the_body_is_read() -> None:
    budget = RateBudget("workday", max_concurrency=1)
    body = _SlowBody(budget)

    def api(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=body)

    async with httpx.AsyncClient(transport=BudgetTransport(httpx.MockTransport(api), budget)) as client:
        response = await client.get("https://w.test/")
    assert response.json() == {"ok": True}
    assert response.elapsed.total_seconds() >= 0.005
    assert body.in_flight_while_streaming == [1]
    assert budget.in_flight == 0


async def test_cancelled_waiter_does_not_leak_a_slot() -> None:
    budget = RateBudget("netsuite", max_concurrency=1)
    release = asyncio.Event()

    async def holder() -> None:
        async with budget.slot():
            await release.wait()

    async def waiter() -> None:
        async with budget.slot():
            pass

    hold = asyncio.create_task(holder())
    await asyncio.sleep(0)
    waiting = asyncio.create_task(waiter())
    await asyncio.sleep(0.01)
    waiting.cancel()
    release.set()
    await hold
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await asyncio.wait_for(waiter(), timeout=1)


async def test_shared_across_event_loops() -> None:
    budget = RateBudget.shared("netsuite", max_concurrency=3)
    counter = threading.Lock()
    inside = peak = 0

    async def one() -> None:
        nonlocal inside, peak
        async with budget.slot():
            with counter:
                inside += 1
                peak = max(peak, inside)
            await asyncio.sleep(0.005)
            with counter:
                inside -= 1

    async def twenty() -> None:
        await asyncio.gather(*(one() for _ in range(20)))

    # A second event loop in another thread draws from the same budget as this one.
    await asyncio.gather(twenty(), asyncio.to_thread(asyncio.run, twenty()))
    assert peak <= 3
    assert budget.peak_in_flight <= 3
    assert budget.total_requests == 40


def test_shared_registry_returns_one_instance_per_system(caplog: pytest.LogCaptureFixture) -> None:
    first = RateBudget.shared("hubspot", window=(100, 10.0))
    assert RateBudget.shared("hubspot") is first
    with caplog.at_level(logging.WARNING):
        assert RateBudget.shared("hubspot", window=(50, 10.0)) is first
    assert "already exists" in caplog.text
    assert RateBudget.shared("netsuite", max_concurrency=5) is not first
    RateBudget.reset_registry()
    assert RateBudget.shared("hubspot") is not first


@pytest.mark.parametrize(
    "limits",
    [{"requests_per_second": 0}, {"burst": 0}, {"max_concurrency": 0}, {"window": (0, 1.0)}, {"window": (5, 0.0)}],
)
def test_invalid_limits_are_rejected(limits: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="netsuite"):
        RateBudget("netsuite", **limits)  # type: ignore[arg-type]
