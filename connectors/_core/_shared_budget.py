"""Budgets that hold for a whole deployment, however many worker processes draw from them.

A `RateBudget` keeps its limits in one process's memory: three workers would each allow NetSuite's
five concurrent requests, fifteen in all. With `share_budgets(backend)` every budget the process
creates afterwards is a `SharedRateBudget`: it still applies its limits in the process (which keeps
the process's own callers queued locally), and then draws the concurrency slot and the window's
start from the backend, which every worker of the deployment shares (`store.budgets` keeps them
in PostgreSQL). docs/workers.md explains the choice and gives the measured cost.

What stays per process: the sustained rate (``requests_per_second``) and a server-imposed pause
after a 429 (`RateBudget.penalise`).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import Any, Protocol

from connectors._core._budget import RateBudget

__all__ = ["BudgetBackend", "SharedRateBudget", "share_budgets"]


class BudgetBackend(Protocol):
    """Limits kept outside the process, shared by every worker of the deployment."""

    def concurrency(self, system: str, limit: int) -> AbstractAsyncContextManager[None]:
        """Hold one of `system`'s `limit` slots for the ``async with`` block; a dead holder's slot comes back."""
        ...

    async def start(self, system: str, count: int, seconds: float) -> float:
        """Wait until fewer than `count` of `system`'s requests started in the last `seconds`; count this one.

        Returns: The start recorded (seconds since the epoch, on the backend's clock).
        """
        ...


class SharedRateBudget(RateBudget):
    """A `RateBudget` whose concurrency and window limits also hold across processes.

    Args:
        system: The system label.
        backend: Where the deployment-wide slots and starts are kept.
        **limits: The `RateBudget` limits.
    """

    def __init__(self, system: str, *, backend: BudgetBackend, **limits: Any) -> None:
        super().__init__(system, **limits)
        self.backend = backend
        self.shared_wait_s = 0.0
        """Seconds callers waited for the deployment's slots and starts, after their process's, summed."""

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """The process's slot, then the deployment's: concurrency first, so the recorded start is the real one."""
        async with super().slot():
            started = time.monotonic()
            limit: int | None = self.limits["max_concurrency"]
            window: tuple[int, float] | None = self.limits["window"]
            async with self.backend.concurrency(self.system, limit) if limit is not None else nullcontext():
                if window is not None:
                    await self.backend.start(self.system, *window)
                self.shared_wait_s += time.monotonic() - started
                yield


def share_budgets(backend: BudgetBackend | None) -> None:
    """Make every budget created from now on deployment-wide through `backend` (None: per process again).

    Budgets already created keep their kind, so call this before building the connectors.
    """
    RateBudget.factory = None if backend is None else _SharedFactory(backend)


class _SharedFactory:
    def __init__(self, backend: BudgetBackend) -> None:
        self.backend = backend

    def __call__(self, system: str, **limits: Any) -> RateBudget:
        return SharedRateBudget(system, backend=self.backend, **limits)
