"""The ERP lookups of a posting under faults: retried in-process, kept when they succeed, never all-or-nothing.

The activity runs outside a worker (Temporal's `ActivityEnvironment`) against the session sandbox,
with the NetSuite connector's innermost transport answering chosen SuiteQL queries with a 500 and
recording every query sent, so each test can say exactly which lookups reached the ERP.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from temporalio.testing import ActivityEnvironment

from activities.posting import PostingActivities, PostPageRequest
from connectors._core import DEFAULT_RETRY
from connectors.netsuite import NetSuiteConnector, NetSuiteSettings
from stack.connectors import Connectors
from stack.settings import Settings
from store import Store
from tests.flows.test_posting import approved, ledger_ids, seeded_day

SUITEQL = "/query/v1/suiteql"
UNEXPECTED_ERROR = {
    "type": "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.6.1",
    "title": "Internal Server Error",
    "status": 500,
    "o:errorDetails": [{"detail": "An unexpected error occurred.", "o:errorCode": "UNEXPECTED_ERROR"}],
}


class FailingQueries(httpx.AsyncBaseTransport):
    """Sends requests over a socket; a SuiteQL query containing a `failing` text gets a 500 instead.

    Attributes:
        failing: Text → how many more times a query containing it fails (None: until removed).
        queries: Every SuiteQL statement that reached this transport, retries included, in order.
    """

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.failing: dict[str, int | None] = {}
        self.queries: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith(SUITEQL):
            query = str(json.loads(await request.aread())["q"])
            self.queries.append(query)
            for text, left in self.failing.items():
                if text in query and (left is None or left > 0):
                    self.failing[text] = None if left is None else left - 1
                    return httpx.Response(500, json=UNEXPECTED_ERROR, request=request)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@pytest_asyncio.fixture
async def queries() -> FailingQueries:
    return FailingQueries()


@pytest_asyncio.fixture
async def netsuite(flow_settings: Settings, queries: FailingQueries) -> AsyncIterator[NetSuiteConnector]:
    settings = NetSuiteSettings(base_url=f"{flow_settings.sandbox_url}/netsuite")
    async with NetSuiteConnector(settings, transport=queries) as connector:
        yield connector


async def test_a_suiteql_lookup_answered_500_is_retried_in_process(
    netsuite: NetSuiteConnector, queries: FailingQueries
) -> None:
    # A query sent as POST changes nothing: the connector retries it like a GET, within its small budget.
    query = "SELECT id, currency, isinactive FROM job WHERE externalid = 'PRJ-0001'"
    queries.failing["'PRJ-0001'"] = DEFAULT_RETRY.max_attempts - 1
    page = await netsuite.suiteql_page(query, page_size=1)
    assert len(page.items) == 1
    assert queries.queries == [query] * DEFAULT_RETRY.max_attempts


async def test_a_failed_lookup_holds_back_only_its_records_and_no_lookup_that_succeeded_is_sent_again(
    flow_settings: Settings, connectors: Connectors, netsuite: NetSuiteConnector, queries: FailingQueries
) -> None:
    day = seeded_day(13)
    time_ids, _ = await approved(connectors, day)
    entries = [e async for e in connectors.kantata.list_time_entries(approved=True, performed_on=day)]
    projects = sorted({e.project_id for e in entries})
    assert len(projects) >= 2, "the day should have time on several projects"
    held = projects[0]
    held_ids = {e.id for e in entries if e.project_id == held}
    store = Store(flow_settings.store_url)
    store.upgrade()
    posting = PostingActivities(connectors.kantata, netsuite, store)
    request = PostPageRequest(business_date=day, kind="time_entry", run_id=f"te-posting:netsuite:{day}/lookups")
    queries.failing[f"'{held}'"] = None  # the held project's job lookup fails past the connector's retries

    first = await ActivityEnvironment().run(posting.post_approved_page, request)

    # The rest of the day posted; the page is not finished, so the call names it as the next one.
    assert ledger_ids(flow_settings, day) == time_ids - held_ids
    assert (first.pages, first.counts.total, first.next_cursor) == (0, 0, "1"), first
    held_lookup = next(q for q in queries.queries if f"'{held}'" in q)
    assert queries.queries.count(held_lookup) == DEFAULT_RETRY.max_attempts
    assert all(queries.queries.count(q) == 1 for q in queries.queries if q != held_lookup), queries.queries
    sent = len(queries.queries)

    del queries.failing[f"'{held}'"]
    second = await ActivityEnvironment().run(
        posting.post_approved_page, request.model_copy(update={"cursor": first.next_cursor})
    )

    # Only the lookup that had failed went to the ERP again; every record is posted, once.
    assert queries.queries[sent:] == [held_lookup]
    assert (second.pages, second.next_cursor) == (1, None), second
    assert (second.counts.posted, second.counts.already_posted) == (len(time_ids), 0), second.counts
    assert ledger_ids(flow_settings, day) == time_ids
    store.engine.dispose()
