"""What connectors report for metrics and traces: rate-budget waits, every HTTP response's status, and
one span per request sent.

Connectors import no metrics or tracing library (DESIGN.md's layers): the composition root that wants
metrics (the worker, ``stack/metrics.py``) installs one `Observer`, the one that wants traces
(``stack/telemetry.py``) one `RequestTracer`; without them each report is a no-op. Reports name the
system, the method and the host only (``netsuite``, ``kantata``...), never a path, a query or an id.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol

import httpx

__all__ = [
    "ObservedTransport",
    "Observer",
    "RequestTracer",
    "Sending",
    "observe",
    "responded",
    "sending",
    "trace_requests",
    "waited",
]


class Observer(Protocol):
    def waited(self, system: str, seconds: float) -> None:
        """A request of ``system`` waited ``seconds`` for its rate budget (0 when it went straight on)."""

    def responded(self, system: str, status: int) -> None:
        """``system`` answered one attempt with ``status`` (retried attempts each report)."""


_observer: Observer | None = None


def observe(observer: Observer | None) -> None:
    """Install the process's observer (None removes it)."""
    global _observer
    _observer = observer


@dataclass
class Sending:
    """One request `RestClient` sends, however many attempts its retries take."""

    system: str
    method: str
    host: str
    attempts: int = 0
    """Attempts sent so far (`ObservedTransport` counts them; a retried 429 is two)."""
    status: int | None = None
    """The last attempt's status; None while none answered (or the transport failed)."""


class RequestTracer(Protocol):
    def span(self, request: Sending) -> AbstractContextManager[None]:
        """A span around the whole request; read ``request``'s attempts and status once the block ends."""


_tracer: RequestTracer | None = None
_sending: ContextVar[Sending | None] = ContextVar("psflow_connector_sending", default=None)


def trace_requests(tracer: RequestTracer | None) -> RequestTracer | None:
    """Install the process's request tracer (None removes it); the one it replaces."""
    global _tracer
    previous, _tracer = _tracer, tracer
    return previous


@contextmanager
def sending(system: str, method: str, host: str) -> Iterator[Sending]:
    """Everything sent within the block is one request: its attempts are counted, its span (if traced) wraps it."""
    request = Sending(system, method, host)
    token = _sending.set(request)
    try:
        if _tracer is None:
            yield request
        else:
            with _tracer.span(request):
                yield request
    finally:
        _sending.reset(token)


def waited(system: str, seconds: float) -> None:
    if _observer is not None:
        _observer.waited(system, seconds)


def responded(system: str, status: int) -> None:
    if _observer is not None:
        _observer.responded(system, status)


class ObservedTransport(httpx.AsyncBaseTransport):
    """Reports each attempt's status and counts it for the request's span.

    It sits innermost, under the retries, so a retried 429 counts too.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport, system: str) -> None:
        self._inner = inner
        self._system = system

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        current = _sending.get()
        if current is not None:
            current.attempts += 1
        response = await self._inner.handle_async_request(request)
        if current is not None:
            current.status = response.status_code
        responded(self._system, response.status_code)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()
