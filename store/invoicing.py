"""Invoicing over the posting ledger: which rows an invoice bills, and which invoice a run makes.

A billing cycle's invoice for a project takes the project's posted, billable ledger rows dated on
or before the period's last day that no invoice has taken yet. Rows approved late for an earlier
month therefore go on the next cycle's invoice instead of being stranded. The rows are *reserved*
for the invoice (``invoice_id`` set, in one ``UPDATE ... WHERE invoice_id IS NULL``) before the
ERP invoice is written. Two invoices of the same project therefore never bill one row twice, and
a retry rebuilds exactly the rows the first attempt took. The ``invoice.posted`` audit event marks
the moment the ERP invoice exists; rows reserved by an invoice that never posted stay with it
until a re-run of that project and period posts it.

A project's invoices for one period are numbered: the first is ``inv:{project_id}:{YYYY-MM}``,
later *supplementary* ones (for rows posted after it was made) ``inv:{project_id}:{YYYY-MM}.{n}``.
When one invoice's rows are in several currencies, each currency gets ``{invoice id}:{currency}``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_, func, or_, update
from sqlmodel import col, select

from store.db import Store
from store.exceptions import ACTIVE
from store.posting import posting_runs
from store.tables import AuditEvent, ExceptionRecord, LedgerEntry

INVOICE_POSTED = "invoice.posted"
"""The audit action recorded once per invoice when the ERP has it."""
NOTHING_TO_INVOICE = "invoice.nothing_to_invoice"
"""The audit action recorded when an invoice's run found nothing to bill: its number is used up."""
_SUFFIX = re.compile(r"(?:\.(?P<sequence>[1-9]\d*))?(?::[A-Z]{3})?")


def invoice_id(project_id: str, period: str, sequence: int = 1) -> str:
    """The invoice id (and ERP external id) of a project's ``sequence``-th invoice for a ``YYYY-MM`` period."""
    base = f"inv:{project_id}:{period}"
    return base if sequence == 1 else f"{base}.{sequence}"


def _claimed_by(base_id: str) -> Any:
    """Rows reserved by the invoice ``base_id`` or by one of its per-currency invoices (``{base_id}:{currency}``)."""
    reserved_by = col(LedgerEntry.invoice_id)
    per_currency = and_(
        reserved_by.startswith(f"{base_id}:", autoescape=True), func.length(reserved_by) == len(base_id) + 4
    )
    return or_(reserved_by == base_id, per_currency)


def _unbilled(project_id: str, through: date) -> list[Any]:
    return [
        LedgerEntry.project_id == project_id,
        col(LedgerEntry.billable).is_(True),
        col(LedgerEntry.invoice_id).is_(None),
        LedgerEntry.business_date <= through,
    ]


def has_unbilled(store: Store, project_id: str, through: date) -> bool:
    """Whether the project has billable rows dated on or before ``through`` that no invoice has taken."""
    with store.session() as session:
        return session.exec(select(LedgerEntry.id).where(*_unbilled(project_id, through)).limit(1)).first() is not None


def reserve_for_invoice(store: Store, project_id: str, through: date, base_id: str) -> list[LedgerEntry]:
    """The ledger rows invoice ``base_id`` bills, reserving them on its first call.

    The first call takes the project's unbilled billable rows dated on or before ``through``:
    all of them get ``base_id`` when they share one currency, else ``{base_id}:{currency}``.
    Later calls (retries, re-runs) return the rows already reserved and take no new ones, so an
    invoice's content is fixed once decided.

    Returns:
        The reserved rows, ordered by business date and source id; empty when nothing is billable.
    """
    reserved = rows_of_invoice(store, base_id)
    if reserved:
        return reserved
    with store.session() as session:
        currencies = session.exec(select(LedgerEntry.currency).where(*_unbilled(project_id, through)).distinct()).all()
    if currencies:
        # The write comes first in its transaction: SQLite then never has to upgrade a stale read lock.
        with store.session() as session:
            for currency in sorted(currencies):
                target = base_id if len(currencies) == 1 else f"{base_id}:{currency}"
                session.execute(
                    update(LedgerEntry)
                    .where(*_unbilled(project_id, through), col(LedgerEntry.currency) == currency)
                    .values(invoice_id=target)
                )
    return rows_of_invoice(store, base_id)


def rows_of_invoice(store: Store, base_id: str) -> list[LedgerEntry]:
    """The ledger rows reserved by invoice ``base_id`` (and its per-currency invoices)."""
    with store.session() as session:
        return list(
            session.exec(
                select(LedgerEntry)
                .where(_claimed_by(base_id))
                .order_by(col(LedgerEntry.business_date), col(LedgerEntry.source_id))
            ).all()
        )


def posted_invoices(store: Store, invoice_ids: Iterable[str]) -> set[str]:
    """Which of these invoices the ERP already has (an ``invoice.posted`` audit event exists)."""
    wanted = sorted(set(invoice_ids))
    if not wanted:
        return set()
    with store.session() as session:
        found = session.exec(
            select(AuditEvent.entity_id).where(
                AuditEvent.action == INVOICE_POSTED, col(AuditEvent.entity_id).in_(wanted)
            )
        ).all()
    return set(found)


def record_invoice_posted(store: Store, actor: str, invoice: str, **detail: Any) -> bool:
    """Record that the ERP has ``invoice``, once; False when it was already recorded."""
    if posted_invoices(store, [invoice]):
        return False
    store.audit(actor, INVOICE_POSTED, "invoice", invoice, **detail)
    return True


def _sequences(store: Store, project_id: str, period: str) -> tuple[dict[int, set[str]], set[int]]:
    """The project's invoices for the period: {number: invoice ids with rows reserved}, numbers found empty."""
    base = invoice_id(project_id, period)
    with store.session() as session:
        reserved = session.exec(
            select(LedgerEntry.invoice_id)
            .where(col(LedgerEntry.invoice_id).startswith(base, autoescape=True))
            .distinct()
        ).all()
        empty = session.exec(
            select(AuditEvent.entity_id).where(
                AuditEvent.action == NOTHING_TO_INVOICE, col(AuditEvent.entity_id).startswith(base, autoescape=True)
            )
        ).all()
    numbered: dict[int, set[str]] = defaultdict(set)
    for reserved_by in reserved:
        assert reserved_by is not None
        matched = _SUFFIX.fullmatch(reserved_by.removeprefix(base))
        if matched:
            numbered[int(matched["sequence"] or 1)].add(reserved_by)
    empty_numbers = set()
    for found in empty:
        matched = _SUFFIX.fullmatch(found.removeprefix(base))
        if matched:
            empty_numbers.add(int(matched["sequence"] or 1))
    return numbered, empty_numbers


def invoice_to_run(store: Store, project_id: str, period: str, through: date) -> int:
    """Which of the project's invoices for the period a run should make now (1 = the first).

    An invoice that reserved rows but has not posted is finished first. Otherwise work posted since
    the last invoice (unbilled rows dated on or before ``through``) gets the next number: a
    supplementary invoice. With nothing to do, the last one's number (a re-run shows it).
    """
    numbered, empty = _sequences(store, project_id, period)
    posted = posted_invoices(store, {i for ids in numbered.values() for i in ids})
    unfinished = sorted(n for n, ids in numbered.items() if not ids <= posted)
    if unfinished:
        return unfinished[0]
    last = max([*numbered, *empty], default=0)
    if has_unbilled(store, project_id, through):
        return last + 1
    return max(last, 1)


def projects_to_invoice(store: Store, period: str, through: date) -> list[str]:
    """Projects whose invoices for ``period`` have work to do, sorted.

    That is: unbilled billable rows dated on or before ``through``, or rows reserved by an invoice
    of the period that has not posted (an earlier run failed; a re-run finishes it).
    """
    with store.session() as session:
        unbilled = session.exec(
            select(LedgerEntry.project_id)
            .where(
                col(LedgerEntry.billable).is_(True),
                col(LedgerEntry.invoice_id).is_(None),
                LedgerEntry.business_date <= through,
            )
            .distinct()
        ).all()
        reserved = session.exec(
            select(LedgerEntry.project_id, LedgerEntry.invoice_id)
            .where(col(LedgerEntry.invoice_id).contains(f":{period}", autoescape=True))
            .distinct()
        ).all()
    pending: dict[str, str] = {}
    for project_id, reserved_by in reserved:
        base = invoice_id(project_id, period)
        if (
            reserved_by is not None
            and _SUFFIX.fullmatch(reserved_by.removeprefix(base))
            and reserved_by.startswith(base)
        ):
            pending[reserved_by] = project_id
    unfinished = {pending[i] for i in set(pending) - posted_invoices(store, pending)}
    return sorted(set(unbilled) | unfinished)


def invoices_to_make(store: Store, period: str, through: date) -> list[tuple[str, int]]:
    """(project, invoice number) of every invoice the period needs now; see `invoice_to_run`."""
    return [(p, invoice_to_run(store, p, period, through)) for p in projects_to_invoice(store, period, through)]


def record_nothing_to_invoice(store: Store, actor: str, invoice: str) -> None:
    """Record, once, that ``invoice``'s run found nothing to bill, so new work gets the next number."""
    with store.session() as session:
        seen = session.exec(
            select(AuditEvent.id).where(AuditEvent.action == NOTHING_TO_INVOICE, AuditEvent.entity_id == invoice)
        ).first()
    if seen is None:
        store.audit(actor, NOTHING_TO_INVOICE, "invoice", invoice)


@dataclass(frozen=True)
class Unbilled:
    """A project's billable ledger rows up to a day that no invoice has taken: posted after its invoice."""

    project_id: str
    entries: int
    first: date
    last: date
    source_ids: tuple[str, ...]


def unbilled_by_project(store: Store, through: date) -> dict[str, Unbilled]:
    """Unbilled billable ledger rows dated on or before ``through``, per project (ids: the first 10)."""
    with store.session() as session:
        rows = session.exec(
            select(col(LedgerEntry.project_id), col(LedgerEntry.business_date), col(LedgerEntry.source_id))
            .where(
                col(LedgerEntry.billable).is_(True),
                col(LedgerEntry.invoice_id).is_(None),
                LedgerEntry.business_date <= through,
            )
            .order_by(col(LedgerEntry.project_id), col(LedgerEntry.business_date), col(LedgerEntry.source_id))
        ).all()
    found: dict[str, list[tuple[date, str]]] = defaultdict(list)
    for project_id, day, source_id in rows:
        found[project_id].append((day, source_id))
    return {
        project: Unbilled(
            project_id=project,
            entries=len(items),
            first=min(day for day, _ in items),
            last=max(day for day, _ in items),
            source_ids=tuple(source for _, source in items[:10]),
        )
        for project, items in found.items()
    }


def posting_state(store: Store, target_system: str, kind: str, source_ids: Sequence[str]) -> tuple[set[str], set[str]]:
    """Of these source records: those in the ledger, and those with an active posting exception."""
    posted = set(posting_runs(store, target_system, kind, source_ids))
    rejected: set[str] = set()
    with store.session() as session:
        for start in range(0, len(source_ids), 500):
            chunk = list(source_ids[start : start + 500])
            rejected.update(
                session.exec(
                    select(ExceptionRecord.business_key).where(
                        ExceptionRecord.flow == "posting",
                        ExceptionRecord.system == target_system,
                        ExceptionRecord.kind == kind,
                        col(ExceptionRecord.state).in_(ACTIVE),
                        col(ExceptionRecord.business_key).in_(chunk),
                    )
                ).all()
            )
    return posted, rejected - posted


def known_project(store: Store, project_id: str) -> bool:
    """Whether psflow has seen the project: posted work in the ledger, or ids in the id map."""
    with store.session() as session:
        if session.exec(select(LedgerEntry.id).where(LedgerEntry.project_id == project_id).limit(1)).first():
            return True
    return bool(store.ids_of("project", project_id))
