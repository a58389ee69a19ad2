"""The worker's metrics: one Prometheus scrape endpoint with the Temporal SDK's metrics and psflow's own.

The SDK runtime serves both (temporal-round2 §4.1): its ``PrometheusConfig`` endpoint exports the SDK's
``temporal_*`` series, and every instrument made on its metric meter — ``workflow.metric_meter()`` in
workflows (replay-safe: nothing is counted twice when a history replays), ``activity.metric_meter()`` in
activities — comes out of the same endpoint under psflow's own ``psflow_*`` names. One runtime per
process; only the worker gets one (CLI, gateway and tests keep the default runtime).

Conventions (https://prometheus.io/docs/practices/naming/): counters get ``_total`` from the exporter
(``counters_total_suffix``), durations are float seconds with ``_seconds`` in the name, and labels
carry bounded values only (a CRM, an ERP, an outcome, a kind) — never an id, a name or an email.
The series and what they mean are listed in ``workflows/_metrics.py``, which records them.
"""

from __future__ import annotations

from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from workflows._metrics import BUCKETS

__all__ = ["metrics_runtime"]


def metrics_runtime(bind_address: str) -> Runtime:
    """A runtime whose clients' workers serve ``http://{bind_address}/metrics``.

    The endpoint binds when the runtime is made; a port already taken raises here, at start-up.
    """
    prometheus = PrometheusConfig(
        bind_address=bind_address,
        counters_total_suffix=True,
        durations_as_seconds=True,
        histogram_bucket_overrides={name: list(bounds) for name, bounds in BUCKETS.items()},
    )
    return Runtime(telemetry=TelemetryConfig(metrics=prometheus))
