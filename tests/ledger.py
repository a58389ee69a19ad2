"""Ledger rows as a test arranges them (any field, an invoice already taken) and reads them back one by one.

Posting itself writes the ledger a page at a time (`store.posting.record_postings`); tests that set up
invoicing or migrations need single rows with values posting would not write.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from store import LedgerEntry, Store


def add(store: Store, row: LedgerEntry) -> bool:
    """Add a ledger row; False (and nothing written) when that source record is already in the ledger."""
    try:
        with store.session() as session:
            session.add(row)
    except IntegrityError:
        return False
    return True


def find(store: Store, target_system: str, kind: str, source_id: str) -> LedgerEntry:
    """The ledger row of one source record (the test fails when there is none)."""
    with store.session() as session:
        row = session.exec(
            select(LedgerEntry).where(
                LedgerEntry.target_system == target_system,
                LedgerEntry.kind == kind,
                LedgerEntry.source_id == source_id,
            )
        ).first()
    assert row is not None, f"no ledger row for {kind} {source_id} to {target_system}"
    return row
