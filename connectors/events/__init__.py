"""Publishing business events: CloudEvents to the staffing tool, rows to the analytics push dataset."""

from connectors.events.client import EventSinkConnector, EventSinkSettings
from connectors.events.models import CloudEvent

__all__ = ["CloudEvent", "EventSinkConnector", "EventSinkSettings"]
