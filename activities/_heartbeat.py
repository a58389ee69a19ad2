"""Heartbeats: how activities tell Temporal they are alive, and where a retry resumes.

Without heartbeats Temporal only retries an activity whose worker died after its whole
``start_to_close_timeout``; with them, after ``heartbeat_timeout``. Three shapes cover every activity:

- `heartbeating`: a call that waits on one SaaS request beats every couple of seconds meanwhile;
- `each_page`: a call that reads a listing beats after every page;
- `Checkpoints`: a call that must resume where an earlier attempt stopped heartbeats a checkpoint
  (a model: the next cursor and what the pages before it did) and starts from the last one.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Generic, ParamSpec, TypeVar

from pydantic import BaseModel
from temporalio import activity

from connectors._core import Page, pages

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

INTERVAL_S = 2.0
"""How often `heartbeating` beats while the call waits."""
THROTTLE_S = 1.0
"""`Checkpoints.tick` beats at most this often, however many records go through."""


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


async def each_page(fetch: Callable[[str | None], Awaitable[Page[T]]]) -> AsyncIterator[Page[T]]:
    """Every page of a listing, first to last, heartbeating the next cursor after each."""
    async for page in pages(fetch):
        activity.heartbeat(page.next_cursor)
        yield page


class Checkpoints(Generic[M]):
    """The checkpoint an activity resumes from, heartbeated as it moves.

    Args:
        kind: The checkpoint model.
        first: Where to start when no earlier attempt heartbeated a checkpoint.
    """

    def __init__(self, kind: type[M], first: M) -> None:
        details = activity.info().heartbeat_details
        self.last: M = kind.model_validate(details[0]) if details else first
        """The latest checkpoint: the earlier attempt's last one, until `save` is called."""
        self._details = self.last.model_dump(mode="json")
        self._sent = 0.0

    def save(self, point: M) -> None:
        """A step finished: make ``point`` the checkpoint and send it now."""
        self.last = point
        self._details = point.model_dump(mode="json")
        self._sent = time.monotonic()
        activity.heartbeat(self._details)

    def tick(self) -> None:
        """Something moved: send the latest checkpoint again, unless one went out within `THROTTLE_S`."""
        if time.monotonic() - self._sent >= THROTTLE_S:
            self._sent = time.monotonic()
            activity.heartbeat(self._details)
