"""The resource sync's marks and availability events (``events`` task queue).

`publish_availability` turns capacity changes into ``com.psflow.consultant.availability_changed``
CloudEvents (source ``psflow/resources``), 100 a request. An event's id is derived from the run,
the worker, the reason and the first day, so a retried publish repeats the ids and the sink drops
the duplicates; another run announcing the same change gets new ids.
"""

from __future__ import annotations

import asyncio
import hashlib

from temporalio import activity

from activities._errors import classified
from activities._heartbeat import heartbeating
from activities.resources.models import AvailabilityChange, HRSource, PublishAvailability, SaveMark, SyncState
from canonical.events import CloudEvent
from connectors.events import EventSinkConnector
from store import Store
from store import resources as res

EVENT_SOURCE = "psflow/resources"
EVENT_TYPE = "com.psflow.consultant.availability_changed"
BATCH = 100
"""Events per request to the sink (CloudEvents batched mode)."""


def availability_event(run_id: str, change: AvailabilityChange) -> CloudEvent:
    """The event of one capacity change: who, from when (to when), why, and the hours if any."""
    key = f"{run_id}\n{change.worker_id}\n{change.reason}\n{change.start.isoformat()}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return CloudEvent(
        id=f"availability:{change.worker_id}:{change.reason}:{change.start.isoformat()}:{digest}",
        source=EVENT_SOURCE,
        type=EVENT_TYPE,
        subject=f"worker:{change.worker_id}",
        data={
            "worker_id": change.worker_id,
            "psa_user_id": change.psa_user_id,
            "email": change.email,
            "start": change.start.isoformat(),
            "end": change.end.isoformat() if change.end else None,
            "reason": change.reason,
            "hours": change.hours,
            "run_id": run_id,
        },
    )


class ResourceStateActivities:
    """The sync's marks in the store, its staging clean-up, and the availability events."""

    def __init__(self, store: Store, sink: EventSinkConnector) -> None:
        self._store = store
        self._sink = sink

    @activity.defn(name="resources.sync_state")
    async def sync_state(self, source: HRSource) -> SyncState:
        """Where the source's sync stands: its high-water mark and last full sweep (None: never)."""
        state = await asyncio.to_thread(res.sync_state, self._store, source)
        return SyncState(high_water_mark=state.high_water_mark, last_full_sweep_at=state.last_full_sweep_at)

    @activity.defn(name="resources.save_mark")
    async def save_mark(self, request: SaveMark) -> None:
        """Move the source's mark (and last full sweep) forward; an older one changes nothing."""
        await asyncio.to_thread(
            res.save_mark, self._store, request.source, request.high_water_mark, request.full_sweep_at
        )

    @activity.defn(name="resources.publish_availability")
    @classified
    @heartbeating
    async def publish_availability(self, request: PublishAvailability) -> int:
        """Publish one event per change; returns how many were sent (a retry sends the same ids again)."""
        events = [availability_event(request.run_id, change) for change in request.changes]
        for start in range(0, len(events), BATCH):
            await self._sink.publish_batch(events[start : start + BATCH])
        return len(events)

    @activity.defn(name="resources.clear_staging")
    async def clear_staging(self, run_id: str) -> None:
        """Drop the time off the run staged."""
        await asyncio.to_thread(res.clear_staging, self._store, run_id)
