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
