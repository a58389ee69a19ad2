"""What time & expense posting keeps: the ledger of posted records, content keys, and exceptions.

- The ledger: `record_postings` writes a page's rows in one transaction, `posting_runs` says which
  records a run (or an earlier one) already posted, so nothing is posted twice.
- Content keys: `claim_fingerprints` keeps the key of every record a run reads, so the second of two
  records with the same content is recognised as a duplicate in the source.
- Exceptions, the PSA records a run could not post, kept in the one exceptions model
  (`store.exceptions`, flow ``posting``) until fixed or ignored: the posting activity records them
  (`record_exceptions`) and resolves them when the record posts later (`resolve_exceptions`) or no
  longer comes from the PSA (`settle_run`); `psflow exceptions` lists and acts on them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlmodel import col, delete, select

from store import exceptions
from store.db import Store, upsert_insert
from store.tables import ExceptionRecord, LedgerEntry, PostingFingerprint

FLOW = "posting"
"""The flow of posting's exceptions in the one exceptions model (`store.exceptions`)."""
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
    """Open a posting exception per problem (`store.exceptions.record`), or count the record's existing one again.

    The exception is the record's in the target system: flow ``posting``, system ``target_system``,
    its kind, business key the PSA record id; the PSA record goes in ``records``. A resolved one whose
    record fails again is reopened; an ignored one stays ignored (its details are still updated).
    """
    if not problems:
        return
    exceptions.record(
        store,
        [
            exceptions.Occurrence(
                flow=FLOW,
                system=target_system,
                kind=problem.kind,
                business_key=problem.source_id,
                reason=problem.reason,
                message=problem.message,
                values=problem.values,
                records=[{"system": source_system, "type": problem.kind, "id": problem.source_id}],
                business_date=problem.business_date,
                retry_input=problem.retry_input,
            )
            for problem in problems
        ],
        run_id=run_id,
    )


def resolve_exceptions(
    store: Store,
    *,
    target_system: str,
    kind: str,
    source_ids: Iterable[str],
    note: str = "posted",
    run_id: str | None = None,
) -> int:
    """Resolve the active exceptions of these records, which posted (or were settled); returns how many.

    ``resolved_by`` names ``run_id``, the run that posted them, or says ``note`` when no run is named.
    """
    ids = list(source_ids)
    if not ids:
        return 0
    return exceptions.resolve(
        store, flow=FLOW, system=target_system, kind=kind, business_keys=ids, run_id=run_id or note
    )


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

    Active exceptions of the date that the run did not meet again are resolved, naming the run (the
    record was deleted, unapproved or moved to another day), and their content keys are forgotten so
    they no longer make other records duplicates. Only the kinds a posting run reads: a rate change
    over posted time waits for a person. Returns how many exceptions were resolved.
    """
    with store.session() as session:
        # What this run met again it recorded again, so its run is the last that saw them.
        seen = set(
            session.exec(
                select(ExceptionRecord.business_key).where(
                    ExceptionRecord.flow == FLOW,
                    ExceptionRecord.system == target_system,
                    ExceptionRecord.business_date == business_date,
                    ExceptionRecord.last_run_id == run_id,
                    col(ExceptionRecord.kind).in_(POSTED_KINDS),
                    col(ExceptionRecord.state).in_(exceptions.ACTIVE),
                )
            ).all()
        )
    settled = exceptions.resolve_absent(
        store,
        flow=FLOW,
        system=target_system,
        kinds=POSTED_KINDS,
        business_date=business_date,
        seen_keys=seen,
        run_id=run_id,
    )
    with store.session() as session:
        session.exec(
            delete(PostingFingerprint).where(
                col(PostingFingerprint.target_system) == target_system,
                col(PostingFingerprint.business_date) == business_date,
                col(PostingFingerprint.last_run_id) != run_id,
            )
        )
    return settled


_STATES = {"open": (exceptions.OPEN,), "active": exceptions.ACTIVE}


def list_exceptions(
    store: Store, *, status: str | None = "open", business_date: date | None = None, limit: int = 200
) -> list[ExceptionRecord]:
    """Posting exceptions in id order: ``status`` a state or ``active`` (open or acknowledged), None for all."""
    states = None if status is None else _STATES.get(status, (status,))
    return exceptions.find(store, states=states, flow=FLOW, business_date=business_date, limit=limit)


def ignore_exception(store: Store, exception_id: int, *, note: str, actor: str = "psflow") -> ExceptionRecord:
    """Ignore an active exception: its record stays unposted and the exception leaves the active list.

    Raises:
        LookupError: No exception has that id.
        ValueError: It is resolved or ignored already.
    """
    return exceptions.act(store, exception_id, "ignore", actor=actor, note=note)
