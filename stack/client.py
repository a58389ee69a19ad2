"""Connecting to Temporal: the one client every part of psflow uses (worker, CLI, gateway, benchmarks, tests).

Address and namespace, TLS or mTLS and the API key (Temporal Cloud) come from ``settings.temporal``;
payloads go through the pydantic data converter and are encrypted (``stack.codec``), and spans cross
client → workflow → activity through the tracing interceptor.
"""

from __future__ import annotations

from temporalio.client import Client, TLSConfig
from temporalio.runtime import Runtime

from stack.codec import data_converter
from stack.settings import Settings
from stack.telemetry import configure_tracing, tracing_interceptor

__all__ = ["connect"]


async def connect(settings: Settings, *, runtime: Runtime | None = None, service: str = "psflow-cli") -> Client:
    """A Temporal client for these settings, with the pydantic converter and tracing.

    ``runtime``: the SDK runtime its workers report metrics through (the worker passes
    ``stack.metrics.metrics_runtime``); None is the SDK's default runtime, without metrics.
    ``service``: the traces' ``service.name`` (``psflow-worker``, ``psflow-gateway``...), if this is the
    process's first connection (`stack.telemetry.configure_tracing`).

    Raises:
        RuntimeError: The server did not answer (the SDK's own error, naming the address).
    """
    temporal = settings.temporal
    tls: bool | TLSConfig = temporal.tls
    if temporal.tls_cert_path and temporal.tls_key_path:
        tls = TLSConfig(
            client_cert=temporal.tls_cert_path.read_bytes(),
            client_private_key=temporal.tls_key_path.read_bytes(),
        )
    configure_tracing(settings, service)
    return await Client.connect(
        temporal.address,
        namespace=temporal.namespace,
        tls=tls,
        api_key=temporal.api_key.get_secret_value() if temporal.api_key else None,
        data_converter=data_converter(settings),
        interceptors=[tracing_interceptor()],
        runtime=runtime,
    )
