"""One page of a business date's records, start to finish: read it, check it, post it, write it down."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date

from activities._heartbeat import Checkpoints
from activities.posting._erp_facts import ErpFacts
from activities.posting._rates import RunRates
from activities.posting._retry_input import retry_input_of
from activities.posting.models import Checkpoint, Kind, PostingCounts, PostPageRequest
from activities.posting.rejections import Rejection, refused, unreadable
from activities.posting.rules import Approved, ErpSetup, Record, check_expense, check_time_entry, fingerprint
from canonical import Expense, TimeEntry
from connectors._core import ConnectorError, Outcome, Page
from connectors.kantata import KantataConnector
from connectors.netsuite import NetSuiteConnector, is_closed_period
from store import Store
from store.posting import (
    Posting,
    Problem,
    claim_fingerprints,
    posting_runs,
    record_exceptions,
    record_postings,
    resolve_exceptions,
)

SOURCE = "kantata"
TARGET = "netsuite"
_WHAT: dict[Kind, str] = {"time_entry": "time entry", "expense": "expense"}
_REFUSALS = (Outcome.BUSINESS, Outcome.NOT_FOUND, Outcome.PERMANENT)
_YIELD_EVERY = 25


@dataclass(frozen=True)
class ReadPage:
    """One page as the PSA listed it: the records to post, the ones it could not read, the next cursor."""

    records: list[Record]
    problems: list[Problem]
    next_cursor: str | None


@dataclass(frozen=True)
class CheckedPage:
    """One page after the rules: what the ledger already has, what may post, what may not.

    ``failure`` is the transient fault that kept some records' ERP facts unknown: those records
    were neither posted nor rejected, so the page is not finished.
    """

    records: list[Record]
    ledger: dict[str, str]
    approved: list[tuple[Record, Approved]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    failure: ConnectorError | None = None


@dataclass(frozen=True)
class PostedPage:
    """What posting one page did: its counts when finished, else the fault that left records to redo."""

    counts: PostingCounts
    new_rows: int
    failure: BaseException | None = None


class PostingPages:
    """Reads, checks and posts pages of one business date's approved records."""

    def __init__(self, kantata: KantataConnector, netsuite: NetSuiteConnector, store: Store) -> None:
        self._kantata = kantata
        self._netsuite = netsuite
        self._store = store
        self._rates = RunRates(kantata)  # each project's rates by date, read once per run
        self._erp = ErpSetup(
            currencies=frozenset(netsuite.settings.currency_ids),
            expense_categories=frozenset(netsuite.settings.expense_category_ids),
        )

    async def read(self, request: PostPageRequest, cursor: str | None) -> ReadPage:
        """The page at ``cursor``; records the PSA could not read become problems, the rest of the page posts."""
        day, size = request.business_date, request.page_size
        page: Page[TimeEntry] | Page[Expense]
        if request.kind == "time_entry":
            page = await self._kantata.time_entries_page(approved=True, performed_on=day, cursor=cursor, per_page=size)
        else:
            page = await self._kantata.expenses_page(approved=True, incurred_on=day, cursor=cursor, per_page=size)
        what = _WHAT[request.kind]
        problems = [_problem(request, bad.record_id, unreadable(what, bad)) for bad in page.unreadable]
        return ReadPage(list(page.items), problems, page.next_cursor)

    async def check(self, request: PostPageRequest, page: ReadPage, facts: ErpFacts) -> CheckedPage:
        """Set aside what the ledger has, claim fingerprints, look up ERP facts and apply the rules."""
        kind, day, records = request.kind, request.business_date, page.records
        ledger = await asyncio.to_thread(posting_runs, self._store, TARGET, kind, [r.id for r in records])
        duplicates = await asyncio.to_thread(
            claim_fingerprints,
            self._store,
            target_system=TARGET,
            kind=kind,
            business_date=day,
            fingerprints=[(r.id, fingerprint(r)) for r in records],
            run_id=request.run_id,
        )
        todo = [r for r in records if r.id not in ledger]
        rates = self._rates.of_run(request.run_id)
        faults = await asyncio.gather(facts.prefetch(todo, day), rates.prefetch(todo))
        failure = faults[0] or faults[1]
        checked = CheckedPage(records=records, ledger=ledger, problems=list(page.problems), failure=failure)
        # A record whose facts a transient fault kept unknown waits for the next attempt, the rest go on.
        for position, record in enumerate(r for r in todo if facts.known(r, day) and rates.known(r)):
            if position % _YIELD_EVERY == _YIELD_EVERY - 1:
                await asyncio.sleep(0)  # let responses in: ERP slots must not wait on a page's checks
            findings = facts.findings(record, day, duplicates.get(record.id))
            decision = (
                check_time_entry(record, findings, self._erp, rates.schedule_of(record))
                if isinstance(record, TimeEntry)
                else check_expense(record, findings, self._erp)
            )
            if isinstance(decision, Rejection):
                checked.problems.append(_problem(request, record.id, decision, record))
            else:
                checked.approved.append((record, decision))
        return checked

    async def post(self, request: PostPageRequest, page: CheckedPage, beat: Checkpoints[Checkpoint]) -> PostedPage:
        """Post a checked page's approved records concurrently; write the ledger and the exceptions.

        A record that met a fault other than a refusal leaves the page unfinished (``failure``); the
        rows of the records that did post are written all the same.
        """
        kind, ledger, problems = request.kind, page.ledger, list(page.problems)
        rejected = len(problems)
        outcomes = await asyncio.gather(
            *(self._post_one(request, record, decision, beat) for record, decision in page.approved),
            return_exceptions=True,
        )
        rows: list[Posting] = []
        failure: BaseException | None = page.failure
        for (record, _), outcome in zip(page.approved, outcomes, strict=True):
            if isinstance(outcome, Posting):
                rows.append(outcome)
            elif isinstance(outcome, ConnectorError) and outcome.outcome in _REFUSALS:
                rejection = refused(_WHAT[kind], record.id, outcome.message, closed_period=is_closed_period(outcome))
                problems.append(_problem(request, record.id, rejection, record))
            elif isinstance(outcome, BaseException):
                failure = failure or outcome
        # One transaction for the page's rows, written even when some records must be retried. A crash
        # before it loses no posting: the retried page PUTs those records again, by external id.
        new = await asyncio.to_thread(record_postings, self._store, rows)
        posted, already = len(new), len(rows) - len(new)
        posted_ids = [r.id for r in page.records if r.id in ledger] + [row.source_id for row in rows]
        await asyncio.to_thread(
            record_exceptions, self._store, problems, source_system=SOURCE, target_system=TARGET, run_id=request.run_id
        )
        await asyncio.to_thread(
            resolve_exceptions,
            self._store,
            target_system=TARGET,
            kind=kind,
            source_ids=posted_ids,
            run_id=request.run_id,
        )
        if failure is not None:
            # The ledger holds what was posted, so the redone page skips it and counts it then.
            return PostedPage(counts=PostingCounts(), new_rows=posted, failure=failure)
        mine = sum(1 for run in ledger.values() if run == request.run_id)
        counts = PostingCounts(
            posted=posted + mine,
            already_posted=already + len(ledger) - mine,
            rejected=rejected,
            failed=len(problems) - rejected,
        )
        return PostedPage(counts=counts, new_rows=posted)

    async def _post_one(
        self, request: PostPageRequest, record: Record, approved: Approved, beat: Checkpoints[Checkpoint]
    ) -> Posting:
        """Post one record (one PUT by external id); returns its ledger row, which the page writes."""
        posting = await post_record(
            self._netsuite, record, approved, business_date=request.business_date, run_id=request.run_id
        )
        beat.tick()
        return posting


async def post_record(
    netsuite: NetSuiteConnector, record: Record, approved: Approved, *, business_date: date, run_id: str
) -> Posting:
    """Write one approved record to the ERP by its PSA id as external id; returns the ledger row to keep.

    The one write path of posting: the daily run and a retry of an exception both come here, so a
    record posts under the same external id whoever posts it, and a repeated PUT changes nothing.
    """
    if isinstance(record, TimeEntry):
        internal_id = await netsuite.write_time_bill(
            record, job_internal_id=approved.job_id, employee_internal_id=approved.employee_id, rate=approved.rate
        )
    else:
        internal_id = await netsuite.write_expense_report(
            record, employee_internal_id=approved.employee_id, job_internal_id=approved.job_id
        )
    return Posting(
        kind="time_entry" if isinstance(record, TimeEntry) else "expense",
        source_system=SOURCE,
        source_id=record.id,
        target_system=TARGET,
        target_id=internal_id,
        project_id=record.project_id,
        business_date=business_date,
        amount=approved.amount.amount,
        currency=approved.amount.currency,
        billable=record.billable,
        minutes=record.minutes if isinstance(record, TimeEntry) else None,
        run_id=run_id,
        approved_at=record.approved_at,
    )


def _problem(request: PostPageRequest, source_id: str, rejection: Rejection, record: Record | None = None) -> Problem:
    """The exception of a record not posted; with the record (one the PSA could read), what a retry may edit."""
    return Problem(
        kind=request.kind,
        source_id=source_id,
        business_date=request.business_date,
        reason=rejection.reason,
        message=rejection.message,
        values=dict(rejection.values),
        retry_input=None if record is None else retry_input_of(record),
    )
