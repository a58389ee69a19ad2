"""Remembering which webhook events the gateway acted on, in the store's ``inbound_events`` table.

An event's row is inserted *before* its workflow is signalled and committed only *after* the signal
succeeded, in one transaction. The insert holds the event's unique (source, event_id) key, so a
concurrent delivery of the same event waits for the outcome: a duplicate once the first commits, a
fresh claim if it rolls back. If the signal fails, or the gateway dies mid-way, nothing was recorded
and the sender's retry is acted on. The one thing left to chance is a commit that fails after the
signal succeeded: the retry then signals the same run once more, which converges on it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import IntegrityError

from store import InboundEvent, Store

__all__ = ["InboundEvents"]

T = TypeVar("T")


class InboundEvents:
    """Recorded inbound events (blocking calls: run them in a thread from async code)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def act_once(self, source: str, event_id: str, workflow_id: str, act: Callable[[], T]) -> tuple[bool, T | None]:
        """Run ``act`` for an event not recorded yet, and record the event only if ``act`` returns.

        Returns:
            ``(True, act's result)`` when this call acted; ``(False, None)`` when the event was already
            recorded (a redelivery), without calling ``act``.

        Raises:
            Exception: Whatever ``act`` or the store raised; the event is then not recorded.
        """
        with self._store.session() as session:
            session.add(InboundEvent(source=source, event_id=event_id, workflow_id=workflow_id))
            try:
                session.flush()
            except IntegrityError:
                session.rollback()
                return False, None
            return True, act()
