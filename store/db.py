"""The store: a SQLite file by default, Postgres by URL; schema created and migrated by Alembic."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, event
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, create_engine, select

from store._sla import SlaPolicy
from store.tables import AuditEvent, IdMapping

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def upsert_insert(session: Session, table: Any) -> Any:
    """An INSERT on ``table`` in the session's dialect, which offers ``on_conflict_do_nothing/_update``."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql_insert(table)
    return sqlite_insert(table)


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

    def __init__(self, url: str, *, exception_policy: SlaPolicy | None = None) -> None:
        self.url = url
        self.engine = _engine(url)
        self.exception_policy = exception_policy or SlaPolicy()
        """When exceptions recorded through this store escalate (the worker builds it from settings)."""

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
