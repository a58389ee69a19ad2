"""The gateway's request metrics: counts by route and status, latency by route (an ASGI middleware).

The instruments live on the SDK runtime's meter (``stack/metrics.py``), whose Prometheus endpoint
serves them — the gateway's one scrape endpoint, on ``gateway_metrics_address``. ``route`` is the
matched route's path template (``/webhooks/hubspot``), ``unmatched`` for anything else, so a
scanner's random paths never make new series.

| series | type | labels |
|---|---|---|
| ``psflow_gateway_requests_total`` | counter | method, route, status |
| ``psflow_gateway_request_duration_seconds`` | histogram | method, route |
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.common import MetricMeter

from stack.metrics import GATEWAY_REQUEST_DURATION as DURATION

__all__ = ["RequestMetrics"]

REQUESTS = "psflow_gateway_requests"


class RequestMetrics:
    """Counts and times every HTTP request the app answers."""

    def __init__(self, app: ASGIApp, meter: MetricMeter) -> None:
        self._app = app
        self._requests = meter.create_counter(REQUESTS, "Gateway requests by method, route and status")
        self._duration = meter.create_histogram_float(DURATION, "Gateway request latency by method and route", "s")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self._app(scope, receive, sending)
        finally:
            matched = scope.get("route")
            route = getattr(matched, "path", None) or "unmatched"
            labels = {"method": str(scope["method"]), "route": str(route)}
            self._requests.add(1, labels | {"status": str(status)})
            self._duration.record(time.perf_counter() - started, labels)
