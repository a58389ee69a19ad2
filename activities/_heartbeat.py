"""Heartbeats while an activity waits on a SaaS call, so a dead worker is noticed in seconds.

Without heartbeats Temporal only retries an activity whose worker died after its whole
``start_to_close_timeout``; with them, after ``heartbeat_timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from temporalio import activity

P = ParamSpec("P")
R = TypeVar("R")

INTERVAL_S = 2.0


def heartbeating(method: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Heartbeat every couple of seconds until the activity finishes."""

    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        async def beat() -> None:
            while True:
                activity.heartbeat()
                await asyncio.sleep(INTERVAL_S)

        ticker = asyncio.create_task(beat())
        try:
            return await method(*args, **kwargs)
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker

    return wrapper
