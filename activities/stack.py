"""Activities that prove the worker answers on every domain task queue (``psflow dev`` and the demo)."""

from __future__ import annotations

import os
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from temporalio import activity

from canonical import CanonicalModel


class PingInput(CanonicalModel):
    """Which domain is asked."""

    domain: str


class PingAnswer(CanonicalModel):
    """Who answered, where, and when."""

    domain: str
    task_queue: str
    worker: str
    answered_at: datetime


def ping_activity(domain: str) -> Callable[[PingInput], Awaitable[PingAnswer]]:
    """The ``<domain>.ping`` activity, registered on that domain's task queue."""

    @activity.defn(name=f"{domain}.ping")
    async def ping(request: PingInput) -> PingAnswer:
        return PingAnswer(
            domain=request.domain,
            task_queue=activity.info().task_queue,
            worker=f"{socket.gethostname()}:{os.getpid()}",
            answered_at=datetime.now(UTC),
        )

    return ping
