"""What connectors report for metrics: rate-budget waits and every HTTP response's status, per system.

Connectors import no metrics library (DESIGN.md's layers): the composition root that wants metrics
(the worker, ``stack/metrics.py``) installs one `Observer`; without one each report is a no-op.
Reports name the system only (``netsuite``, ``kantata``...), never a URL or an id.
"""

from __future__ import annotations

from typing import Protocol

import httpx

__all__ = ["ObservedTransport", "Observer", "observe", "responded", "waited"]


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


def waited(system: str, seconds: float) -> None:
    if _observer is not None:
        _observer.waited(system, seconds)


def responded(system: str, status: int) -> None:
    if _observer is not None:
        _observer.responded(system, status)


class ObservedTransport(httpx.AsyncBaseTransport):
    """Reports each attempt's status; sits innermost, under the retries, so a retried 429 counts too."""

    def __init__(self, inner: httpx.AsyncBaseTransport, system: str) -> None:
        self._inner = inner
        self._system = system

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        responded(self._system, response.status_code)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()
