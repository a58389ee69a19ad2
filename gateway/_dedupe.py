"""Remembering which webhook events the gateway acted on, in the store's ``inbound_events`` table.

An event is acted on (its workflow signalled-with-start) first and recorded only after that
succeeded, each step on its own: no database transaction or lock is held while Temporal is asked,
so a slow or unreachable Temporal never makes other deliveries queue behind the store (SQLite has
one writer). If the signal fails, or the gateway dies mid-way, nothing was recorded and the
sender's retry is acted on. Concurrent deliveries of one event in this process take turns on a lock
striped by the event's key: the first acts, the others then find it recorded. Deliveries reaching
two gateway processes at once may both signal; they signal the one run of the deal's workflow id,
which records each event once, so the effect is the same.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from sqlmodel import select

from store import InboundEvent, Store
from store.db import upsert_insert

__all__ = ["InboundEvents"]

T = TypeVar("T")

_STRIPES = 256


class InboundEvents:
    """Recorded inbound events (blocking calls: run them in a thread from async code)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._locks = tuple(threading.Lock() for _ in range(_STRIPES))

    def act_once(self, source: str, event_id: str, workflow_id: str, act: Callable[[], T]) -> tuple[bool, T | None]:
        """Run ``act`` for an event not recorded yet, and record the event only if ``act`` returns.

        Returns:
            ``(True, act's result)`` when this call acted; ``(False, None)`` when the event was already
            recorded (a redelivery), without calling ``act``.

        Raises:
            Exception: Whatever ``act`` or the store raised; the event is then not recorded.
        """
        with self._locks[zlib.crc32(f"{source}\0{event_id}".encode()) % _STRIPES]:
            if self._recorded(source, event_id):
                return False, None
            result = act()
            self._record(source, event_id, workflow_id)
            return True, result

    def _recorded(self, source: str, event_id: str) -> bool:
        with self._store.session() as session:
            found = session.exec(
                select(InboundEvent.id).where(InboundEvent.source == source, InboundEvent.event_id == event_id)
            ).first()
        return found is not None

    def _record(self, source: str, event_id: str, workflow_id: str) -> None:
        with self._store.session() as session:
            insert = upsert_insert(session, InboundEvent.__table__)  # type: ignore[attr-defined]
            row = {"source": source, "event_id": event_id, "workflow_id": workflow_id, "received_at": datetime.now(UTC)}
            session.execute(insert.values(**row).on_conflict_do_nothing(index_elements=["source", "event_id"]))
