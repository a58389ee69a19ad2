"""The gateway's request span: the root of each webhook's trace (an ASGI middleware).

Hand-made rather than ``opentelemetry-instrumentation-fastapi``: that library records the full URL
target (query string included) and, with its defaults, request and response headers' names; the
gateway's span must carry the route template and the status only, and one middleware of a dozen
lines is less to keep than a dependency to configure down. A webhook's sender (HubSpot, the
Salesforce relay) is outside psflow, so an incoming ``traceparent`` is not trusted: each request
starts a new trace. The routes add the arrival's business keys (`arrival_keys`).

| attribute | value |
|---|---|
| ``http.request.method`` | ``POST`` |
| ``http.route`` | the matched route's template (``/webhooks/hubspot``), ``unmatched`` otherwise |
| ``http.response.status_code`` | the answer's status |
| ``psflow.source``, ``psflow.arrivals`` | the route's CRM, how many won deals the delivery announced |
| ``psflow.crm``, ``psflow.deal_id``, ``psflow.engagement_id``, ``psflow.contract_id`` | with one arrival |
"""

from __future__ import annotations

from opentelemetry import context, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["RequestSpans", "arrival_keys", "request_span"]

SCOPE_KEY = "psflow.span"
"""Where the request's span is kept in the ASGI scope: the routes' current span is FastAPI's own
``fastapi.endpoint`` span (FastAPI makes it when OpenTelemetry is installed), not this one."""


def request_span(scope: Scope) -> trace.Span:
    """The request's span (`RequestSpans`), or a no-op span when the app runs without the middleware."""
    span = scope.get(SCOPE_KEY)
    return span if isinstance(span, trace.Span) else trace.INVALID_SPAN


class RequestSpans:
    """A SERVER span around every HTTP request the app answers, named ``{method} {route}`` once routed."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self._tracer = trace.get_tracer("psflow.gateway")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        method = str(scope["method"])
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        # A new root: the sender's context (if any) is not continued.
        with self._tracer.start_as_current_span(
            method,
            context=context.Context(),
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method},
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            scope[SCOPE_KEY] = span
            try:
                await self._app(scope, receive, sending)
            finally:
                matched = scope.get("route")
                route = str(getattr(matched, "path", None) or "unmatched")
                span.update_name(f"{method} {route}")
                span.set_attributes({"http.route": route, "http.response.status_code": status})
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))


def arrival_keys(crm: str, deal_id: str, *, contract_id: str | None, amendment: bool) -> dict[str, str]:
    """The business keys of one arrival, as span attributes (ids only)."""
    keys = {"psflow.crm": crm, "psflow.deal_id": deal_id}
    if contract_id is not None:
        keys["psflow.contract_id"] = contract_id
    if not amendment:
        keys["psflow.engagement_id"] = f"{crm}:{deal_id}"
    return keys
