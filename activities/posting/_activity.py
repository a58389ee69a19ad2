"""`PostingActivities`: a business date's approved PSA time and expenses into the ERP (``erp`` task queue).

Entries never travel through workflow history: the workflow hands over a business date, a kind
and a cursor, and `PostingActivities.post_approved_page` reads pages from Kantata, checks each
record against `activities.posting.rules`, posts the valid ones concurrently (the NetSuite
connector's process-wide rate budget keeps the account's limit of requests in flight, never more)
and writes the ledger and the exceptions (see `PostingPages`). Each record is one PUT by the PSA
id as external id (`NetSuiteConnector.write_time_bill`): the ledger, not a read-back, says what
was posted before, and a repeated PUT of the same external id changes nothing, so no read is spent
per record. The next page is read and checked while the current one's last records post, and
each page's ledger rows are written in one transaction. It heartbeats the cursor of the oldest
unfinished page, so a retry on another worker resumes there; redoing a page duplicates nothing.

Under faults progress only moves forward. The ERP facts looked up (jobs, employees, periods) are
kept for the whole posting run (`ErpFacts`), so a lookup that succeeded is never sent again by a
later call or attempt; one failed lookup holds back only the records that need it. A call whose
page met a transient fault, after posting something, hands back normally with that page as its
next cursor: the workflow calls again at once, and Temporal's retry (with its backoff and attempt
count) is left for calls that could post nothing at all.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque

from temporalio import activity

from activities._errors import classified
from activities._heartbeat import Checkpoints
from activities.posting._erp_facts import ErpFacts
from activities.posting._pages import TARGET, PostedPage, PostingPages
from activities.posting._reprice import RepriceActivities, RetroRateChanges
from activities.posting.models import Checkpoint, PostPageRequest, PostPageResult, SettleRequest
from connectors._core import ConnectorError, cursor_to_int
from connectors.kantata import KantataConnector
from connectors.netsuite import NetSuiteConnector
from store import Store
from store.posting import settle_run

_PAGES_IN_FLIGHT = 2
"""Pages posting at once: the next one queues behind the current one's last records."""
_RUNS_REMEMBERED = 16
"""Posting runs whose ERP facts a worker keeps: a scheduled run's day and its look-back, with room."""


class PostingActivities(RepriceActivities):
    """Posts one business date's approved PSA records to the ERP, exactly once each; reprices after rate changes."""

    def __init__(
        self,
        kantata: KantataConnector,
        netsuite: NetSuiteConnector,
        store: Store,
        *,
        retro_rate_changes: RetroRateChanges = "adjust",
    ) -> None:
        self._init_reprice(kantata, netsuite, store, retro_rate_changes)
        self._netsuite = netsuite
        self._store = store
        self._pages = PostingPages(kantata, netsuite, store)
        self._facts: OrderedDict[str, ErpFacts] = OrderedDict()

    def _facts_of(self, run_id: str) -> ErpFacts:
        """The ERP facts of one posting run (the date's chain of runs), kept across its calls and attempts.

        A run is a business date's posting, so facts never leak from one date's posting to another's;
        a re-run of the date (after fixing a job or an employee) is a new run and looks them up afresh.
        A retry on another worker looks up again what this one knew: slower, never wrong.
        """
        facts = self._facts.get(run_id)
        if facts is None:
            facts = self._facts[run_id] = ErpFacts(self._netsuite, self._store)
            while len(self._facts) > _RUNS_REMEMBERED:
                self._facts.popitem(last=False)
        self._facts.move_to_end(run_id)
        return facts

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
        beat = Checkpoints(Checkpoint, Checkpoint(cursor=request.cursor))
        point, facts = beat.last, self._facts_of(request.run_id)
        posting: deque[tuple[asyncio.Task[PostedPage], str | None]] = deque()
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
                        read = await self._pages.read(request, cursor)
                        checked = await self._pages.check(request, read, facts)
                    except ConnectorError as error:
                        if not error.retryable:
                            raise
                        failure = error  # the pages in the air still finish
                        continue
                    posting.append((asyncio.create_task(self._pages.post(request, checked, beat)), read.next_cursor))
                    cursor, read_all, started = read.next_cursor, read.next_cursor is None, started + 1
                    continue
                if not posting:
                    break
                task, after = posting.popleft()
                posted = await task
                progressed = progressed or posted.new_rows > 0
                if posted.failure is None and not unfinished:
                    point = Checkpoint(
                        cursor=after,
                        pages=point.pages + 1,
                        counts=point.counts + posted.counts,
                        exhausted=after is None,
                    )
                    beat.save(point)
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
            if not (progressed and isinstance(failure, ConnectorError) and failure.retryable):
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


def _resume_at(cursor: str | None) -> str:
    """The cursor to hand back for a page not yet finished: the first page too is named, as None means done."""
    return cursor if cursor is not None else str(cursor_to_int(cursor, default=1))
