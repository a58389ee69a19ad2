"""What time & expense posting keeps: the ledger of posted records, content keys, and exceptions.

- The ledger: `record_postings` writes a page's rows in one transaction, `posting_runs` says which
  records a run (or an earlier one) already posted, so nothing is posted twice.
- Content keys: `claim_fingerprints` keeps the key of every record a run reads, so the second of two
  records with the same content is recognised as a duplicate in the source.
- Exceptions, the PSA records a run could not post, kept until fixed or ignored: the posting
  activity records them (`record_exceptions`) and resolves them when the record posts later
  (`resolve_exceptions`) or no longer comes from the PSA (`settle_run`); the CLI lists and ignores them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlmodel import col, delete, select

from store.db import Store, upsert_insert
from store.tables import LedgerEntry, PostingException, PostingFingerprint

OPEN, RESOLVED, IGNORED = "open", "resolved", "ignored"
POSTED_KINDS = ("time_entry", "expense")
"""The kinds of PSA record a posting run reads (exceptions may have others, e.g. ``rate_change``)."""
_IDS_PER_QUERY = 500


@dataclass(frozen=True, slots=True)
class Posting:
    """One ledger row for `record_postings`: what a posting run writes per record.

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


def record_postings(store: Store, postings: Sequence[Posting]) -> set[str]:
    """Add ledger rows in one transaction; returns the source ids that were new (the others were there)."""
    if not postings:
        return set()
    with store.session() as session:
        table = LedgerEntry.__table__  # type: ignore[attr-defined]
        statement = (
            upsert_insert(session, table)
            .on_conflict_do_nothing(index_elements=["target_system", "kind", "source_id"])
            .returning(table.c.source_id)
        )
        rows = [{name: getattr(posting, name) for name in _POSTING_FIELDS} for posting in postings]
        return {source_id for (source_id,) in session.execute(statement, rows)}


def posting_runs(store: Store, target_system: str, kind: str, source_ids: Sequence[str]) -> dict[str, str]:
    """The posting run of each of these source records that is in the ledger, in one query per 500 ids."""
    runs: dict[str, str] = {}
    with store.session() as session:
        for start in range(0, len(source_ids), _IDS_PER_QUERY):
            chunk = list(source_ids[start : start + _IDS_PER_QUERY])
            rows = session.exec(
                select(LedgerEntry.source_id, LedgerEntry.run_id).where(
                    LedgerEntry.target_system == target_system,
                    LedgerEntry.kind == kind,
                    col(LedgerEntry.source_id).in_(chunk),
                )
            )
            runs.update({source_id: run_id for source_id, run_id in rows})
    return runs


def posted_since(
    store: Store, *, target_system: str, project_id: str, since: date, kinds: Sequence[str]
) -> list[LedgerEntry]:
    """A project's ledger rows of these kinds dated on or after ``since`` (what a repricing compares)."""
    with store.session() as session:
        return list(
            session.exec(
                select(LedgerEntry).where(
                    LedgerEntry.project_id == project_id,
                    LedgerEntry.target_system == target_system,
                    col(LedgerEntry.kind).in_(kinds),
                    LedgerEntry.business_date >= since,
                )
            ).all()
        )


@dataclass(frozen=True)
class Problem:
    """One record that could not be posted: which, when, why, with the offending values."""

    kind: str
    source_id: str
    business_date: date
    reason: str
    message: str
    values: dict[str, Any] = field(default_factory=dict)
    retry_input: dict[str, Any] | None = None
    """The record's fields a person may edit for `psflow exceptions retry` (None: a retry takes no edits)."""


def record_exceptions(
    store: Store, problems: Sequence[Problem], *, source_system: str, target_system: str, run_id: str
) -> None:
    """Open an exception per problem, or update the record's existing one.

    A resolved exception whose record fails again is reopened; an ignored one stays ignored (its
    details are still updated). ``attempts`` counts the runs that met the problem, so a retried
    activity of the same run does not count twice.
    """
    if not problems:
        return
    now = datetime.now(UTC)
    with store.session() as session:
        for problem in problems:
            row = session.exec(
                select(PostingException).where(
                    PostingException.target_system == target_system,
                    PostingException.kind == problem.kind,
                    PostingException.source_id == problem.source_id,
                )
            ).first()
            if row is None:
                row = PostingException(
                    kind=problem.kind,
                    source_system=source_system,
                    source_id=problem.source_id,
                    target_system=target_system,
                    business_date=problem.business_date,
                    reason=problem.reason,
                    message=problem.message[:2000],
                    values=problem.values,
                    last_run_id=run_id,
                    first_seen=now,
                    last_seen=now,
                )
            else:
                if row.last_run_id != run_id:
                    row.attempts += 1
                if row.status == RESOLVED:
                    row.status, row.closed_at, row.note = OPEN, None, None
                row.business_date = problem.business_date
                row.reason, row.message, row.values = problem.reason, problem.message[:2000], problem.values
                row.last_seen, row.last_run_id = now, run_id
            session.add(row)


def resolve_exceptions(
    store: Store, *, target_system: str, kind: str, source_ids: Iterable[str], note: str = "posted"
) -> int:
    """Mark the open (or ignored) exceptions of these records resolved; returns how many changed."""
    ids = list(source_ids)
    if not ids:
        return 0
    with store.session() as session:
        rows = session.exec(
            select(PostingException).where(
                PostingException.target_system == target_system,
                PostingException.kind == kind,
                col(PostingException.source_id).in_(ids),
                PostingException.status != RESOLVED,
            )
        ).all()
        now = datetime.now(UTC)
        for row in rows:
            row.status, row.closed_at, row.note = RESOLVED, now, note
            session.add(row)
        return len(rows)


def claim_fingerprints(
    store: Store,
    *,
    target_system: str,
    kind: str,
    business_date: date,
    fingerprints: Sequence[tuple[str, str]],
    run_id: str,
) -> dict[str, str]:
    """Record the content key of each record read, in source order; returns duplicate → original.

    Args:
        fingerprints: ``(source_id, fingerprint)`` pairs in the order the source lists the records,
            so that of two records with the same content the one created first is the original.

    Returns:
        For each record whose content an earlier-seen record already has, that record's source id.
    """
    if not fingerprints:
        return {}
    with store.session() as session:
        statement = upsert_insert(session, PostingFingerprint.__table__)  # type: ignore[attr-defined]
        # A record seen before keeps its row (and its place in line); new ones are added in source order.
        statement = statement.on_conflict_do_update(
            index_elements=["target_system", "kind", "source_id"],
            set_={
                "business_date": statement.excluded.business_date,
                "fingerprint": statement.excluded.fingerprint,
                "last_run_id": statement.excluded.last_run_id,
            },
        )
        rows = [
            {
                "kind": kind,
                "source_id": source_id,
                "target_system": target_system,
                "business_date": business_date,
                "fingerprint": key,
                "last_run_id": run_id,
            }
            for source_id, key in fingerprints
        ]
        # One executemany: both drivers the store runs on (sqlite3, psycopg) execute its rows one after
        # another in list order (no multi-row VALUES without RETURNING), so new ids follow source order.
        session.execute(statement, rows)
        keys = {key for _, key in fingerprints}
        first: dict[str, str] = {}
        for fingerprint_key, source_id in session.execute(
            select(PostingFingerprint.fingerprint, PostingFingerprint.source_id)
            .where(
                PostingFingerprint.target_system == target_system,
                PostingFingerprint.kind == kind,
                col(PostingFingerprint.fingerprint).in_(keys),
            )
            .order_by(col(PostingFingerprint.id))
        ):
            first.setdefault(fingerprint_key, source_id)
        return {source_id: first[key] for source_id, key in fingerprints if first[key] != source_id}


def settle_run(store: Store, *, target_system: str, business_date: date, run_id: str) -> int:
    """After a run read every record of its date: close what the PSA no longer lists for that date.

    Open exceptions of the date that the run did not meet again are resolved (the record was
    deleted, unapproved or moved to another day), and their content keys are forgotten so they
    no longer make other records duplicates. Returns how many exceptions were resolved.
    """
    with store.session() as session:
        rows = session.exec(
            select(PostingException).where(
                PostingException.target_system == target_system,
                PostingException.business_date == business_date,
                PostingException.status == OPEN,
                PostingException.last_run_id != run_id,
                # Only what a posting run reads; a rate change over posted time waits for a person.
                col(PostingException.kind).in_(POSTED_KINDS),
            )
        ).all()
        now = datetime.now(UTC)
        for row in rows:
            row.status, row.closed_at = RESOLVED, now
            row.note = f"no longer an approved record dated {business_date} in the PSA"
            session.add(row)
        session.exec(
            delete(PostingFingerprint).where(
                col(PostingFingerprint.target_system) == target_system,
                col(PostingFingerprint.business_date) == business_date,
                col(PostingFingerprint.last_run_id) != run_id,
            )
        )
        return len(rows)


def list_exceptions(
    store: Store, *, status: str | None = OPEN, business_date: date | None = None, limit: int = 200
) -> list[PostingException]:
    """Exceptions, newest business date first; ``status=None`` lists every status."""
    query = select(PostingException)
    if status is not None:
        query = query.where(PostingException.status == status)
    if business_date is not None:
        query = query.where(PostingException.business_date == business_date)
    query = query.order_by(col(PostingException.business_date).desc(), col(PostingException.id)).limit(limit)
    with store.session() as session:
        return list(session.exec(query).all())


def ignore_exception(store: Store, exception_id: int, *, note: str) -> PostingException:
    """Mark an exception ignored: it stays unposted and leaves the open list.

    Raises:
        LookupError: No exception has that id.
    """
    with store.session() as session:
        row = session.get(PostingException, exception_id)
        if row is None:
            raise LookupError(f"no posting exception has id {exception_id}")
        row.status, row.closed_at, row.note = IGNORED, datetime.now(UTC), note
        session.add(row)
        return row
