"""What ``psflow dev up --telemetry`` adds to the local stack: a Jaeger and a Prometheus, both on loopback.

Jaeger (``stack.local.jaeger``: a source build, so no UI; read its query API) receives the worker's,
gateway's and codec server's spans over OTLP. Prometheus scrapes the worker's and gateway's metrics
endpoints and evaluates ``deploy/observability/alerts.yml`` (the production rule file itself, not a copy),
under the same job names as ``deploy/observability/prometheus.yml`` so the rules' ``job=`` selectors match.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from stack.local.jaeger import JaegerPorts
from stack.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ALERT_RULES = PROJECT_ROOT / "deploy" / "observability" / "alerts.yml"
SERVICES = ("jaeger", "prometheus")
"""The names of the services ``--telemetry`` adds; their records in the state file mean it is on."""
DEFAULT_WORKER_METRICS = "127.0.0.1:9464"
"""Where the local worker serves its metrics unless ``metrics_address`` says otherwise (as prometheus.yml)."""
DEFAULT_GATEWAY_METRICS = "127.0.0.1:9465"
"""... and the gateway, unless ``gateway_metrics_address`` says otherwise."""
SCRAPE_INTERVAL = "5s"
"""Shorter than production's 15 s, so a developer sees a run's series within seconds."""
PROMETHEUS_MISSING = (
    "--telemetry needs Prometheus, and `prometheus` is not on PATH: install it (`apt-get install prometheus` "
    "on Debian/Ubuntu) or put a prometheus binary on PATH"
)


@dataclass(frozen=True)
class LocalTelemetry:
    """Where the local telemetry services listen and where the stack's processes send to them."""

    jaeger: JaegerPorts
    prometheus_port: int
    worker_metrics: str
    """host:port of the worker's metrics endpoint."""
    gateway_metrics: str
    data_dir: Path
    """Configuration files and Prometheus's database live here."""

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalTelemetry:
        """The ports and addresses the settings name (metrics addresses default to prometheus.yml's)."""
        return cls(
            jaeger=JaegerPorts(
                otlp_grpc=settings.dev_jaeger_otlp_port,
                otlp_http=settings.dev_jaeger_otlp_http_port,
                query_http=settings.dev_jaeger_query_port,
                query_grpc=settings.dev_jaeger_query_grpc_port,
                health=settings.dev_jaeger_health_port,
            ),
            prometheus_port=settings.dev_prometheus_port,
            worker_metrics=settings.metrics_address or DEFAULT_WORKER_METRICS,
            gateway_metrics=settings.gateway_metrics_address or DEFAULT_GATEWAY_METRICS,
            data_dir=settings.data_dir.resolve() / "telemetry",
        )

    @property
    def prometheus_url(self) -> str:
        """Prometheus's web page and HTTP API."""
        return f"http://127.0.0.1:{self.prometheus_port}"

    @property
    def jaeger_health_url(self) -> str:
        """Answers 200 once Jaeger's pipeline and query service run."""
        return f"http://127.0.0.1:{self.jaeger.health}/status"

    @property
    def jaeger_config_path(self) -> Path:
        return self.data_dir / "jaeger.yaml"

    @property
    def prometheus_config_path(self) -> Path:
        return self.data_dir / "prometheus.yml"

    def environment(self) -> dict[str, str]:
        """The ``PSFLOW_*`` variables that point a worker, gateway or codec server at these services."""
        return {
            "PSFLOW_METRICS_ADDRESS": self.worker_metrics,
            "PSFLOW_GATEWAY_METRICS_ADDRESS": self.gateway_metrics,
            "PSFLOW_OTLP_ENDPOINT": self.jaeger.otlp_endpoint,
        }

    def prometheus_config(self) -> str:
        """Scrape the local worker and gateway; evaluate the production alert rules."""
        # JSON is YAML: every path and address is quoted correctly whatever it holds.
        config = {
            "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
            "rule_files": [str(ALERT_RULES)],
            "scrape_configs": [
                {"job_name": "psflow-worker", "static_configs": [{"targets": [self.worker_metrics]}]},
                {"job_name": "psflow-gateway", "static_configs": [{"targets": [self.gateway_metrics]}]},
            ],
        }
        return json.dumps(config, indent=2) + "\n"

    def prometheus_command(self, binary: str) -> list[str]:
        """Run ``binary`` on the config written at ``prometheus_config_path``, its database under data_dir."""
        return [
            binary,
            f"--config.file={self.prometheus_config_path}",
            f"--storage.tsdb.path={self.data_dir / 'prometheus'}",
            f"--web.listen-address=127.0.0.1:{self.prometheus_port}",
        ]


def prometheus_binary() -> str | None:
    """The ``prometheus`` on PATH (Debian's package installs /usr/bin/prometheus), or None."""
    return shutil.which("prometheus")
