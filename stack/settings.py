"""psflow's settings: ``PSFLOW_*`` environment variables, then an optional TOML file, then defaults."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

import pydantic_settings
from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from activities.resources.models import HRSystemName, UnknownSkills
from store._sla import Sla, SlaPolicy
from store.exceptions import FLOWS as EXCEPTION_FLOWS
from workflows._queues import DOMAINS, FLOWS

SETTINGS_FILE_ENV = "PSFLOW_SETTINGS_FILE"
DEFAULT_SETTINGS_FILE = Path("psflow.toml")


class SettingsError(Exception):
    """The settings could not be read; the message says which file or variable and how to fix it."""


DEFAULT_EXCEPTION_SLA: dict[str, tuple[int, int]] = {
    "default": (2, 5),
    "posting": (1, 3),
    "provisioning": (1, 2),
    "invoicing": (1, 3),
    "reconciliation": (3, 10),
    "amendment": (2, 5),
    "resources": (2, 5),
}
"""Business days to an exception's first and second escalation, by flow (or ``flow.kind``)."""


def _one_entity_on_workday() -> dict[str, HRSystemName]:
    return {"default": "workday"}


class TemporalSettings(BaseModel):
    """Where the Temporal server is and how to reach it."""

    address: str = "localhost:7233"
    namespace: str = "default"
    tls: bool = False
    tls_cert_path: Path | None = None
    tls_key_path: Path | None = None
    api_key: SecretStr | None = None
    ui_url: str = "http://localhost:8233"


class Settings(BaseSettings):
    """Everything the worker, the CLI and the gateway are configured with.

    Nested fields use ``__`` in environment variables: ``PSFLOW_TEMPORAL__ADDRESS=temporal:7233``.
    """

    model_config = SettingsConfigDict(env_prefix="PSFLOW_", env_nested_delimiter="__", extra="ignore")

    temporal: TemporalSettings = Field(default_factory=TemporalSettings)
    task_queue_prefix: str = Field(default="", description="Prepended to every task queue, e.g. 'staging-'")
    data_dir: Path = Field(default=Path(".psflow"), description="Local state: dev server DB, pid files, logs")
    database_url: str | None = Field(default=None, description="Store URL; default SQLite in data_dir")
    sandbox_url: str = "http://127.0.0.1:8700"
    provisioning_sla_minutes: float = Field(default=240, gt=0, description="PSA and ERP records within this time")
    poll_interval_minutes: float = Field(default=15, gt=0, description="Polling fallback for missed webhooks")
    provisioning_resolution_hours: float = Field(default=24, gt=0, description="How long a question may wait")
    graceful_shutdown_s: float = 10.0
    http_log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="WARNING",
        description="Level of httpx's own logger in the worker; INFO logs every request (100k a busy posting day)",
    )
    posting_time: str = Field(
        default="02:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="When the daily posting runs (HH:MM, local)"
    )
    posting_catchup_window_hours: float = Field(default=72, gt=0, description="A posting missed by less still runs")
    posting_lookback_days: int = Field(
        default=7, ge=0, le=62, description="Days before the posted one that each run re-posts, for late approvals"
    )
    posting_overlap: Literal["skip", "buffer_one", "buffer_all", "cancel_other", "terminate_other", "allow_all"] = (
        Field(default="buffer_one", description="What a daily posting does while the previous one still runs")
    )
    firm_time_zone: str = Field(default="UTC", description="IANA zone of the firm's business days and schedules")
    invoice_lines: Literal["entry", "rate"] = Field(
        default="entry",
        description="Invoice lines: one per time entry, or one per hourly rate (entries rounded at posting apart)",
    )
    retro_rate_changes: Literal["adjust", "exception"] = Field(
        default="adjust",
        description="A rate amendment dated back over posted time: post the differences as ERP charges, "
        "or open an exception per entry for a person to decide",
    )
    exception_sla: dict[str, tuple[int, int]] = Field(
        default_factory=lambda: dict(DEFAULT_EXCEPTION_SLA),
        description="Business days to the first and second escalation, by 'default', flow or 'flow.kind'; "
        "entries given are merged over the defaults",
    )
    exception_sweep_minutes: float = Field(default=15, gt=0, description="How often overdue exceptions escalate")
    gateway_host: str = Field(default="127.0.0.1", description="Where `psflow gateway serve` listens")
    gateway_port: int = Field(default=8701, ge=1, le=65535)
    gateway_public_url: str | None = Field(
        default=None, description="The gateway's root as senders call it (behind a proxy); HubSpot signs this URL"
    )
    gateway_hubspot_client_secret: SecretStr = Field(
        default=SecretStr("psflow-demo-secret"), description="The HubSpot app's client secret (signature v3 key)"
    )
    gateway_salesforce_relay_secret: SecretStr = Field(
        default=SecretStr("psflow-demo-relay-secret"), min_length=8, description="Shared with the CDC relay"
    )
    gateway_max_body_bytes: int = Field(default=1024 * 1024, ge=1, description="Larger webhook bodies get 413")
    hr_systems: dict[str, HRSystemName] = Field(
        default_factory=_one_entity_on_workday,
        description="Legal entity → the HR system of record of its people (workday or bamboohr)",
    )
    resource_sync_minutes: float = Field(default=60, gt=0, description="How often the resource sync runs")
    resource_full_sweep_hours: float = Field(
        default=24, gt=0, description="A sync reads every worker (not only HR's changes) once this long has passed"
    )
    resource_time_off_days_back: int = Field(
        default=7, ge=0, le=366, description="Time off applied to the PSA from this many days before today"
    )
    resource_time_off_days_ahead: int = Field(default=90, ge=1, le=731, description="... to this many days after today")
    resource_cost_centres: list[str] | None = Field(
        default=None, description="The cost centres the PSA knows; another one is an exception. None accepts any"
    )
    resource_unknown_skills: UnknownSkills = Field(
        default="create", description="A skill the PSA lacks is created in it, or is an exception"
    )
    resource_skill_map: dict[str, str] = Field(
        default_factory=dict, description="HR skill name → PSA skill name, applied before the check"
    )
    # workers (docs/workers.md)
    worker_identity: str | None = Field(
        default=None,
        description="The name the worker gives Temporal (pollers, activity attempts); default the SDK's pid@host",
    )
    worker_deployment_name: str = Field(
        default="psflow", min_length=1, description="The worker deployment its build id is reported under"
    )
    worker_build_id: str | None = Field(
        default=None,
        description="This build of psflow's workflow code (e.g. the git commit or image tag), reported with every "
        "workflow task; default the SDK's checksum of the loaded modules",
    )
    budget_backend: Literal["auto", "process", "postgres"] = Field(
        default="auto",
        description="Where request budgets are kept: 'process' (this worker's memory), 'postgres' (the store, shared "
        "by every worker of the deployment: database_url must be PostgreSQL), 'auto' (postgres when it is)",
    )
    # metrics
    metrics_address: str | None = Field(
        default=None,
        description="host:port where the worker serves Prometheus metrics (SDK and business), e.g. 127.0.0.1:9464;"
        " unset: none (several workers on one host each need their own port)",
    )
    gateway_metrics_address: str | None = Field(
        default=None, description="host:port where the gateway serves its request metrics, e.g. 127.0.0.1:9465"
    )
    # tracing
    otlp_endpoint: str | None = Field(
        default=None,
        description="OTLP gRPC endpoint traces are exported to (e.g. http://127.0.0.1:4317, a Jaeger or collector);"
        " unset: spans still carry trace ids across Temporal but are not exported",
    )
    # payload encryption (docs/operations.md)
    encryption: bool = Field(default=True, description="Encrypt every payload psflow sends to Temporal (AES-256-GCM)")
    encryption_keys: dict[str, SecretStr] = Field(
        default_factory=dict, description="Key id → base64 AES-256 key; when empty, the keys of encryption_key_dir"
    )
    encryption_key_dir: Path | None = Field(
        default=None,
        description="Secret files `<key id>.key` (base64); default data_dir/keys, its first key generated (0600)",
    )
    encryption_key_id: str | None = Field(
        default=None, description="The key new payloads are encrypted with; default the greatest key id"
    )
    codec_server_host: str = Field(default="127.0.0.1", description="Where `psflow codec-server` listens")
    codec_server_port: int = Field(default=8702, ge=1, le=65535)
    codec_server_token: SecretStr | None = Field(
        default=None, description="Bearer token the codec server requires; else codec_server_token_file's"
    )
    codec_server_token_file: Path | None = Field(
        default=None, description="Secret file holding the token; default data_dir/codec-server.token (generated)"
    )
    codec_server_origins: list[str] | None = Field(
        default=None, description="Web UI origins allowed by CORS; default the origin of temporal.ui_url"
    )
    codec_server_tls_cert: Path | None = Field(
        default=None, description="PEM certificate (chain) the codec server serves https with; unset: plain http"
    )
    codec_server_tls_key: Path | None = Field(default=None, description="PEM private key of codec_server_tls_cert")
    codec_server_client_ca: Path | None = Field(
        default=None,
        description="PEM CA bundle: only clients with a certificate it signed connect (mTLS); token still needed",
    )
    visibility_client_names: bool = Field(
        default=False,
        description="Put the client's name in the PsflowClient search attribute (plain text on the server)",
    )
    # local telemetry (`psflow dev up --telemetry`: a Jaeger and a Prometheus beside the local stack, on loopback)
    dev_jaeger_otlp_port: int = Field(default=4317, ge=1, le=65535, description="The local Jaeger's OTLP gRPC port")
    dev_jaeger_otlp_http_port: int = Field(default=4318, ge=1, le=65535, description="... its OTLP HTTP port")
    dev_jaeger_query_port: int = Field(default=16686, ge=1, le=65535, description="... its query API (HTTP)")
    dev_jaeger_query_grpc_port: int = Field(default=16685, ge=1, le=65535, description="... its query API (gRPC)")
    dev_jaeger_health_port: int = Field(default=13133, ge=1, le=65535, description="... its health check")
    dev_prometheus_port: int = Field(default=9090, ge=1, le=65535, description="The local Prometheus's web and API")

    # cluster (`psflow dev up --cluster`: a real Temporal server on PostgreSQL; `psflow setup` on any cluster)
    namespace_retention_hours: float = Field(
        default=72, ge=24, description="Retention of closed runs in the namespace `psflow setup` creates"
    )
    cluster_history_shards: int = Field(
        default=8, ge=1, description="History shards of the local cluster; fixed once its database exists"
    )
    cluster_postgres_url: str | None = Field(
        default=None,
        description="PostgreSQL the local cluster creates its databases in; unset: one of its own under data_dir",
    )
    cluster_postgres_port: int = Field(
        default=5433, ge=1, le=65535, description="Port of the local cluster's own PostgreSQL"
    )
    cluster_internal_port_base: int = Field(
        default=7234,
        ge=1,
        le=32760,
        description="The local cluster's history, matching, worker and membership ports and frontend HTTP port:"
        " this one and the 7 after it (below 32768: membership ports are stored as smallint)",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = settings_file()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @field_validator("exception_sla")
    @classmethod
    def _sla_per_flow(cls, given: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
        for key, (first, second) in given.items():
            flow = key.split(".", 1)[0]
            if key != "default" and flow not in EXCEPTION_FLOWS:
                raise ValueError(
                    f"{key!r} is not 'default', a flow or 'flow.kind'; the flows are {', '.join(EXCEPTION_FLOWS)}"
                )
            if not 0 < first < second:
                raise ValueError(
                    f"{key!r} is ({first}, {second}) business days: give (first, second) with 0 < first < second"
                )
        return {**DEFAULT_EXCEPTION_SLA, **given}

    @field_validator("hr_systems")
    @classmethod
    def _some_legal_entity(cls, given: dict[str, HRSystemName]) -> dict[str, HRSystemName]:
        if not given:
            raise ValueError('name at least one legal entity and its HR system, e.g. {"default": "workday"}')
        blank = [name for name in given if not name.strip()]
        if blank:
            raise ValueError('a legal entity\'s name is empty: name each entity, e.g. {"uk": "bamboohr"}')
        return given

    @field_validator("resource_cost_centres")
    @classmethod
    def _named_cost_centres(cls, given: list[str] | None) -> list[str] | None:
        if given is not None and (not given or any(not name.strip() for name in given)):
            raise ValueError("list the cost centres' names (none empty), or leave the setting out to accept any")
        return given

    @field_validator("resource_skill_map")
    @classmethod
    def _named_skills(cls, given: dict[str, str]) -> dict[str, str]:
        blank = [f"{hr!r}: {psa!r}" for hr, psa in given.items() if not hr.strip() or not psa.strip()]
        if blank:
            raise ValueError(f"an HR or PSA skill name is empty in {', '.join(blank)}: map a name to a name")
        return given

    def exception_policy(self) -> SlaPolicy:
        """The exceptions' SLAs in the firm's time zone, as the store ages them."""
        sla = {key: Sla(*days) for key, days in self.exception_sla.items()}
        return SlaPolicy(time_zone=self.firm_time_zone, default=sla.pop("default"), by_kind=sla)

    def task_queue(self, domain: str) -> str:
        """The task queue name for a domain (or for ``flows``)."""
        if domain not in (*DOMAINS, FLOWS):
            raise ValueError(f"unknown domain {domain!r}; expected one of {', '.join((*DOMAINS, FLOWS))}")
        return f"{self.task_queue_prefix}{domain}"

    @property
    def store_url(self) -> str:
        """The store's database URL: ``database_url`` or a SQLite file in the data directory."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'psflow.db').resolve()}"


def settings_file() -> Path | None:
    """The settings file to read: ``$PSFLOW_SETTINGS_FILE`` (must exist) or ``./psflow.toml`` if present."""
    named = os.environ.get(SETTINGS_FILE_ENV)
    if named:
        path = Path(named)
        if not path.is_file():
            raise SettingsError(f"{SETTINGS_FILE_ENV}={named} does not name a file: create it or unset the variable")
        return path
    return DEFAULT_SETTINGS_FILE if DEFAULT_SETTINGS_FILE.is_file() else None


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, turning a malformed file or value into one clear SettingsError."""
    path = settings_file()
    if path is not None:
        try:
            tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(
                f"{path} is not valid TOML ({exc}): fix the file or point {SETTINGS_FILE_ENV} elsewhere"
            ) from exc
    try:
        return Settings(**overrides)
    except pydantic_settings.SettingsError as exc:
        # A list or mapping given in a PSFLOW_* variable is JSON; pydantic-settings says only which field failed.
        raise SettingsError(
            f"invalid settings: {exc}: write lists and mappings in PSFLOW_* variables as JSON, "
            """e.g. PSFLOW_HR_SYSTEMS='{"uk": "bamboohr"}'"""
        ) from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in err['loc'])}: {err['msg']} (got {err.get('input')!r})"
            for err in exc.errors()
        )
        where = f" in {path} or PSFLOW_* variables" if path else " in PSFLOW_* variables"
        raise SettingsError(f"invalid settings{where}: {problems}") from exc
