"""Escalating overdue exceptions (``events`` task queue): one page per call, one CloudEvent per escalation.

The store commits a page's escalations before their events go out, so an attempt can fail in
between (the sink down, the worker killed). The retry then first sends again every escalation
the store's history stamps with the sweep's ``as_of``: their event ids are deterministic, so the
sink drops the ones it already has and receives the ones it missed; and it counts the ones the
sweep had not counted yet. Only then does it escalate the next page. (Two sweeps at the very same
``as_of`` would make a retry of the second count the first's escalations too.)
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime

from pydantic import AwareDatetime, BaseModel, Field
from temporalio import activity

from activities import _metrics
from activities._errors import classified
from activities._heartbeat import heartbeating
from canonical.events import CloudEvent
from connectors.events import EventSinkConnector
from store import Store, figures
from store import exceptions as exc

EVENT_SOURCE = "psflow/exceptions"
EVENT_TYPE = "com.psflow.exception.escalated"
BATCH = 100
"""Events per request to the sink (CloudEvents batched mode)."""
RECOVERY_PAGE = 1000


class EscalateRequest(BaseModel):
    """One page of the sweep at ``as_of``."""

    as_of: AwareDatetime
    limit: int = Field(default=500, ge=1, le=5000)
    counted: dict[int, int] = Field(default_factory=dict)
    """Escalations by level the sweep's earlier pages reported: a retry reports the rest of what it finds."""


class EscalatedPage(BaseModel):
    """What one call escalated: counts only, so the sweep's history stays small."""

    escalated: int = 0
    """Escalated by this attempt's page: fewer than ``limit`` means there are no more."""
    by_level: dict[int, int] = Field(default_factory=dict)
    """Escalations by level this call made, including those of a failed attempt before it."""
    resent: int = 0
    """Events of earlier attempts sent again on a retry (the sink drops those it had)."""


def _utc(instant: datetime) -> datetime:
    """The instant in UTC: event ids and comparisons must not depend on the zone an instant came in."""
    return instant.astimezone(UTC)


def escalation_event(escalated: exc.Escalated, as_of: datetime) -> CloudEvent:
    """The event of one escalation: ids and states only, never the exception's values or message.

    The id names the exception, the level and the sweep's instant: a retry repeats it (the sink
    drops the duplicate), and an exception reopened and escalated again later gets a new one.
    """
    at = _utc(as_of)
    return CloudEvent(
        id=f"exception:{escalated.id}:escalated:{escalated.level}:{at:%Y%m%dT%H%M%S.%fZ}",
        source=EVENT_SOURCE,
        type=EVENT_TYPE,
        subject=f"exception:{escalated.id}",
        time=at,
        data={
            "id": escalated.id,
            "flow": escalated.flow,
            "kind": escalated.kind,
            "system": escalated.system,
            "business_key": escalated.business_key,
            "level": escalated.level,
            "first_seen": _utc(escalated.first_seen).isoformat(),
            "due_at": _utc(escalated.due_at).isoformat(),
        },
    )


def escalations_at(store: Store, as_of: datetime) -> list[exc.Escalated]:
    """Every escalation the store holds from a sweep at ``as_of``: one per level an exception reached then."""
    at, found, after = _utc(as_of), [], None
    while True:
        page = exc.find(store, escalated=True, after_id=after, limit=RECOVERY_PAGE)
        for record in page:
            if record.escalated_at is None or _utc(record.escalated_at) != at:
                continue
            assert record.id is not None
            found += [
                exc.Escalated(
                    id=record.id,
                    flow=record.flow,
                    system=record.system,
                    kind=record.kind,
                    business_key=record.business_key,
                    level=int(event.detail["level"]),
                    first_seen=record.first_seen,
                    due_at=datetime.fromisoformat(event.detail["due_at"]),
                )
                for event in exc.history(store, record.id)
                if event.action == "escalated" and _utc(event.at) == at
            ]
        if len(page) < RECOVERY_PAGE:
            return found
        after = page[-1].id


class ExceptionSweepActivities:
    """Escalation of the exceptions past their SLA, with the events that tell people."""

    def __init__(self, store: Store, sink: EventSinkConnector) -> None:
        self._store = store
        self._sink = sink

    @activity.defn(name="exceptions.escalate")
    @classified
    @heartbeating
    async def escalate(self, request: EscalateRequest) -> EscalatedPage:
        """Escalate one page of exceptions due at ``as_of`` and publish an event for each.

        A page shorter than ``limit`` is the last one.
        """
        by_level: Counter[int] = Counter()
        resent = 0
        if activity.info().attempt > 1:
            earlier = await asyncio.to_thread(escalations_at, self._store, request.as_of)
            await self._publish(earlier, request.as_of)
            resent = len(earlier)
            # What an earlier attempt escalated and never reported: all of the sweep's so far, less the counted.
            by_level = Counter(item.level for item in earlier) - Counter(request.counted)
        page = await asyncio.to_thread(exc.escalate_due, self._store, now=request.as_of, limit=request.limit)
        await self._publish(page, request.as_of)
        by_level.update(item.level for item in page)
        _metrics.escalated(by_level)
        _metrics.exceptions_open(await asyncio.to_thread(figures.open_exceptions, self._store, request.as_of))
        return EscalatedPage(escalated=len(page), by_level=dict(by_level), resent=resent)

    async def _publish(self, escalations: Sequence[exc.Escalated], as_of: datetime) -> None:
        for start in range(0, len(escalations), BATCH):
            chunk = escalations[start : start + BATCH]
            await self._sink.publish_batch([escalation_event(escalated, as_of) for escalated in chunk])
