"""OpenTelemetry traces: one trace per business transaction, exported over OTLP gRPC when configured.

A trace runs gateway request (``gateway/_tracing.py``) → the client's StartWorkflow / SignalWithStart /
UpdateWithStart span → RunWorkflow → StartActivity / RunActivity (Temporal's `TracingInterceptor`) →
one span per outbound HTTP request a connector sends (`RequestSpans`). `BusinessKeys` puts the
business keys (``psflow.deal_id``, ``psflow.work_date``...) on every span, read from the workflow id
(Temporal's spans carry it as ``temporalWorkflowID``) or from the parent span in the same process.

Spans carry ids and states only: never bodies, secrets, names, emails or money; of a URL only the host.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode
from temporalio import workflow
from temporalio.contrib.opentelemetry import TracingInterceptor, TracingWorkflowInboundInterceptor
from temporalio.worker import WorkflowInterceptorClassInput

from connectors._core import _observe
from stack.settings import Settings

__all__ = [
    "BusinessKeys",
    "RequestSpans",
    "business_keys",
    "configure_tracing",
    "exit_process",
    "run_trace_parent",
    "tracing_interceptor",
]

PREFIX = "psflow."
WORKFLOW_ID_ATTRIBUTE = "temporalWorkflowID"
"""Where Temporal's TracingInterceptor puts the workflow id on its client, workflow and activity spans."""

_PROVISIONING = re.compile(r"engagement-provisioning:(?P<crm>[^:]+):(?P<deal_id>[^:]+)$")
"""``workflows.provision_engagement.workflow_id``; the engagement's canonical id is ``crm:deal_id``."""
_WORKFLOW_IDS = (
    _PROVISIONING,
    re.compile(r"contract:(?P<crm>[^:]+):(?P<contract_id>[^:]+)$"),
    re.compile(r"amendment-intake:(?P<crm>[^:]+):(?P<deal_id>[^:]+)$"),
    re.compile(r"te-posting:(?P<erp>[^:]+):(?P<work_date>\d{4}-\d{2}-\d{2})$"),
    re.compile(r"^invoice:(?P<project_id>.+):(?P<period>\d{4}-\d{2})(?:\.\d+)?$"),
    re.compile(r"monthly-invoicing:(?P<period>[^:]+)$"),
    re.compile(r"reconcile:(?P<period>\d{4}-\d{2})(?::(?P<project_id>.+))?$"),
    re.compile(r"exception-retry:(?P<exception_id>\d+):\d+$"),
)


def business_keys(workflow_id: str) -> dict[str, str]:
    """The business keys a workflow id names, as span attributes (``{}`` for ids of no known flow)."""
    for pattern in _WORKFLOW_IDS:
        match = pattern.search(workflow_id)
        if match:
            keys = {f"{PREFIX}{name}": value for name, value in match.groupdict().items() if value is not None}
            if pattern is _PROVISIONING:
                keys[f"{PREFIX}engagement_id"] = f"{match['crm']}:{match['deal_id']}"
            return keys
    return {}


class BusinessKeys(SpanProcessor):
    """Puts the business keys on each span as it starts: from its workflow id, else from its local parent.

    The parent rule gives a connector's HTTP spans the keys of the activity that sent them.
    """

    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        workflow_id = (span.attributes or {}).get(WORKFLOW_ID_ATTRIBUTE)
        if isinstance(workflow_id, str):
            keys = business_keys(workflow_id)
        else:
            parent = trace.get_current_span(parent_context)
            inherited = parent.attributes if isinstance(parent, ReadableSpan) else None
            keys = {k: v for k, v in (inherited or {}).items() if k.startswith(PREFIX) and isinstance(v, str)}
        if keys:
            span.set_attributes(keys)

    def on_end(self, span: ReadableSpan) -> None:
        pass


class RequestSpans:
    """One CLIENT span per request a connector's `RestClient` sends (installed into ``connectors._core``).

    Attributes: ``http.request.method``, ``server.address`` (the host; never the path or the query,
    some APIs put keys there), ``psflow.system``, ``http.response.status_code`` of the last attempt,
    ``psflow.retry_count`` (attempts - 1). A 4xx/5xx or a transport failure marks the span an error,
    with ``error.type`` the status or the exception's class (never its message).
    """

    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer

    @contextmanager
    def span(self, request: _observe.Sending) -> Iterator[None]:
        attributes = {
            "http.request.method": request.method,
            "server.address": request.host,
            f"{PREFIX}system": request.system,
        }
        with self._tracer.start_as_current_span(
            f"{request.method} {request.system}",
            kind=SpanKind.CLIENT,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                yield
            except BaseException as exc:
                span.set_attribute("error.type", type(exc).__name__)
                span.set_status(Status(StatusCode.ERROR))
                raise
            finally:
                span.set_attribute(f"{PREFIX}retry_count", max(request.attempts - 1, 0))
                if request.status is not None:
                    span.set_attribute("http.response.status_code", request.status)
                    if request.status >= 400:
                        span.set_attribute("error.type", str(request.status))
                        span.set_status(Status(StatusCode.ERROR))


_configured = False


def configure_tracing(settings: Settings, service_name: str) -> None:
    """Install this process's tracer provider, once (the first caller names the service).

    Spans go over OTLP gRPC to ``settings.otlp_endpoint``; without it, to ``OTEL_EXPORTER_OTLP_ENDPOINT``
    when that standard variable is set (the exporter reads it); without either, spans are still made
    (so trace ids propagate through Temporal headers) but nothing is exported. `exit_process` flushes.
    """
    global _configured
    if _configured:
        return
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BusinessKeys())
    if settings.otlp_endpoint or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otlp_endpoint)))
    trace.set_tracer_provider(provider)
    _observe.trace_requests(RequestSpans(provider.get_tracer("psflow.connectors")))
    _configured = True


def run_trace_parent(run_id: str) -> str:
    """The W3C ``traceparent`` a run started without a client span hangs its spans under.

    Its trace id is the run id (a UUID: 32 hex digits), so the run's spans are one trace, the same
    after every replay; its span id (the run id's first 16 digits) names a root no process reports.
    """
    digits = uuid.UUID(run_id).hex
    span_id = digits[:16] if int(digits[:16], 16) else "0" * 15 + "1"
    return f"00-{digits}-{span_id}-01"


class _RunTracing(TracingWorkflowInboundInterceptor):
    """Temporal's workflow tracing, with one trace per run when no client span started it.

    Without a client span (a Schedule's run, ``temporal workflow start``) Temporal's interceptor makes
    each workflow-level span (RunWorkflow, each StartActivity, CompleteWorkflow) the root of a trace of
    its own; under `run_trace_parent` they share the run's trace.
    """

    def _load_workflow_context_carrier(self) -> dict[str, str | list[str]] | None:
        carrier = super()._load_workflow_context_carrier()
        if carrier:
            return carrier
        self._workflow_context_carrier = {"traceparent": run_trace_parent(workflow.info().run_id)}
        return self._workflow_context_carrier


class _Tracing(TracingInterceptor):
    def workflow_interceptor_class(self, input: WorkflowInterceptorClassInput) -> type[_RunTracing]:
        super().workflow_interceptor_class(input)
        return _RunTracing


def tracing_interceptor() -> TracingInterceptor:
    """The interceptor that carries spans across client → workflow → activity.

    Workflow spans are made even without a client span (`_RunTracing`): a Schedule's runs have traces too.
    """
    return _Tracing(always_create_workflow_spans=True)


def exit_process(code: int) -> None:
    """Flush spans, logs and stdio, then leave without interpreter teardown.

    The Temporal client's Rust runtime keeps threads that can outlive the event loop; when CPython
    finalizes around them the process sometimes dies with SIGSEGV/SIGABRT after a clean shutdown
    (seen here in CI; PostHog reported the same, PostHog/posthog#53093). Everything worth keeping is
    flushed first, so skipping teardown loses nothing.
    """
    import logging
    import sys

    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.shutdown()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code)
