"""The store's tables: cross-system id map, posting ledger, exceptions and audit trail.

These are persistence rows, never sent through Temporal (SQLModel table models skip validation);
activities convert them to canonical models or plain results.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, Numeric, UniqueConstraint
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
    """One PSA record posted to the ERP: what, where, how much, by which run, when.

    ``amount`` is what was posted, rounded once to the currency's minor unit (for time,
    `canonical.bill_for_minutes` of ``minutes`` at the rate); invoices and figures add these amounts up.
    ``minutes`` is the time entry's duration, exact (expenses have none).
    """

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
    minutes: int | None = Field(default=None, description="whole minutes of a time entry; None for expenses")
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


class InboundEvent(SQLModel, table=True):
    """A webhook event the gateway acted on, so a redelivery is recognised and signals nothing."""

    __tablename__ = "inbound_events"
    __table_args__ = (UniqueConstraint("source", "event_id", name="uq_inbound_event"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=32, description="hubspot | salesforce")
    event_id: str = Field(max_length=255, description="the sender's event identity (the deduplication key)")
    workflow_id: str = Field(max_length=255)
    received_at: datetime = Field(default_factory=_now, index=True)


class PostingFingerprint(SQLModel, table=True):
    """The content key of each PSA record a posting run read, to tell a duplicate from its original.

    Two records with the same fingerprint are the same work entered twice in the source: the one
    seen first (lowest ``id``) is the original, the others become ``duplicate`` exceptions.
    """

    __tablename__ = "posting_fingerprint"
    __table_args__ = (
        UniqueConstraint("target_system", "kind", "source_id", name="uq_posting_fingerprint_source"),
        Index("ix_posting_fingerprint_content", "target_system", "kind", "fingerprint"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    source_id: str = Field(max_length=255)
    target_system: str = Field(max_length=32)
    business_date: date = Field(index=True)
    fingerprint: str = Field(max_length=64)
    last_run_id: str = Field(max_length=255)


class ExceptionRecord(SQLModel, table=True):
    """Something a flow could not do, for a person to see, age, fix and close: one model for every flow.

    One row per business key: the same failure seen again updates the row (reason, values,
    ``last_seen``, ``occurrences``); a later successful run for the key resolves it (``resolved_by``
    names the run). ``next_escalation_at`` is when it escalates next (None past the last level).
    """

    __tablename__ = "exception"
    __table_args__ = (
        UniqueConstraint("flow", "system", "kind", "business_key", name="uq_exception_key"),
        Index("ix_exception_state_flow", "state", "flow", "kind"),
        Index("ix_exception_due", "next_escalation_at", "id"),
        Index("ix_exception_state_id", "state", "id"),
        Index("ix_exception_business_key", "business_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    flow: str = Field(
        max_length=16, description="posting | provisioning | invoicing | reconciliation | amendment | resources"
    )
    system: str = Field(max_length=32, description="the system the exception is about, e.g. netsuite")
    kind: str = Field(max_length=32, description="what failed, per flow: time_entry, engagement, hours_mismatch, ...")
    business_key: str = Field(max_length=255, description="the failed item's identity within flow, system and kind")
    business_date: date | None = Field(default=None, index=True)
    reason: str = Field(max_length=32, description="a code: unknown_project, missing_rate, hours_mismatch, ...")
    message: str = Field(max_length=2000)
    values: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    records: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    retry_input: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True), description="the failed item's editable input"
    )
    state: str = Field(default="open", max_length=16, description="open | acknowledged | resolved | ignored")
    owner: str | None = Field(default=None, max_length=128)
    first_seen: datetime = Field(default_factory=_now)
    last_seen: datetime = Field(default_factory=_now)
    occurrences: int = 1
    last_run_id: str = Field(max_length=255)
    escalation_level: int = 0
    escalated_at: datetime | None = None
    next_escalation_at: datetime | None = None
    closed_at: datetime | None = None
    resolved_by: str | None = Field(default=None, max_length=255, description="the run, or the person, that closed it")
    note: str | None = Field(default=None, max_length=500)


class ExceptionEvent(SQLModel, table=True):
    """One step in an exception's history: who did what, when (opened, seen, acknowledged, retried, ...)."""

    __tablename__ = "exception_history"

    id: int | None = Field(default=None, primary_key=True)
    exception_id: int = Field(sa_column=Column(Integer, ForeignKey("exception.id"), nullable=False, index=True))
    at: datetime = Field(default_factory=_now)
    actor: str = Field(max_length=128, description="a run (workflow id) or a person")
    action: str = Field(max_length=32)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
