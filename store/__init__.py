"""Persistence: cross-system id map, posting ledger, audit trail (SQLite by default, Postgres by URL)."""

from store.db import Store, alembic_config
from store.posting import Posting
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
    "ExceptionEvent",
    "ExceptionRecord",
    "IdMapping",
    "InboundEvent",
    "LedgerEntry",
    "Posting",
    "PostingFingerprint",
    "Store",
    "alembic_config",
]
