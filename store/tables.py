"""The store's tables: cross-system id map, posting ledger and audit trail.

These are persistence rows, never sent through Temporal (SQLModel table models skip validation);
activities convert them to canonical models or plain results.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Column, Index, Numeric, UniqueConstraint
from sqlmodel import Field, SQLModel


def _now() -> datetime:
    return datetime.now(UTC)


class IdMapping(SQLModel, table=True):
    """One record's id in one system: (entity, canonical id, system) → system id."""

    __tablename__ = "id_map"
    __table_args__ = (
        UniqueConstraint("entity", "canonical_id", "system", name="uq_id_map_canonical"),
        Index("ix_id_map_system_id", "system", "entity", "system_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    entity: str = Field(max_length=64)
    canonical_id: str = Field(max_length=255)
    system: str = Field(max_length=32)
    system_id: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=_now)
    updated_at: datetime = Field(default_factory=_now)


class LedgerEntry(SQLModel, table=True):
    """One PSA record posted to the ERP: what, where, how much, by which run, when."""

    __tablename__ = "posting_ledger"
    __table_args__ = (UniqueConstraint("target_system", "kind", "source_id", name="uq_ledger_source"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16, description="time_entry | expense")
    source_system: str = Field(max_length=32)
    source_id: str = Field(max_length=255)
    target_system: str = Field(max_length=32)
    target_id: str = Field(max_length=255)
    project_id: str = Field(max_length=255, index=True)
    business_date: date = Field(index=True)
    amount: Decimal = Field(sa_column=Column(Numeric(18, 4), nullable=False))
    currency: str = Field(max_length=3)
    billable: bool = True
    hours: Decimal | None = Field(default=None, sa_column=Column(Numeric(9, 4), nullable=True))
    run_id: str = Field(max_length=255)
    approved_at: datetime | None = None
    posted_at: datetime = Field(default_factory=_now)
    invoice_id: str | None = Field(default=None, max_length=255, index=True)


class AuditEvent(SQLModel, table=True):
    """Something psflow did or a person decided, kept for finance and auditors."""

    __tablename__ = "audit_trail"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=_now, index=True)
    actor: str = Field(max_length=128, description="workflow id, or the person for manual decisions")
    action: str = Field(max_length=64)
    entity: str = Field(max_length=64)
    entity_id: str = Field(max_length=255, index=True)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
