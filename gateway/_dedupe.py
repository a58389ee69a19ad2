"""Remembering which webhook events the gateway acted on, in the store's ``inbound_events`` table.

An event is claimed *before* its workflow is signalled: the unique (source, event_id) constraint
lets exactly one of two concurrent deliveries through. A claim whose signal then fails is
released, so the sender's retry is not mistaken for a duplicate.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from store import InboundEvent, Store

__all__ = ["InboundEvents"]


class InboundEvents:
    """Claims on inbound event ids (blocking calls: run them in a thread from async code)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def claim(self, source: str, event_id: str, workflow_id: str) -> bool:
        """Record the event; False when it was already recorded (a redelivery)."""
        try:
            with self._store.session() as session:
                session.add(InboundEvent(source=source, event_id=event_id, workflow_id=workflow_id))
        except IntegrityError:
            return False
        return True

    def release(self, source: str, event_id: str) -> None:
        """Forget a claim whose workflow could not be signalled, so a redelivery is acted on."""
        with self._store.session() as session:
            claimed = session.exec(
                select(InboundEvent).where(InboundEvent.source == source, InboundEvent.event_id == event_id)
            ).first()
            if claimed is not None:
                session.delete(claimed)
