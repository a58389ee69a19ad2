"""The processes of the local stack, in start order."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from stack.client import connect
from stack.codec_server import token
from stack.local import cluster as local_cluster
from stack.local import temporal_server
from stack.local.jaeger import config_yaml, ensure_jaeger, jaeger_command
from stack.local.subscriptions import GatewaySecrets, subscribe_sandbox
from stack.local.telemetry import LocalTelemetry, prometheus_binary
from stack.local.temporal_cli import dev_server_sqlite_flags, dev_server_tuning_flags, ensure_temporal_cli
from stack.namespaces import ensure_namespace
from stack.search_attributes import ensure_search_attributes
from stack.settings import Settings
from workflows.search_attributes import dev_server_flags

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Service:
    """One background process of the stack."""

    name: str
    port: int
    """The port it listens on, checked before starting (0: none)."""
    url: str
    command: Callable[[], list[str]]
    """Resolved only when starting, so ``status`` never builds the Temporal CLI."""
    ready: Callable[[], bool]
    hint: str
    """What to do when the port is taken by something else."""
    extra_ports: tuple[int, ...] = ()
    """Further ports it listens on, checked like ``port``."""
    cwd: Path = PROJECT_ROOT
    env: dict[str, str] = field(default_factory=dict)
    after_start: Callable[[], None] | None = None
    """Idempotent set-up run once the service is ready, and again on a later ``up`` that finds it running
    (subscribe the gateway to the sandbox's webhooks; register search attributes a newer psflow added)."""


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _http_ok(url: str, healthy: int | None = None) -> Callable[[], bool]:
    """Ready once ``url`` answers: with ``healthy``, exactly that status; else anything but a 5xx."""

    def check() -> bool:
        try:
            code = httpx.get(url, timeout=1).status_code
        except httpx.HTTPError:
            return False
        return code == healthy if healthy is not None else code < 500

    return check


def _port_of(address: str) -> int:
    """The port of a ``host:port`` address."""
    return int(address.rpartition(":")[2])


def _log_contains(path: Path, text: str) -> Callable[[], bool]:
    return lambda: path.exists() and text in path.read_text(encoding="utf-8", errors="replace")


def worker_environment(settings: Settings, *, telemetry: bool = False) -> dict[str, str]:
    """The settings a background worker needs, as the ``PSFLOW_*`` variables it reads.

    With ``telemetry``, also where it serves metrics and sends spans: the local Prometheus's and Jaeger's.
    """
    return {
        "PSFLOW_TEMPORAL__ADDRESS": settings.temporal.address,
        "PSFLOW_TEMPORAL__NAMESPACE": settings.temporal.namespace,
        "PSFLOW_TASK_QUEUE_PREFIX": settings.task_queue_prefix,
        "PSFLOW_DATA_DIR": str(settings.data_dir.resolve()),
        "PSFLOW_SANDBOX_URL": settings.sandbox_url,
        "PSFLOW_GATEWAY_PORT": str(settings.gateway_port),
        "PSFLOW_CODEC_SERVER_PORT": str(settings.codec_server_port),
        **({"PSFLOW_DATABASE_URL": settings.database_url} if settings.database_url else {}),
        **(LocalTelemetry.from_settings(settings).environment() if telemetry else {}),
    }


def _subscribe_gateway(settings: Settings, gateway_url: str) -> None:
    """Point the sandbox CRMs' change notifications and webhooks at the gateway (idempotent)."""
    subscribe_sandbox(settings.sandbox_url, gateway_url, GatewaySecrets.from_settings(settings))


def _register_search_attributes(settings: Settings, progress: Callable[[str], None]) -> None:
    """Add the search attributes a dev-server database made by an older psflow lacks (idempotent)."""

    async def register() -> list[str]:
        return await ensure_search_attributes(await connect(settings))

    added = asyncio.run(register())
    if added:
        progress(f"registered search attributes {', '.join(added)}")


CLUSTER_SERVICES = ("postgres", "temporal-server", "temporal-ui")
"""What ``dev up --cluster`` runs instead of the dev server (``postgres`` only without ``cluster_postgres_url``)."""
CLUSTER_DATABASES = local_cluster.Databases(temporal="psflow_temporal", visibility="psflow_temporal_visibility")


def _set_up_cluster(settings: Settings, progress: Callable[[str], None]) -> None:
    """Once the cluster's frontend serves: psflow's namespace and search attributes (idempotent; what
    ``psflow setup`` does on any cluster)."""

    async def set_up() -> tuple[bool, list[str]]:
        await local_cluster.wait_serving(settings.temporal.address)
        client = await connect(settings)
        retention = timedelta(hours=settings.namespace_retention_hours)
        created = await ensure_namespace(client, settings.temporal.namespace, retention)
        return created, await ensure_search_attributes(client)

    created, added = asyncio.run(set_up())
    if created:
        progress(f"created namespace {settings.temporal.namespace}")
    if added:
        progress(f"registered search attributes {', '.join(added)}")


def cluster_services(
    settings: Settings, progress: Callable[[str], None], codec_endpoint: Callable[[], str | None]
) -> list[Service]:
    """A real Temporal cluster (``stack.local.cluster``) under ``<data_dir>/cluster``: PostgreSQL unless
    ``cluster_postgres_url`` names one, the server (four services, one process), the UI server."""
    data = settings.data_dir.resolve() / "cluster"
    frontend_port = _port_of(settings.temporal.address)
    ports = local_cluster.ClusterPorts.from_base(
        frontend=frontend_port,
        ui=urlsplit(settings.temporal.ui_url).port or 8233,
        base=settings.cluster_internal_port_base,
    )
    own_postgres = settings.cluster_postgres_url is None
    postgres_url = settings.cluster_postgres_url or local_cluster.local_postgres_url(settings.cluster_postgres_port)
    server_root = data / "temporal"

    def postgres_command() -> list[str]:
        local_cluster.init_local_postgres(data / "postgres", progress)
        return local_cluster.local_postgres_command(data / "postgres", settings.cluster_postgres_port)

    def server_command() -> list[str]:
        server = temporal_server.ensure(temporal_server.SERVER, progress)
        sql_tool = temporal_server.ensure(temporal_server.SQL_TOOL, progress)
        postgres = local_cluster.Postgres.from_url(postgres_url)
        local_cluster.setup_schemas(sql_tool, postgres, CLUSTER_DATABASES, progress)
        local_cluster.write_server_files(
            server_root, postgres, CLUSTER_DATABASES, ports, shards=settings.cluster_history_shards
        )
        return local_cluster.server_command(server, server_root)

    def ui_command() -> list[str]:
        ui_server = temporal_server.ensure(temporal_server.UI_SERVER, progress)
        ui_url = urlsplit(settings.temporal.ui_url)
        origin = f"{ui_url.scheme}://{ui_url.netloc}"
        config = local_cluster.ui_config(
            ports, namespace=settings.temporal.namespace, codec_endpoint=codec_endpoint(), origin=origin
        )
        local_cluster.write_ui_files(data / "ui", config)
        return local_cluster.ui_command(ui_server, data / "ui")

    # What the server's and UI's config files are made of: a change restarts them (`up` compares digests).
    shape = {
        "PSFLOW_CLUSTER_SHARDS": str(settings.cluster_history_shards),
        "PSFLOW_CLUSTER_PORTS": json.dumps(ports.__dict__, sort_keys=True),
        "PSFLOW_CLUSTER_POSTGRES": postgres_url,
        "PSFLOW_CLUSTER_NAMESPACE": settings.temporal.namespace,
    }
    return [
        *(
            [
                Service(
                    name="postgres",
                    port=settings.cluster_postgres_port,
                    url=f"{postgres_url}  (the cluster's databases {CLUSTER_DATABASES.temporal}, "
                    f"{CLUSTER_DATABASES.visibility})",
                    command=postgres_command,
                    ready=lambda: _port_open(settings.cluster_postgres_port),
                    hint="stop it, or set PSFLOW_CLUSTER_POSTGRES_PORT, or PSFLOW_CLUSTER_POSTGRES_URL to use it",
                )
            ]
            if own_postgres
            else []
        ),
        Service(
            name="temporal-server",
            port=frontend_port,
            extra_ports=ports.internal(),
            url=f"{settings.temporal.address}  ({settings.cluster_history_shards} history shards, namespace "
            f"{settings.temporal.namespace})",
            command=server_command,
            ready=lambda: _port_open(frontend_port),
            hint="stop it, or set PSFLOW_TEMPORAL__ADDRESS and PSFLOW_CLUSTER_INTERNAL_PORT_BASE to free ports",
            env=shape,
            after_start=lambda: _set_up_cluster(settings, progress),
        ),
        Service(
            name="temporal-ui",
            port=ports.ui,
            url=f"Web UI {settings.temporal.ui_url}",
            command=ui_command,
            ready=_http_ok(f"http://127.0.0.1:{ports.ui}/healthz", healthy=200),
            hint="stop it, or set PSFLOW_TEMPORAL__UI_URL to a free port",
            env=shape,
        ),
    ]


def telemetry_services(settings: Settings, progress: Callable[[str], None]) -> list[Service]:
    """Jaeger and Prometheus for ``dev up --telemetry``, each configured under ``<data_dir>/telemetry``."""
    local = LocalTelemetry.from_settings(settings)
    ports = local.jaeger

    def jaeger() -> list[str]:
        local.data_dir.mkdir(parents=True, exist_ok=True)
        local.jaeger_config_path.write_text(config_yaml(ports), encoding="utf-8")
        return jaeger_command(ensure_jaeger(progress), local.jaeger_config_path)

    def prometheus() -> list[str]:
        binary = prometheus_binary() or "prometheus"  # `up` said what to install if it is missing
        local.data_dir.mkdir(parents=True, exist_ok=True)
        local.prometheus_config_path.write_text(local.prometheus_config(), encoding="utf-8")
        return local.prometheus_command(binary)

    return [
        Service(
            name="jaeger",
            port=ports.otlp_grpc,
            extra_ports=(ports.otlp_http, ports.query_http, ports.query_grpc, ports.health),
            url=f"OTLP {ports.otlp_endpoint}  query API {ports.query_url}/api/traces?service=psflow-worker",
            command=jaeger,
            ready=_http_ok(local.jaeger_health_url, healthy=200),
            hint="stop it, or set the PSFLOW_DEV_JAEGER_*_PORT settings to free ports",
        ),
        Service(
            name="prometheus",
            port=local.prometheus_port,
            url=f"{local.prometheus_url}  (see /targets and /alerts)",
            command=prometheus,
            ready=_http_ok(f"{local.prometheus_url}/-/ready", healthy=200),
            hint="stop it (Debian's package may run one as a system service), or set PSFLOW_DEV_PROMETHEUS_PORT",
        ),
    ]


def services(
    settings: Settings, progress: Callable[[str], None], *, telemetry: bool = False, cluster: bool = False
) -> list[Service]:
    """The stack: the codec server, the Temporal dev server (its Web UI decoding through the codec server),
    the SaaS sandbox, the webhook gateway, then a worker; with ``telemetry``, Jaeger and Prometheus first,
    and the worker, gateway and codec server pointed at them; with ``cluster``, a real cluster
    (``cluster_services``) in the dev server's place, at the same address and UI URL."""
    data = settings.data_dir.resolve()
    local = LocalTelemetry.from_settings(settings) if telemetry else None
    environment = worker_environment(settings, telemetry=telemetry)
    temporal_port = int(settings.temporal.address.rpartition(":")[2])
    ui_port = urlsplit(settings.temporal.ui_url).port or 8233
    sandbox_port = urlsplit(settings.sandbox_url).port or 8700
    gateway_url = f"http://127.0.0.1:{settings.gateway_port}"
    codec_url = f"http://127.0.0.1:{settings.codec_server_port}"

    def ui_codec() -> str | None:
        # The Web UI sends no bearer token over http, so the local UI gets the token in the path (loopback
        # only; docs/encryption.md): whoever opens this UI sees decrypted payloads, as its developer should.
        return f"{codec_url}/t/{token(settings)}" if settings.encryption else None

    def temporal_command() -> list[str]:
        codec = ui_codec()
        return [
            str(ensure_temporal_cli(progress)), "server", "start-dev",
            "--ip", "127.0.0.1", "--port", str(temporal_port), "--ui-port", str(ui_port),
            *(["--ui-codec-endpoint", codec] if codec else []),
            "--db-filename", str(data / "temporal.db"), "--log-level", "warn",
            *dev_server_flags(),
            *dev_server_tuning_flags(),
            *dev_server_sqlite_flags(),
        ]  # fmt: skip

    def codec_command() -> list[str]:
        return [
            sys.executable, str(PROJECT_ROOT / "cli.py"), "codec-server",
            "--host", "127.0.0.1", "--port", str(settings.codec_server_port),
        ]  # fmt: skip

    def sandbox_command() -> list[str]:
        return [
            sys.executable, "-m", "sandbox", "--host", "127.0.0.1", "--port", str(sandbox_port),
            "--db", str(data / "sandbox.db"), "--seed", "demo",
        ]  # fmt: skip

    dev_server = Service(
        name="temporal",
        port=temporal_port,
        url=f"{settings.temporal.address}  Web UI {settings.temporal.ui_url}",
        command=temporal_command,
        ready=lambda: _port_open(temporal_port) and _port_open(ui_port),
        hint="stop it, or point PSFLOW_TEMPORAL__ADDRESS at that server and run the worker alone",
        after_start=lambda: _register_search_attributes(settings, progress),
    )
    return [
        *(telemetry_services(settings, progress) if telemetry else []),
        Service(
            name="codec-server",
            port=settings.codec_server_port,
            url=f"{codec_url}/{{encode,decode}} (token: `psflow codec-server token`)",
            command=codec_command,
            ready=_http_ok(f"{codec_url}/decode"),
            hint="stop it, or set PSFLOW_CODEC_SERVER_PORT to a free port",
            env={
                **environment,
                "PSFLOW_TEMPORAL__UI_URL": settings.temporal.ui_url,  # the origin CORS allows
                **(
                    {"PSFLOW_CODEC_SERVER_ORIGINS": json.dumps(origins)}
                    if (origins := settings.codec_server_origins)
                    else {}
                ),
            },
        ),
        *(cluster_services(settings, progress, ui_codec) if cluster else [dev_server]),
        Service(
            name="sandbox",
            port=sandbox_port,
            url=settings.sandbox_url,
            command=sandbox_command,
            ready=_http_ok(f"{settings.sandbox_url}/_admin/status"),
            hint="stop it, or set PSFLOW_SANDBOX_URL to a free port",
        ),
        Service(
            name="gateway",
            port=settings.gateway_port,
            extra_ports=(_port_of(local.gateway_metrics),) if local else (),
            url=f"{gateway_url}/webhooks/{{salesforce,hubspot}}"
            + (f"  metrics http://{local.gateway_metrics}/metrics" if local else ""),
            command=lambda: [sys.executable, "-m", "gateway", "--port", str(settings.gateway_port)],
            ready=_http_ok(f"{gateway_url}/healthz"),
            hint="stop it, or set PSFLOW_GATEWAY_PORT (and PSFLOW_GATEWAY_METRICS_ADDRESS) to free ports",
            env=environment,
            after_start=lambda: _subscribe_gateway(settings, gateway_url),
        ),
        Service(
            name="worker",
            port=_port_of(local.worker_metrics) if local else 0,
            url=f"task queues {settings.task_queue('flows')} + one per domain"
            + (f"  metrics http://{local.worker_metrics}/metrics" if local else ""),
            command=lambda: [sys.executable, str(PROJECT_ROOT / "worker.py")],
            ready=_log_contains(settings.data_dir / "logs" / "worker.log", "psflow worker polling"),
            hint="stop it, or set PSFLOW_METRICS_ADDRESS to a free host:port",
            env=environment,
        ),
    ]
