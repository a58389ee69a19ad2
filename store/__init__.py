"""Persistence: cross-system id map, posting ledger, audit trail (SQLite by default, Postgres by URL)."""

from store.db import Store, alembic_config
from store.tables import AuditEvent, IdMapping, LedgerEntry

__all__ = ["AuditEvent", "IdMapping", "LedgerEntry", "Store", "alembic_config"]
