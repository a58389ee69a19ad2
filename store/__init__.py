"""Persistence: cross-system id map, posting ledger, audit trail (SQLite by default, Postgres by URL)."""

from store.db import Store, alembic_config
from store.posting import Posting
from store.resources import Availability, ResourceRow
from store.tables import (
    AuditEvent,
    ExceptionEvent,
    ExceptionRecord,
    IdMapping,
    InboundEvent,
    LedgerEntry,
    PostingFingerprint,
)

__all__ = [
    "AuditEvent",
    "Availability",
    "ExceptionEvent",
    "ExceptionRecord",
    "IdMapping",
    "InboundEvent",
    "LedgerEntry",
    "Posting",
    "PostingFingerprint",
    "ResourceRow",
    "Store",
    "alembic_config",
]
