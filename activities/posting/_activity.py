"""Posting approved PSA time and expenses to the ERP, page by page (``erp`` task queue).

Entries never travel through workflow history: the workflow hands over a business date, a kind
and a cursor, and `PostingActivities.post_approved_page` reads pages from Kantata, checks each
record against `activities.posting.rules`, posts the valid ones concurrently (the NetSuite
connector's process-wide rate budget keeps the account's limit of requests in flight, never more)
and writes the ledger and the exceptions. Each record is one PUT by the PSA id as external id
(`NetSuiteConnector.write_time_bill`): the ledger, not a read-back, says what was posted before,
and a repeated PUT of the same external id changes nothing, so no read is spent per record.
The next page is read and checked while the current one's last records post, and each page's
ledger rows are written in one transaction. It heartbeats the cursor of the oldest unfinished
page, so a retry on another worker resumes there; redoing a page duplicates nothing.

Under faults progress only moves forward. The ERP facts looked up (jobs, employees, periods) are
kept for the whole posting run, so a lookup that succeeded is never sent again by a later call or
attempt; one failed lookup holds back only the records that need it. A call whose page met a
transient fault, after posting something, hands back normally with that page as its next cursor:
the workflow calls again at once, and Temporal's retry (with its backoff and attempt count) is
left for calls that could post nothing at all.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from temporalio import activity

from activities._errors import classified
from activities.posting.rules import (
    Approved,
    ErpJob,
    ErpSetup,
    Findings,
    Record,
    Rejection,
    check_expense,
    check_time_entry,
    fingerprint,
    refused,
    unreadable,
)
from canonical import Expense, TimeEntry
from connectors._core import ConnectorError, Outcome, Page, PermanentError, cursor_to_int
from connectors.kantata import KantataConnector
from connectors.kantata.mapping import kantata_id
from connectors.netsuite import NetSuiteConnector, is_closed_period
from store import Posting, Store
from store.posting import Problem, claim_fingerprints, record_exceptions, resolve_exceptions, settle_run

SOURCE = "kantata"
TARGET = "netsuite"
Kind = Literal["time_entry", "expense"]
KINDS: tuple[Kind, ...] = ("time_entry", "expense")
_WHAT: dict[Kind, str] = {"time_entry": "time entry", "expense": "expense"}
_REFUSALS = (Outcome.BUSINESS, Outcome.NOT_FOUND, Outcome.PERMANENT)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PostingCounts(_Model):
    """What became of the records read: posted now, posted before, rejected by a rule, refused by the ERP."""

    posted: int = 0
    already_posted: int = 0
    rejected: int = 0
    failed: int = 0

    def __add__(self, other: PostingCounts) -> PostingCounts:
        return PostingCounts(
            posted=self.posted + other.posted,
            already_posted=self.already_posted + other.already_posted,
            rejected=self.rejected + other.rejected,
            failed=self.failed + other.failed,
        )

    @property
    def total(self) -> int:
        """Every record read."""
        return self.posted + self.already_posted + self.rejected + self.failed


class PostPageRequest(_Model):
    """Which records to post: one kind, approved, dated ``business_date``, from ``cursor`` on."""

    business_date: date
    kind: Kind
    run_id: str = Field(min_length=1, description="The posting run, written on every ledger row and exception")
    cursor: str | None = None
    page_size: int = Field(default=200, ge=1, le=200)
    max_pages: int = Field(default=5, ge=1, description="Pages this call posts before handing back")
    max_seconds: float = Field(
        default=120, gt=0, description="No new page is started after this long: the call hands back, however fast"
    )


class PostPageResult(_Model):
    """What one call posted, and where the next call starts (None: this kind is done)."""

    counts: PostingCounts
    pages: int
    next_cursor: str | None


class SettleRequest(_Model):
    """The end of a run that read every record of its date."""

    business_date: date
    run_id: str = Field(min_length=1)


class _Checkpoint(_Model):
    """Heartbeat details: the next page to post, and what the pages before it did."""

    cursor: str | None
    pages: int = 0
    counts: PostingCounts = PostingCounts()
    exhausted: bool = False


_PAGES_IN_FLIGHT = 2
"""Pages posting at once: the next one queues behind the current one's last records."""
_RUNS_REMEMBERED = 16
"""Posting runs whose ERP facts a worker keeps: a scheduled run's day and its look-back, with room."""
_BEAT_EVERY_S = 1.0
_YIELD_EVERY = 25


@dataclass(frozen=True)
class _CheckedPage:
    """One page after the rules: what the ledger already has, what may post, what may not.

    ``failure`` is the transient fault that kept some records' ERP facts unknown: those records
    were neither posted nor rejected, so the page is not finished.
    """

    records: list[Record]
    ledger: dict[str, str]
    approved: list[tuple[Record, Approved]]
    problems: list[Problem]
    failure: ConnectorError | None = None


@dataclass(frozen=True)
class _PostedPage:
    """What posting one page did: its counts when finished, else the fault that left records to redo."""

    counts: PostingCounts
    new_rows: int
    failure: BaseException | None = None


def _passing(error: BaseException) -> bool:
    """A fault that trying again can get past (as opposed to one a person must fix)."""
    return isinstance(error, ConnectorError) and error.retryable


class _Beat:
    """Heartbeats the latest checkpoint, at most once a second however many records post."""

    def __init__(self, point: _Checkpoint) -> None:
        self._details = point.model_dump(mode="json")
        self._last = 0.0

    def now(self, point: _Checkpoint) -> None:
        """A page finished: record the new checkpoint and send it."""
        self._details = point.model_dump(mode="json")
        self._last = time.monotonic()
        activity.heartbeat(self._details)

    def __call__(self) -> None:
        if time.monotonic() - self._last >= _BEAT_EVERY_S:
            self._last = time.monotonic()
            activity.heartbeat(self._details)


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class _ErpLookups:
    """The ERP facts records need (job, employee, period), each looked up once per posting run.

    Lookups run concurrently and each one that succeeds is kept, whatever happens to the others:
    a retried call or a later call of the same run sends only the lookups still missing. Ids found
    are written to the store's id map, where invoicing and reconciliation read them; employees are
    read from it first, as the map is where provisioning and resource sync put them.
    """

    def __init__(self, netsuite: NetSuiteConnector, store: Store) -> None:
        self._netsuite = netsuite
        self._store = store
        self._codes = {internal: code for code, internal in netsuite.settings.currency_ids.items()}
        self._jobs: dict[str, ErpJob | None] = {}
        self._employees: dict[str, str | None] = {}
        self._periods: dict[date, bool] = {}

    async def prefetch(self, records: Sequence[Record], day: date) -> ConnectorError | None:
        """Look up the facts the records need that are not known yet.

        Returns:
            The first transient fault among the lookups (the records that needed it stay unknown
            until a later attempt), or None when every fact is known.

        Raises:
            BaseException: A lookup failed in a way trying again will not fix.
        """
        calls: list[Awaitable[None]] = [self._job(p) for p in {r.project_id for r in records} - self._jobs.keys()]
        calls += [self._employee(c) for c in {r.consultant_id for r in records} - self._employees.keys()]
        if records and day not in self._periods:
            calls.append(self._period(day))
        failure: ConnectorError | None = None
        for outcome in await asyncio.gather(*calls, return_exceptions=True):
            if isinstance(outcome, ConnectorError) and outcome.retryable:
                failure = failure or outcome
            elif isinstance(outcome, BaseException):
                raise outcome
        return failure

    def known(self, record: Record, day: date) -> bool:
        """Whether every fact the record's check needs has been looked up."""
        return record.project_id in self._jobs and record.consultant_id in self._employees and day in self._periods

    def findings(self, record: Record, day: date, duplicate_of: str | None) -> Findings:
        return Findings(
            job=self._jobs[record.project_id],
            employee_id=self._employees[record.consultant_id],
            period_open=self._periods[day],
            duplicate_of=duplicate_of,
        )

    async def _job(self, project_id: str) -> None:
        # SuiteQL rather than get_job: the currency check needs the job's currency.
        page = await self._netsuite.suiteql_page(
            f"SELECT id, currency, isinactive FROM job WHERE externalid = {_quoted(project_id)}", page_size=1
        )
        if not page.items:
            self._jobs[project_id] = None
            return
        row = page.items[0]
        currency_id = None if row.get("currency") is None else str(row["currency"])
        job = ErpJob(
            internal_id=str(row["id"]),
            currency=self._codes.get(currency_id or ""),
            currency_id=currency_id,
            inactive=row.get("isinactive") == "T",
        )
        await asyncio.to_thread(self._store.map_id, "project", project_id, TARGET, job.internal_id)
        self._jobs[project_id] = job

    async def _employee(self, consultant_id: str) -> None:
        # The PSA knows consultants by email; ERP employees are keyed by HR employee id but carry the email.
        mapped = await asyncio.to_thread(self._store.system_id, "consultant", consultant_id, TARGET)
        if mapped is None:
            page = await self._netsuite.suiteql_page(
                f"SELECT id FROM employee WHERE email = {_quoted(consultant_id)}", page_size=1
            )
            if page.items:
                mapped = str(page.items[0]["id"])
                await asyncio.to_thread(self._store.map_id, "consultant", consultant_id, TARGET, mapped)
        self._employees[consultant_id] = mapped

    async def _period(self, day: date) -> None:
        self._periods[day] = await self._netsuite.period_is_open(day)


class PostingActivities:
    """Posts one business date's approved PSA records to the ERP, exactly once each."""

    def __init__(self, kantata: KantataConnector, netsuite: NetSuiteConnector, store: Store) -> None:
        self._kantata = kantata
        self._netsuite = netsuite
        self._store = store
        self._erp = ErpSetup(
            currencies=frozenset(netsuite.settings.currency_ids),
            expense_categories=frozenset(netsuite.settings.expense_category_ids),
        )
        self._facts: OrderedDict[str, _ErpLookups] = OrderedDict()

    def _lookups(self, run_id: str) -> _ErpLookups:
        """The ERP facts of one posting run (the date's chain of runs), kept across its calls and attempts.

        A run is a business date's posting, so facts never leak from one date's posting to another's;
        a re-run of the date (after fixing a job or an employee) is a new run and looks them up afresh.
        A retry on another worker looks up again what this one knew: slower, never wrong.
        """
        lookups = self._facts.get(run_id)
        if lookups is None:
            lookups = self._facts[run_id] = _ErpLookups(self._netsuite, self._store)
            while len(self._facts) > _RUNS_REMEMBERED:
                self._facts.popitem(last=False)
        self._facts.move_to_end(run_id)
        return lookups

    @activity.defn(name="erp.post_approved_page")
    @classified
    async def post_approved_page(self, request: PostPageRequest) -> PostPageResult:
        """Post up to ``max_pages`` pages of approved records, resuming from the last heartbeat after a retry.

        Two pages are in the air at once: the next page is read, checked and queued for the ERP while
        the current one's last records are still posting, so the account's concurrency budget never
        idles at a page boundary. The heartbeat names the oldest page not yet fully posted; a retry
        starts there and the ledger skips what already went through.

        When a page meets a transient fault the call starts no further page and lets those in the air
        finish. If it posted anything, it hands back with the unfinished page as the next cursor; if
        not, it raises the fault for Temporal to retry with backoff.
        """
        details = activity.info().heartbeat_details
        point = _Checkpoint.model_validate(details[0]) if details else _Checkpoint(cursor=request.cursor)
        beat = _Beat(point)
        lookups = self._lookups(request.run_id)
        posting: deque[tuple[asyncio.Task[_PostedPage], str | None]] = deque()
        cursor, read_all, started = point.cursor, point.exhausted, point.pages
        first, deadline = started, time.monotonic() + request.max_seconds
        failure: BaseException | None = None  # the first fault met: no page starts after it
        unfinished = False  # a page was left unfinished: the checkpoint stays on it
        progressed = False
        try:
            while True:
                if (
                    failure is None
                    and not read_all
                    and started < request.max_pages
                    and len(posting) < _PAGES_IN_FLIGHT
                    and (started == first or time.monotonic() < deadline)  # every call moves by a page at least
                ):
                    try:
                        records, problems, next_cursor = await self._read(request, cursor)
                        page = await self._check_page(request, records, problems, lookups)
                    except ConnectorError as error:
                        if not error.retryable:
                            raise
                        failure = error  # the pages in the air still finish
                        continue
                    posting.append((asyncio.create_task(self._post_page(request, page, beat)), next_cursor))
                    cursor, read_all, started = next_cursor, next_cursor is None, started + 1
                    continue
                if not posting:
                    break
                task, after = posting.popleft()
                posted = await task
                progressed = progressed or posted.new_rows > 0
                if posted.failure is None and not unfinished:
                    point = _Checkpoint(
                        cursor=after,
                        pages=point.pages + 1,
                        counts=point.counts + posted.counts,
                        exhausted=after is None,
                    )
                    beat.now(point)
                    progressed = True
                else:
                    # The checkpoint stays on the oldest unfinished page; later pages redo cheaply (ledger).
                    unfinished = True
                    failure = failure or posted.failure
        finally:
            for task, _ in posting:
                task.cancel()
            await asyncio.gather(*(task for task, _ in posting), return_exceptions=True)
        if failure is not None:
            if not (progressed and _passing(failure)):
                raise failure
            activity.logger.warning(
                "posting %s (%s): handing back at page %s, left unfinished by a passing fault: %s",
                request.business_date,
                request.kind,
                _resume_at(point.cursor),
                failure,
            )
        return PostPageResult(
            counts=point.counts,
            pages=point.pages,
            next_cursor=None if point.exhausted else _resume_at(point.cursor),
        )

    @activity.defn(name="erp.settle_posting_exceptions")
    @classified
    async def settle_exceptions(self, request: SettleRequest) -> int:
        """Resolve the date's exceptions whose records the run no longer found; returns how many."""
        return await asyncio.to_thread(
            settle_run, self._store, target_system=TARGET, business_date=request.business_date, run_id=request.run_id
        )

    # -- reading -------------------------------------------------------------------------------

    async def _page(self, kind: Kind, day: date, cursor: str | None, per_page: int) -> Page[TimeEntry] | Page[Expense]:
        if kind == "time_entry":
            return await self._kantata.time_entries_page(
                approved=True, performed_on=day, cursor=cursor, per_page=per_page
            )
        return await self._kantata.expenses_page(approved=True, incurred_on=day, cursor=cursor, per_page=per_page)

    async def _read(
        self, request: PostPageRequest, cursor: str | None
    ) -> tuple[list[Record], list[Problem], str | None]:
        """One page of records, the unreadable ones among them as problems, and the next cursor."""
        try:
            page = await self._page(request.kind, request.business_date, cursor, request.page_size)
            return list(page.items), [], page.next_cursor
        except PermanentError as error:
            if unreadable(error.message) is None:
                raise
        # The connector refuses a whole page for one record that breaks a canonical rule (25 hours,
        # an amount of zero): read the page's span one record at a time to set that record aside.
        number = cursor_to_int(cursor, default=1)
        first = (number - 1) * request.page_size + 1
        records: list[Record] = []
        problems: list[Problem] = []
        for position in range(first, first + request.page_size):
            activity.heartbeat()
            try:
                single = await self._page(request.kind, request.business_date, str(position), 1)
            except PermanentError as error:
                found = unreadable(error.message)
                if found is None:
                    raise
                psa_id, rejection = found
                problems.append(_problem(request, kantata_id(psa_id), rejection))
                continue
            records.extend(single.items)
            if single.next_cursor is None:
                return records, problems, None
        return records, problems, str(number + 1)

    # -- posting -------------------------------------------------------------------------------

    async def _check_page(
        self, request: PostPageRequest, records: list[Record], problems: list[Problem], lookups: _ErpLookups
    ) -> _CheckedPage:
        """Set aside what the ledger has, claim fingerprints, look up ERP facts and apply the rules."""
        kind, day = request.kind, request.business_date
        ledger = await asyncio.to_thread(self._store.posting_runs, TARGET, kind, [r.id for r in records])
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
        failure = await lookups.prefetch(todo, day)
        approved: list[tuple[Record, Approved]] = []
        # A record whose facts a transient fault kept unknown waits for the next attempt, the rest go on.
        for position, record in enumerate(r for r in todo if lookups.known(r, day)):
            if position % _YIELD_EVERY == _YIELD_EVERY - 1:
                await asyncio.sleep(0)  # let responses in: ERP slots must not wait on a page's checks
            findings = lookups.findings(record, day, duplicates.get(record.id))
            decision = (
                check_time_entry(record, findings, self._erp)
                if isinstance(record, TimeEntry)
                else check_expense(record, findings, self._erp)
            )
            if isinstance(decision, Rejection):
                problems.append(_problem(request, record.id, decision))
            else:
                approved.append((record, decision))
        return _CheckedPage(records=records, ledger=ledger, approved=approved, problems=problems, failure=failure)

    async def _post_page(self, request: PostPageRequest, page: _CheckedPage, beat: _Beat) -> _PostedPage:
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
                problems.append(_problem(request, record.id, rejection))
            elif isinstance(outcome, BaseException):
                failure = failure or outcome
        # One transaction for the page's rows, written even when some records must be retried. A crash
        # before it loses no posting: the retried page PUTs those records again, by external id.
        new = await asyncio.to_thread(self._store.record_postings, rows)
        posted, already = len(new), len(rows) - len(new)
        posted_ids = [r.id for r in page.records if r.id in ledger] + [row.source_id for row in rows]
        await asyncio.to_thread(
            record_exceptions, self._store, problems, source_system=SOURCE, target_system=TARGET, run_id=request.run_id
        )
        await asyncio.to_thread(resolve_exceptions, self._store, target_system=TARGET, kind=kind, source_ids=posted_ids)
        if failure is not None:
            # The ledger holds what was posted, so the redone page skips it and counts it then.
            return _PostedPage(counts=PostingCounts(), new_rows=posted, failure=failure)
        mine = sum(1 for run in ledger.values() if run == request.run_id)
        counts = PostingCounts(
            posted=posted + mine,
            already_posted=already + len(ledger) - mine,
            rejected=rejected,
            failed=len(problems) - rejected,
        )
        return _PostedPage(counts=counts, new_rows=posted)

    async def _post_one(self, request: PostPageRequest, record: Record, approved: Approved, beat: _Beat) -> Posting:
        """Post one record (one PUT by external id); returns its ledger row, which the page writes."""
        if isinstance(record, TimeEntry):
            internal_id = await self._netsuite.write_time_bill(
                record, job_internal_id=approved.job_id, employee_internal_id=approved.employee_id, rate=approved.rate
            )
        else:
            internal_id = await self._netsuite.write_expense_report(
                record, employee_internal_id=approved.employee_id, job_internal_id=approved.job_id
            )
        beat()
        return Posting(
            kind=request.kind,
            source_system=SOURCE,
            source_id=record.id,
            target_system=TARGET,
            target_id=internal_id,
            project_id=record.project_id,
            business_date=request.business_date,
            amount=approved.amount.amount,
            currency=approved.amount.currency,
            billable=record.billable,
            minutes=record.minutes if isinstance(record, TimeEntry) else None,
            run_id=request.run_id,
            approved_at=record.approved_at,
        )


def _resume_at(cursor: str | None) -> str:
    """The cursor to hand back for a page not yet finished: the first page too is named, as None means done."""
    return cursor if cursor is not None else str(cursor_to_int(cursor, default=1))


def _problem(request: PostPageRequest, source_id: str, rejection: Rejection) -> Problem:
    return Problem(
        kind=request.kind,
        source_id=source_id,
        business_date=request.business_date,
        reason=rejection.reason,
        message=rejection.message,
        values=dict(rejection.values),
    )
