"""Posting approved PSA time and expenses to the ERP, page by page (``erp`` task queue).

Entries never travel through workflow history: the workflow hands over a business date, a kind
and a cursor, and `PostingActivities.post_approved_page` reads pages from Kantata, checks each
record against `activities.posting_rules`, posts the valid ones concurrently (the NetSuite
connector's process-wide rate budget keeps the account's limit of requests in flight, never more)
and writes the ledger and the exceptions. It heartbeats the cursor after every page, so a retry
on another worker resumes at the page that was being posted; every write is an upsert by the PSA
id as external id, so redoing that page duplicates nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable, Sequence
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from temporalio import activity

from activities._errors import classified
from activities.posting_rules import (
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
from connectors.netsuite import NetSuiteConnector, PostingResult, is_closed_period
from store import LedgerEntry, Store
from store.exceptions import Problem, claim_fingerprints, record_exceptions, resolve_exceptions, settle_run

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
    page_size: int = Field(default=100, ge=1, le=200)
    max_pages: int = Field(default=5, ge=1, description="Pages this call posts before handing back")


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


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


async def _all(calls: Iterable[Awaitable[Any]]) -> None:
    """Run the calls concurrently; when one failed, raise its error once all have finished."""
    for outcome in await asyncio.gather(*calls, return_exceptions=True):
        if isinstance(outcome, BaseException):
            raise outcome


class _ErpLookups:
    """The ERP facts records need (job, employee, period), each looked up once per activity call.

    Ids found are written to the store's id map, where invoicing and reconciliation read them;
    employees are read from it first, as the map is where provisioning and resource sync put them.
    """

    def __init__(self, netsuite: NetSuiteConnector, store: Store) -> None:
        self._netsuite = netsuite
        self._store = store
        self._codes = {internal: code for code, internal in netsuite.settings.currency_ids.items()}
        self._jobs: dict[str, ErpJob | None] = {}
        self._employees: dict[str, str | None] = {}
        self._periods: dict[date, bool] = {}

    async def prefetch(self, records: Sequence[Record], day: date) -> None:
        calls: list[Awaitable[None]] = [self._job(p) for p in {r.project_id for r in records} - self._jobs.keys()]
        calls += [self._employee(c) for c in {r.consultant_id for r in records} - self._employees.keys()]
        if records and day not in self._periods:
            calls.append(self._period(day))
        await _all(calls)

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

    @activity.defn(name="erp.post_approved_page")
    @classified
    async def post_approved_page(self, request: PostPageRequest) -> PostPageResult:
        """Post up to ``max_pages`` pages of approved records, resuming from the last heartbeat after a retry."""
        details = activity.info().heartbeat_details
        point = _Checkpoint.model_validate(details[0]) if details else _Checkpoint(cursor=request.cursor)
        lookups = _ErpLookups(self._netsuite, self._store)
        while not point.exhausted and point.pages < request.max_pages:
            activity.heartbeat(point.model_dump(mode="json"))
            records, problems, next_cursor = await self._read(request, point.cursor)
            counts = await self._post_page(request, records, problems, lookups, point)
            point = _Checkpoint(
                cursor=next_cursor, pages=point.pages + 1, counts=point.counts + counts, exhausted=next_cursor is None
            )
            activity.heartbeat(point.model_dump(mode="json"))
        return PostPageResult(
            counts=point.counts, pages=point.pages, next_cursor=None if point.exhausted else point.cursor
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

    async def _post_page(
        self,
        request: PostPageRequest,
        records: list[Record],
        problems: list[Problem],
        lookups: _ErpLookups,
        point: _Checkpoint,
    ) -> PostingCounts:
        kind, day = request.kind, request.business_date
        ledger = await asyncio.to_thread(self._ledger_runs, kind, [r.id for r in records])
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
        await lookups.prefetch(todo, day)
        approved: list[tuple[Record, Approved]] = []
        for record in todo:
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
        rejected = len(problems)

        heartbeat = point.model_dump(mode="json")
        outcomes = await asyncio.gather(
            *(self._post_one(request, record, decision, heartbeat) for record, decision in approved),
            return_exceptions=True,
        )
        posted = already = 0
        posted_ids = [r.id for r in records if r.id in ledger]
        retry: BaseException | None = None
        for (record, _), outcome in zip(approved, outcomes, strict=True):
            if isinstance(outcome, bool):
                posted, already = (posted + 1, already) if outcome else (posted, already + 1)
                posted_ids.append(record.id)
            elif isinstance(outcome, ConnectorError) and outcome.outcome in _REFUSALS:
                rejection = refused(_WHAT[kind], record.id, outcome.message, closed_period=is_closed_period(outcome))
                problems.append(_problem(request, record.id, rejection))
            elif isinstance(outcome, BaseException):
                retry = retry or outcome
        await asyncio.to_thread(
            record_exceptions, self._store, problems, source_system=SOURCE, target_system=TARGET, run_id=request.run_id
        )
        await asyncio.to_thread(resolve_exceptions, self._store, target_system=TARGET, kind=kind, source_ids=posted_ids)
        if retry is not None:
            # Transient or throttled: the ledger holds what was posted, so the retried page skips it.
            raise retry
        mine = sum(1 for run in ledger.values() if run == request.run_id)
        return PostingCounts(
            posted=posted + mine,
            already_posted=already + len(ledger) - mine,
            rejected=rejected,
            failed=len(problems) - rejected,
        )

    async def _post_one(
        self, request: PostPageRequest, record: Record, approved: Approved, heartbeat: dict[str, Any]
    ) -> bool:
        """Post one record and write its ledger row; False when the ledger already had it."""
        result: PostingResult
        if isinstance(record, TimeEntry):
            result = await self._netsuite.upsert_time_bill(
                record, job_internal_id=approved.job_id, employee_internal_id=approved.employee_id, rate=approved.rate
            )
        else:
            result = await self._netsuite.upsert_expense_report(
                record, employee_internal_id=approved.employee_id, job_internal_id=approved.job_id
            )
        row = LedgerEntry(
            kind=request.kind,
            source_system=SOURCE,
            source_id=record.id,
            target_system=TARGET,
            target_id=result.internal_id,
            project_id=record.project_id,
            business_date=request.business_date,
            amount=approved.amount.amount,
            currency=approved.amount.currency,
            billable=record.billable,
            hours=record.hours if isinstance(record, TimeEntry) else None,
            run_id=request.run_id,
            approved_at=record.approved_at,
        )
        recorded = await asyncio.to_thread(self._store.record_posting, row)
        activity.heartbeat(heartbeat)
        return recorded

    def _ledger_runs(self, kind: Kind, source_ids: Sequence[str]) -> dict[str, str]:
        """The posting run of each record already in the ledger."""
        runs = {}
        for source_id in source_ids:
            row = self._store.posting(TARGET, kind, source_id)
            if row is not None:
                runs[source_id] = row.run_id
        return runs


def _problem(request: PostPageRequest, source_id: str, rejection: Rejection) -> Problem:
    return Problem(
        kind=request.kind,
        source_id=source_id,
        business_date=request.business_date,
        reason=rejection.reason,
        message=rejection.message,
        values=dict(rejection.values),
    )
