"""The CloudEvents 1.0 envelope psflow publishes for staffing and analytics (structured mode, JSON)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, Field

from canonical._types import CanonicalModel


class CloudEvent(CanonicalModel):
    """One CloudEvents 1.0 event. ``id`` is deterministic per business fact, so a re-publish is a duplicate
    the receiver drops rather than a second event."""

    id: str = Field(min_length=1)
    source: str = Field(min_length=1, description="e.g. 'psflow/engagement-provisioning'")
    type: str = Field(min_length=1, description="e.g. 'com.psflow.project.activated'")
    subject: str | None = None
    time: AwareDatetime | None = None
    data: dict[str, Any] = Field(default_factory=dict)

    def envelope(self) -> dict[str, Any]:
        """The structured-mode JSON body."""
        body: dict[str, Any] = {
            "specversion": "1.0",
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "datacontenttype": "application/json",
            "data": self.data,
        }
        if self.subject is not None:
            body["subject"] = self.subject
        if self.time is not None:
            body["time"] = self.time.isoformat() if isinstance(self.time, datetime) else self.time
        return body
