"""Activities that publish business events (``events`` task queue)."""

from __future__ import annotations

from temporalio import activity

from activities._errors import classified
from activities._heartbeat import heartbeating
from activities.models import AnalyticsRows
from canonical.events import CloudEvent
from connectors.events import EventSinkConnector


class EventActivities:
    """CloudEvents for the staffing tool, rows for analytics."""

    def __init__(self, sink: EventSinkConnector) -> None:
        self._sink = sink

    @activity.defn(name="events.publish")
    @classified
    @heartbeating
    async def publish(self, event: CloudEvent) -> None:
        """Publish one CloudEvent; its deterministic id makes a retry a duplicate the sink drops."""
        await self._sink.publish(event)

    @activity.defn(name="events.push_rows")
    @classified
    @heartbeating
    async def push_rows(self, rows: AnalyticsRows) -> None:
        """Append rows to the analytics push dataset."""
        await self._sink.push_rows(rows.table, rows.rows)
