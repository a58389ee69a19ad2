"""The worker's metrics: one Prometheus scrape endpoint with the Temporal SDK's metrics and psflow's own.

The SDK runtime serves both (temporal-round2 §4.1): its ``PrometheusConfig`` endpoint exports the SDK's
``temporal_*`` series, and every instrument made on its metric meter — ``workflow.metric_meter()`` in
workflows (replay-safe: nothing is counted twice when a history replays), ``activity.metric_meter()`` in
activities, the runtime's own meter for the connectors — comes out of the same endpoint under psflow's
``psflow_*`` names. One runtime per process; only the worker gets one (CLI, gateway and tests keep
the SDK's default runtime, without an endpoint).

Conventions (https://prometheus.io/docs/practices/naming/): counters get ``_total`` from the exporter
(``counters_total_suffix``), durations are float seconds with ``_seconds`` in the name, and labels
carry bounded values only (a system, an outcome, a kind) — never an id, a name or an email. The
workflow and activity series are listed in ``workflows/_metrics.py`` and ``activities/_metrics.py``;
the connectors' here:

| series | type | labels | what |
|---|---|---|---|
| ``psflow_rate_budget_wait_seconds`` | histogram | system | each request's wait for its system's rate budget |
| ``psflow_connector_responses_total`` | counter | system, status | each HTTP attempt: status class (2xx...), 429, 503 |
"""

from __future__ import annotations

from temporalio.common import MetricMeter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from activities._metrics import BUCKETS as ACTIVITY_BUCKETS
from connectors._core import _observe
from workflows._metrics import BUCKETS as WORKFLOW_BUCKETS

__all__ = ["GATEWAY_REQUEST_DURATION", "ConnectorMetrics", "MetricsEndpointError", "metrics_runtime"]

RATE_BUDGET_WAIT = "psflow_rate_budget_wait_seconds"
CONNECTOR_RESPONSES = "psflow_connector_responses"
THROTTLING = frozenset({429, 503})
GATEWAY_REQUEST_DURATION = "psflow_gateway_request_duration_seconds"
BUCKETS: dict[str, tuple[float, ...]] = {
    RATE_BUDGET_WAIT: (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10),
    **WORKFLOW_BUCKETS,
    **ACTIVITY_BUCKETS,
    # The gateway's (gateway/_metrics.py). HubSpot wants an answer within 5 s; a 503 comes after 3 s.
    GATEWAY_REQUEST_DURATION: (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
}


def metrics_runtime(bind_address: str) -> Runtime:
    """A runtime whose clients' workers serve ``http://{bind_address}/metrics``, reporting the connectors too.

    The endpoint binds when the runtime is made, so a bad or taken address fails here, at start-up.

    Raises:
        MetricsEndpointError: The address is malformed or taken.
    """
    prometheus = PrometheusConfig(
        bind_address=bind_address,
        counters_total_suffix=True,
        durations_as_seconds=True,
        histogram_bucket_overrides={name: list(bounds) for name, bounds in BUCKETS.items()},
    )
    try:
        runtime = Runtime(telemetry=TelemetryConfig(metrics=prometheus))
    except ValueError as exc:  # the SDK's error for both, e.g. "... Address already in use (os error 98)"
        raise MetricsEndpointError(f"cannot serve metrics on {bind_address}: {exc}") from None
    _observe.observe(ConnectorMetrics(runtime.metric_meter))
    return runtime


class MetricsEndpointError(Exception):
    """The metrics endpoint cannot be served where the settings say."""


class ConnectorMetrics:
    """The connectors' `Observer`: rate-budget waits and response statuses per system."""

    def __init__(self, meter: MetricMeter) -> None:
        self._waits = meter.create_histogram_float(
            RATE_BUDGET_WAIT, "Time requests waited for their system's rate budget", "s"
        )
        self._responses = meter.create_counter(
            CONNECTOR_RESPONSES, "HTTP attempts by system and status class (429 and 503 on their own)"
        )

    def waited(self, system: str, seconds: float) -> None:
        self._waits.record(seconds, {"system": system})

    def responded(self, system: str, status: int) -> None:
        label = str(status) if status in THROTTLING else f"{status // 100}xx"
        self._responses.add(1, {"system": system, "status": label})
