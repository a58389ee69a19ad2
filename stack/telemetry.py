"""OpenTelemetry set-up: traces through Temporal's TracingInterceptor, exported over OTLP when configured."""

from __future__ import annotations

import os

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from temporalio.contrib.opentelemetry import TracingInterceptor

_configured = False


def configure_tracing(service_name: str) -> None:
    """Install a tracer provider once per process; export over OTLP if ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set.

    Without an endpoint spans are still created (so trace ids propagate through Temporal headers)
    but nothing is exported, which keeps local runs quiet.
    """
    global _configured
    if _configured:
        return
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _configured = True


def tracing_interceptor() -> TracingInterceptor:
    """The interceptor that carries spans across client → workflow → activity."""
    return TracingInterceptor()


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
