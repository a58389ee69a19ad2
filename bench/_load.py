"""Arrivals and measurement: open-loop Poisson arrivals at a rate, or a closed loop of C deals in flight.

Open loop: N arrival instants drawn uniformly over N/R seconds and sorted, which is a Poisson
process of rate R conditioned on N arrivals, so every run offers exactly R/s on average and the
same seed gives the orchestrated and the baseline phase the same schedule. A deal that arrives
while others are slow does not wait for them, so queueing shows up in the latency.
Closed loop: C lanes each take the next deal as soon as their last one finished.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

Provision = Callable[[str], Awaitable[float]]
"""Provision one deal; returns seconds from the trigger to "all records exist", raises if it was not provisioned."""
Done = Callable[[bool], None]


@dataclass(frozen=True)
class Arrivals:
    """How deals arrive: at ``rate`` per second (open loop) or ``concurrency`` at a time (closed loop)."""

    rate: float | None = 20.0
    concurrency: int | None = None
    seed: int = 4

    @property
    def mode(self) -> str:
        """``rate=R/s`` or ``concurrency=C``, as the report names it."""
        return f"concurrency={self.concurrency}" if self.concurrency else f"rate={self.rate:g}/s"

    def schedule(self, count: int) -> list[float]:
        """Arrival offsets in seconds from the start of the phase (open loop)."""
        if self.rate is None:
            raise ValueError("a closed loop has no arrival schedule")
        rng = random.Random(self.seed)
        span = count / self.rate
        return sorted(rng.uniform(0, span) for _ in range(count))


@dataclass(frozen=True)
class BenchOptions:
    """One run's shape: how many deals, how they arrive, how many warm up each path first."""

    deals: int = 200
    arrivals: Arrivals = field(default_factory=Arrivals)
    warmup: int = 5
    deal_timeout_s: float = 300.0


@dataclass
class Phase:
    """What one phase measured."""

    latencies_s: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    lags_s: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    cpu_ms_per_deal: dict[str, float] = field(default_factory=dict)
    """CPU time per provisioned deal, by process (see `bench._cpu`)."""
    requests_per_deal: dict[str, float] = field(default_factory=dict)
    """HTTP requests per provisioned deal, by system (see `bench._requests`)."""

    def figures(self) -> dict[str, Any]:
        """Latency percentiles in ms, throughput (provisioned / wall time), failures, CPU and requests per deal."""
        ms = sorted(value * 1000 for value in self.latencies_s)
        return {
            "provisioned": len(ms),
            "p50_ms": _percentile(ms, 50),
            "p95_ms": _percentile(ms, 95),
            "p99_ms": _percentile(ms, 99),
            "max_ms": round(ms[-1], 1) if ms else None,
            "throughput_per_s": round(len(ms) / self.wall_s, 2) if self.wall_s > 0 else 0.0,
            "failed": len(self.failures),
            "wall_s": round(self.wall_s, 3),
            "arrival_lag_p95_ms": _percentile(sorted(value * 1000 for value in self.lags_s), 95),
            "cpu_ms_per_deal": self.cpu_ms_per_deal,
            "requests_per_deal": self.requests_per_deal,
        }


def _percentile(sorted_values: Sequence[float], pct: int) -> float | None:
    if not sorted_values:
        return None
    if len(sorted_values) == 1:
        return round(sorted_values[0], 1)
    return round(statistics.quantiles(sorted_values, n=100, method="inclusive")[pct - 1], 1)


async def _one(deal: str, provision: Provision, timeout_s: float, phase: Phase, done: Done) -> None:
    try:
        async with asyncio.timeout(timeout_s):
            latency = await provision(deal)
    except TimeoutError:
        phase.failures.append(f"{deal}: not provisioned within {timeout_s:g}s")
        done(False)
    except Exception as exc:  # every failure counts, whatever raised it
        phase.failures.append(f"{deal}: {exc}")
        done(False)
    else:
        phase.latencies_s.append(latency)
        done(True)


async def drive(
    deals: Sequence[str],
    provision: Provision,
    arrivals: Arrivals,
    *,
    timeout_s: float = 60.0,
    done: Done = lambda _ok: None,
) -> Phase:
    """Provision every deal as ``arrivals`` says; the wall time runs from the phase start to the last completion."""
    phase = Phase()
    started = time.perf_counter()
    if arrivals.concurrency:
        queue = list(reversed(deals))

        async def lane() -> None:
            while queue:
                await _one(queue.pop(), provision, timeout_s, phase, done)

        await asyncio.gather(*(lane() for _ in range(min(arrivals.concurrency, len(deals)))))
    else:
        tasks = []
        for deal, offset in zip(deals, arrivals.schedule(len(deals)), strict=True):
            delay = started + offset - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            phase.lags_s.append(max(0.0, -delay))
            tasks.append(asyncio.create_task(_one(deal, provision, timeout_s, phase, done)))
        await asyncio.gather(*tasks)
    phase.wall_s = time.perf_counter() - started
    return phase
