"""A connector for the event sink: CloudEvents over HTTP and Power BI push-dataset rows."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import httpx
from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from canonical.events import CloudEvent
from connectors._core import BaseConnector, ConnectorSettings, StaticBearerAuth


class EventSinkSettings(ConnectorSettings):
    """Where events go. Locally the sandbox's sink; in production the staffing tool's and BI's endpoints."""

    model_config = SettingsConfigDict(env_prefix="PSFLOW_EVENTS_", extra="ignore")

    base_url: str = "http://127.0.0.1:8700/sink"
    events_path: str = "/events"
    powerbi_dataset_id: str = "psflow"
    token: SecretStr | None = None


class EventSinkConnector(BaseConnector[EventSinkSettings]):
    """Publishes CloudEvents (structured mode) and analytics rows."""

    def __init__(self, settings: EventSinkSettings, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        auth = StaticBearerAuth(settings.token.get_secret_value()) if settings.token else None
        super().__init__("events", settings, transport=transport, auth=auth)

    async def publish(self, event: CloudEvent) -> None:
        """Send one event; the receiver dedupes by (source, id), so retries are safe."""
        await self.client.request(
            "POST",
            self.settings.events_path,
            content=json.dumps(event.envelope(), default=str).encode(),
            headers={"Content-Type": "application/cloudevents+json"},
            idempotency_key=f"{event.source}/{event.id}",
        )

    async def publish_batch(self, events: Sequence[CloudEvent]) -> None:
        """Send several events in one request (CloudEvents batched mode); the receiver dedupes each by (source, id).

        The idempotency key names the batch's events, so a retried request is the same request.
        """
        if not events:
            return
        ids = hashlib.sha256("\n".join(f"{event.source}/{event.id}" for event in events).encode()).hexdigest()
        await self.client.request(
            "POST",
            self.settings.events_path,
            content=json.dumps([event.envelope() for event in events], default=str).encode(),
            headers={"Content-Type": "application/cloudevents-batch+json"},
            idempotency_key=f"batch/{ids}",
        )

    async def push_rows(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Append rows to a table of the analytics push dataset (Power BI's ``{"rows": [...]}`` shape)."""
        await self.client.request(
            "POST",
            f"/powerbi/datasets/{self.settings.powerbi_dataset_id}/tables/{table}/rows",
            content=json.dumps({"rows": rows}, default=str).encode(),
            headers={"Content-Type": "application/json"},
        )
