"""The compare: the staged sides joined per record in SQL, a page at a time, differences as exceptions.

`CompareActivities.compare` pages through the staged record ids in id order (`compare_page`: one
query joins a page's PSA, ERP and ledger rows), classifies each record (`differences.classify`),
writes the page's differences as reconciliation exceptions and moves on; only one page of records
and the keys of the differences found are ever held. Earlier differences of the period (or the
project) that this run no longer finds are auto-resolved, naming the run.

`CompareActivities.unpost_vanished` is auto-fix's first half for ``missing_in_erp``: each ledger row
whose ERP record is gone (while the PSA still has the record approved) is written to the audit trail
and removed, and its business date handed back for the posting to post it again, by the same
external id. All three run on the ``erp`` queue, beside the posting that writes the ledger.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from temporalio import activity

from activities._errors import classified
from activities.reconciliation.differences import ALL_KINDS, CLASSIFIERS, SYSTEM_OF, Difference
from activities.reconciliation.models import (
    CompareRequest,
    CompareResult,
    ReconScope,
    RunOutcome,
    Unposted,
    UnpostRequest,
)
from store import Store
from store import exceptions as exc
from store.reconciliation import (
    KINDS,
    RECORD_KINDS,
    compare_page,
    finish_run,
    remove_from_ledger,
    staged_counts,
    start_run,
    vanished_count,
    vanished_page,
    with_posting_exception,
)

FLOW = "reconciliation"
TARGET = "netsuite"
_RECORD_TYPES = {
    "time_entry": ("kantata", "time_entry", "timebill"),
    "expense": ("kantata", "expense", "expensereport"),
    "project": ("kantata", "project", "job"),
    "invoice": ("psflow", "invoice", "invoice"),
}


def business_key(period: str, record_id: str) -> str:
    """A reconciliation exception's business key: the period and the record (or project) id."""
    return f"{period}:{record_id}"


def occurrence(scope: ReconScope, found: Difference) -> exc.Occurrence:
    """The exception a difference opens (or counts again)."""
    psa_system, psa_type, erp_type = _RECORD_TYPES[found.record_kind]
    records: list[dict[str, Any]] = [{"system": psa_system, "type": psa_type, "id": found.record_id}]
    erp = found.values.get("erp") or {}
    if "internal_id" in erp:
        records.append({"system": TARGET, "type": erp_type, "id": erp["internal_id"]})
    if found.values.get("ledger") is not None:
        records.append({"system": "psflow", "type": "posting_ledger", "id": found.record_id})
    return exc.Occurrence(
        flow=FLOW,
        system=SYSTEM_OF[found.kind],
        kind=found.kind,
        business_key=business_key(scope.period, found.record_id),
        reason=found.kind,
        message=found.message,
        values={**found.values, "project_id": found.project_id, "record_kind": found.record_kind},
        records=records,
        business_date=found.business_date or scope.start,
    )


class CompareActivities:
    """Starts and finishes a run's record, compares its staged sides, and un-posts vanished ERP records."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @activity.defn(name="erp.reconciliation_start")
    @classified
    async def start(self, scope: ReconScope) -> None:
        """Record the run as running (a retried or repeated run starts its staging afresh)."""
        await asyncio.to_thread(
            start_run,
            self._store,
            run_key=scope.run_key,
            workflow_id=scope.workflow_id,
            period=scope.period,
            project_id=scope.project_id,
            provisional=scope.provisional,
        )

    @activity.defn(name="erp.reconciliation_compare")
    @classified
    async def compare(self, request: CompareRequest) -> CompareResult:
        """Compare every staged record; with ``record``, open exceptions and resolve the ones gone."""
        scope = request.scope
        compared = await asyncio.to_thread(staged_counts, self._store, scope.run_key)
        differences: dict[str, int] = defaultdict(int)
        seen: set[str] = set()
        dates: set[date] = set()
        for kind in KINDS:
            after: str | None = None
            while True:
                found, after = await asyncio.to_thread(self._page, request, kind, after)
                if after is None:
                    break
                for difference in found:
                    differences[difference.kind] += 1
                    if difference.kind == "not_posted" and difference.business_date is not None:
                        dates.add(difference.business_date)
                    seen.add(business_key(scope.period, difference.record_id))
                activity.heartbeat(kind, after)
        resolved = await asyncio.to_thread(self._resolve_gone, scope, seen) if request.record else 0
        vanished = await asyncio.to_thread(vanished_count, self._store, scope.run_key, target=TARGET)
        return CompareResult(
            compared=compared,
            differences=dict(differences),
            not_posted_dates=sorted(dates),
            vanished=vanished,
            resolved=resolved,
        )

    def _page(self, request: CompareRequest, kind: str, after: str | None) -> tuple[list[Difference], str | None]:
        """One page's differences (written as exceptions with ``record``) and the last record id it held."""
        store, scope = self._store, request.scope
        rows = compare_page(store, scope.run_key, kind, after=after, limit=request.page_size)
        if not rows:
            return [], None
        rule = CLASSIFIERS[kind]
        found = [d for d in (rule(row) for row in rows) if d is not None]
        # An approved record the posting rejected is the posting's exception already, not a difference.
        held = with_posting_exception(store, [d.record_id for d in found if d.kind == "not_posted"])
        found = [d for d in found if not (d.kind == "not_posted" and d.record_id in held)]
        if request.record and found:
            exc.record(store, [occurrence(scope, d) for d in found], run_id=scope.run_key)
        return found, rows[-1].record_id

    def _resolve_gone(self, scope: ReconScope, seen: set[str]) -> int:
        """Auto-resolve the period's earlier differences (of the project, for a project's run) not found again."""
        store, resolved = self._store, 0
        days = [scope.start + timedelta(days=n) for n in range((scope.end - scope.start).days + 1)]
        systems = sorted(set(SYSTEM_OF.values()))
        if scope.project_id is None:
            for day in days:
                for system in systems:
                    resolved += exc.resolve_absent(
                        store,
                        flow=FLOW,
                        system=system,
                        kinds=ALL_KINDS,
                        business_date=day,
                        seen_keys=seen,
                        run_id=scope.run_key,
                    )
            return resolved
        gone: dict[tuple[str, str], list[str]] = defaultdict(list)
        prefix = f"{scope.period}:"
        for day in days:
            after: int | None = None
            while page := exc.find(store, flow=FLOW, business_date=day, after_id=after, limit=500):
                after = page[-1].id
                for row in page:
                    mine = (row.values or {}).get("project_id") == scope.project_id
                    if mine and row.business_key.startswith(prefix) and row.business_key not in seen:
                        gone[(row.system, row.kind)].append(row.business_key)
        for (system, kind), keys in gone.items():
            resolved += exc.resolve(
                store, flow=FLOW, system=system, kind=kind, business_keys=keys, run_id=scope.run_key
            )
        return resolved

    @activity.defn(name="erp.reconciliation_unpost_vanished")
    @classified
    async def unpost_vanished(self, request: UnpostRequest) -> Unposted:
        """Take out of the ledger (into the audit trail) each row whose ERP record vanished; hand back their dates."""
        scope, removed, dates = request.scope, 0, set[date]()
        for kind in RECORD_KINDS:
            after: str | None = None
            while page := await asyncio.to_thread(
                vanished_page, self._store, scope.run_key, kind, after=after, limit=500, target=TARGET
            ):
                after = page[-1][0]
                removed += await asyncio.to_thread(
                    remove_from_ledger,
                    self._store,
                    target=TARGET,
                    kind=kind,
                    source_ids=[record_id for record_id, _ in page],
                    actor=scope.run_key,
                )
                dates.update(day for _, day in page)
                activity.heartbeat(kind, after)
        return Unposted(removed=removed, dates=sorted(dates))

    @activity.defn(name="erp.reconciliation_finish")
    @classified
    async def finish(self, outcome: RunOutcome) -> None:
        """Record the run's outcome for ``psflow reconcile status`` and drop its staged records."""
        await asyncio.to_thread(
            finish_run,
            self._store,
            outcome.scope.run_key,
            status=outcome.status,
            compared=outcome.compared,
            differences=outcome.differences,
            fixed=outcome.fixed,
        )
