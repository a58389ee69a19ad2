"""Publishing business events: CloudEvents to the staffing tool, rows to the analytics push dataset."""

from canonical.events import CloudEvent
from connectors.events.client import EventSinkConnector, EventSinkSettings

__all__ = ["CloudEvent", "EventSinkConnector", "EventSinkSettings"]
