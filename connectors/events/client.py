"""A connector for the event sink: CloudEvents over HTTP and Power BI push-dataset rows."""

from __future__ import annotations

import json
from typing import Any

import httpx
from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from canonical.events import CloudEvent
from connectors._core import ConnectorSettings, RestClient, StaticBearerAuth


class EventSinkSettings(ConnectorSettings):
    """Where events go. Locally the sandbox's sink; in production the staffing tool's and BI's endpoints."""

    model_config = SettingsConfigDict(env_prefix="PSFLOW_EVENTS_", extra="ignore")

    base_url: str = "http://127.0.0.1:8700/sink"
    events_path: str = "/events"
    powerbi_dataset_id: str = "psflow"
    token: SecretStr | None = None


class EventSinkConnector:
    """Publishes CloudEvents (structured mode) and analytics rows."""

    def __init__(self, settings: EventSinkSettings, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        self._client = RestClient(
            "events",
            base_url=settings.base_url,
            auth=StaticBearerAuth(settings.token.get_secret_value()) if settings.token else None,
            transport=transport,
            timeout=settings.timeout_s,
        )

    async def publish(self, event: CloudEvent) -> None:
        """Send one event; the receiver dedupes by (source, id), so retries are safe."""
        await self._client.request(
            "POST",
            self.settings.events_path,
            content=json.dumps(event.envelope(), default=str).encode(),
            headers={"Content-Type": "application/cloudevents+json"},
            idempotency_key=f"{event.source}/{event.id}",
        )

    async def push_rows(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Append rows to a table of the analytics push dataset (Power BI's ``{"rows": [...]}`` shape)."""
        await self._client.request(
            "POST",
            f"/powerbi/datasets/{self.settings.powerbi_dataset_id}/tables/{table}/rows",
            content=json.dumps({"rows": rows}, default=str).encode(),
            headers={"Content-Type": "application/json"},
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()
