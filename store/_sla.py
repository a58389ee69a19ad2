"""How long an exception may stay open before it escalates: business days per flow or kind.

An exception escalates once ``first`` business days after it was first seen and again after
``second``; the days are counted in the firm's time zone (`canonical.calendar.add_business_days`).
The policy is looked up by ``"flow.kind"`` first, then ``"flow"``, then the default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from canonical.calendar import add_business_days

LEVELS = 2
"""Escalation levels: 1 past the first threshold, 2 past the second."""


@dataclass(frozen=True)
class Sla:
    """Business days to the first and the second escalation."""

    first: int
    second: int

    def __post_init__(self) -> None:
        if not 0 < self.first < self.second:
            raise ValueError(
                f"an SLA needs 0 < first < second business days, got first={self.first}, second={self.second}"
            )


@dataclass(frozen=True)
class SlaPolicy:
    """The SLAs of every kind of exception, in the firm's time zone."""

    time_zone: str = "UTC"
    default: Sla = Sla(2, 5)
    by_kind: Mapping[str, Sla] = field(default_factory=dict)

    def sla(self, flow: str, kind: str) -> Sla:
        """The SLA of exceptions of ``flow`` and ``kind``."""
        return self.by_kind.get(f"{flow}.{kind}") or self.by_kind.get(flow) or self.default

    def due(self, flow: str, kind: str, first_seen: datetime, level: int) -> datetime | None:
        """When an exception first seen at ``first_seen`` and now at escalation ``level`` escalates next.

        Returns:
            None once it has reached the last level.
        """
        if level >= LEVELS:
            return None
        sla = self.sla(flow, kind)
        return add_business_days(first_seen, sla.first if level == 0 else sla.second, self.time_zone)
