"""The store: a SQLite file by default, Postgres by URL; schema created and migrated by Alembic."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, event
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, create_engine, select

from store.tables import AuditEvent, IdMapping, LedgerEntry

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def upsert_insert(session: Session, table: Any) -> Any:
    """An INSERT on ``table`` in the session's dialect, which offers ``on_conflict_do_nothing/_update``."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql_insert(table)
    return sqlite_insert(table)


@dataclass(frozen=True, slots=True)
class Posting:
    """One ledger row for `Store.record_postings`: what a posting run writes per record.

    A plain dataclass rather than a `LedgerEntry`: building a table model costs ~100 µs of validation
    and ORM bookkeeping, which at a busy day's 100k records held up the worker's event loop.
    """

    kind: str
    source_system: str
    source_id: str
    target_system: str
    target_id: str
    project_id: str
    business_date: date
    amount: Decimal
    currency: str
    billable: bool
    minutes: int | None
    run_id: str
    approved_at: datetime | None
    posted_at: datetime = field(default_factory=lambda: datetime.now(UTC))


_POSTING_FIELDS = tuple(f.name for f in fields(Posting))


def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")  # readers (CLI) never block the worker's writes
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True)


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at our migrations and ``url`` (used by ``psflow db`` too)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


class Store:
    """Access to the id map, the posting ledger and the audit trail."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _engine(url)

    def upgrade(self) -> list[str]:
        """Create or migrate the schema to the newest revision. Safe to run repeatedly.

        Returns:
            What the migrations that ran had to report (e.g. ledger rows converted inexactly); empty
            when the schema was current.
        """
        config = alembic_config(self.url)
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
        return list(config.attributes.get("reports", []))

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on error."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except Exception:
                session.rollback()
                raise

    def map_id(self, entity: str, canonical_id: str, system: str, system_id: str) -> None:
        """Record (or correct) the id a record has in a system."""
        with self.session() as session:
            row = session.exec(
                select(IdMapping).where(
                    IdMapping.entity == entity, IdMapping.canonical_id == canonical_id, IdMapping.system == system
                )
            ).first()
            if row is None:
                session.add(IdMapping(entity=entity, canonical_id=canonical_id, system=system, system_id=system_id))
            elif row.system_id != system_id:
                row.system_id = system_id
                row.updated_at = datetime.now(UTC)
                session.add(row)

    def system_id(self, entity: str, canonical_id: str, system: str) -> str | None:
        """The id ``system`` gave the record, or None if psflow has not seen it there."""
        with self.session() as session:
            row = session.exec(
                select(IdMapping.system_id).where(
                    IdMapping.entity == entity, IdMapping.canonical_id == canonical_id, IdMapping.system == system
                )
            ).first()
            return row

    def canonical_id(self, entity: str, system: str, system_id: str) -> str | None:
        """The canonical id behind a system's id, or None."""
        with self.session() as session:
            return session.exec(
                select(IdMapping.canonical_id).where(
                    IdMapping.system == system, IdMapping.entity == entity, IdMapping.system_id == system_id
                )
            ).first()

    def ids_of(self, entity: str, canonical_id: str) -> dict[str, str]:
        """Every system's id for one record."""
        with self.session() as session:
            rows = session.exec(
                select(IdMapping).where(IdMapping.entity == entity, IdMapping.canonical_id == canonical_id)
            ).all()
            return {row.system: row.system_id for row in rows}

    def record_posting(self, entry: LedgerEntry) -> bool:
        """Add a ledger row; False (and nothing written) when that source record is already in the ledger."""
        try:
            with self.session() as session:
                session.add(entry)
        except IntegrityError:
            return False
        return True

    def record_postings(self, postings: Sequence[Posting]) -> set[str]:
        """Add ledger rows in one transaction; returns the source ids that were new (the others were there)."""
        if not postings:
            return set()
        with self.session() as session:
            table = LedgerEntry.__table__  # type: ignore[attr-defined]
            statement = (
                upsert_insert(session, table)
                .on_conflict_do_nothing(index_elements=["target_system", "kind", "source_id"])
                .returning(table.c.source_id)
            )
            rows = [{name: getattr(posting, name) for name in _POSTING_FIELDS} for posting in postings]
            return {source_id for (source_id,) in session.execute(statement, rows)}

    def posting(self, target_system: str, kind: str, source_id: str) -> LedgerEntry | None:
        """The ledger row of one source record, or None if it was never posted."""
        with self.session() as session:
            return session.exec(
                select(LedgerEntry).where(
                    LedgerEntry.target_system == target_system,
                    LedgerEntry.kind == kind,
                    LedgerEntry.source_id == source_id,
                )
            ).first()

    def posting_runs(self, target_system: str, kind: str, source_ids: Sequence[str]) -> dict[str, str]:
        """The posting run of each of these source records that is in the ledger, in one query per 500 ids."""
        runs: dict[str, str] = {}
        with self.session() as session:
            for start in range(0, len(source_ids), 500):
                chunk = list(source_ids[start : start + 500])
                rows = session.exec(
                    select(LedgerEntry.source_id, LedgerEntry.run_id).where(
                        LedgerEntry.target_system == target_system,
                        LedgerEntry.kind == kind,
                        col(LedgerEntry.source_id).in_(chunk),
                    )
                )
                runs.update({source_id: run_id for source_id, run_id in rows})
        return runs

    def audit(self, actor: str, action: str, entity: str, entity_id: str, **detail: Any) -> None:
        """Append to the audit trail."""
        with self.session() as session:
            session.add(AuditEvent(actor=actor, action=action, entity=entity, entity_id=entity_id, detail=detail))

    def audit_trail(self, entity: str, entity_id: str) -> list[AuditEvent]:
        """The audit events of one record, oldest first."""
        with self.session() as session:
            return list(
                session.exec(
                    select(AuditEvent)
                    .where(AuditEvent.entity == entity, AuditEvent.entity_id == entity_id)
                    .order_by(AuditEvent.at, AuditEvent.id)  # type: ignore[arg-type]
                ).all()
            )
