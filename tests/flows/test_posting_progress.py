"""A posting's progress under faults: lookups retried in-process and kept, pages never all-or-nothing.

The activity runs outside a worker (Temporal's `ActivityEnvironment`) against the session sandbox,
through connectors whose innermost transport answers chosen requests with a 500 and records every
request sent, so each test can say exactly what reached the ERP and the PSA.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date

import httpx
import pytest_asyncio
from temporalio.testing import ActivityEnvironment

from activities.posting import PostingActivities, PostPageRequest
from connectors._core import DEFAULT_RETRY
from connectors.kantata import KantataConnector, KantataSettings
from connectors.netsuite import NetSuiteConnector, NetSuiteSettings
from stack.connectors import Connectors
from stack.settings import Settings
from store import Store
from tests.flows.test_posting import approved, approved_time, ledger_ids, seeded_day

SUITEQL = "/query/v1/suiteql"
SERVER_ERROR = {
    "type": "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.6.1",
    "title": "Internal Server Error",
    "status": 500,
    "o:errorDetails": [{"detail": "An unexpected error occurred.", "o:errorCode": "UNEXPECTED_ERROR"}],
}


class Faulty(httpx.AsyncBaseTransport):
    """Sends requests over a socket; a request whose method, URL and body contain a `failing` text gets a 500.

    Attributes:
        failing: Text → how many more times a request containing it fails (None: until removed).
        sent: ``"METHOD URL BODY"`` of every request that reached this transport, retries included.
    """

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.failing: dict[str, int | None] = {}
        self.sent: list[str] = []

    @property
    def queries(self) -> list[str]:
        """The SuiteQL statements sent, in order."""
        return [str(json.loads(s.split(" ", 2)[2])["q"]) for s in self.sent if SUITEQL in s.split(" ", 2)[1]]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        seen = f"{request.method} {request.url} {(await request.aread()).decode()}"
        self.sent.append(seen)
        for text, left in self.failing.items():
            if text in seen and (left is None or left > 0):
                self.failing[text] = None if left is None else left - 1
                return httpx.Response(500, json=SERVER_ERROR, request=request)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@pytest_asyncio.fixture
async def erp() -> Faulty:
    return Faulty()


@pytest_asyncio.fixture
async def netsuite(flow_settings: Settings, erp: Faulty) -> AsyncIterator[NetSuiteConnector]:
    settings = NetSuiteSettings(base_url=f"{flow_settings.sandbox_url}/netsuite")
    async with NetSuiteConnector(settings, transport=erp) as connector:
        yield connector


@pytest_asyncio.fixture
async def store(flow_settings: Settings) -> AsyncIterator[Store]:
    store = Store(flow_settings.store_url)
    store.upgrade()
    yield store
    store.engine.dispose()


def _request(day: date, **options: object) -> PostPageRequest:
    return PostPageRequest.model_validate(
        {"business_date": day, "kind": "time_entry", "run_id": f"te-posting:netsuite:{day}/progress", **options}
    )


async def test_a_suiteql_lookup_answered_500_is_retried_in_process(netsuite: NetSuiteConnector, erp: Faulty) -> None:
    # A query sent as POST changes nothing: the connector retries it like a GET, within its small budget.
    query = "SELECT id, currency, isinactive FROM job WHERE externalid = 'PRJ-0001'"
    erp.failing["'PRJ-0001'"] = DEFAULT_RETRY.max_attempts - 1
    page = await netsuite.suiteql_page(query, page_size=1)
    assert len(page.items) == 1
    assert erp.queries == [query] * DEFAULT_RETRY.max_attempts


async def test_a_failed_lookup_holds_back_only_its_records_and_no_lookup_that_succeeded_is_sent_again(
    flow_settings: Settings, connectors: Connectors, netsuite: NetSuiteConnector, erp: Faulty, store: Store
) -> None:
    day = seeded_day(13)
    time_ids, _ = await approved(connectors, day)
    entries = await approved_time(connectors, day)
    projects = sorted({e.project_id for e in entries})
    assert len(projects) >= 2, "the day should have time on several projects"
    held = projects[0]
    held_ids = {e.id for e in entries if e.project_id == held}
    posting = PostingActivities(connectors.kantata, netsuite, store)
    erp.failing[f"'{held}'"] = None  # the held project's job lookup fails past the connector's retries

    first = await ActivityEnvironment().run(posting.post_approved_page, _request(day))

    # The rest of the day posted; the page is not finished, so the call names it as the next one.
    assert ledger_ids(flow_settings, day) == time_ids - held_ids
    assert (first.pages, first.counts.total, first.next_cursor) == (0, 0, "1"), first
    held_lookup = next(q for q in erp.queries if f"'{held}'" in q)
    assert erp.queries.count(held_lookup) == DEFAULT_RETRY.max_attempts
    assert all(erp.queries.count(q) == 1 for q in erp.queries if q != held_lookup), erp.queries
    sent = len(erp.queries)

    del erp.failing[f"'{held}'"]
    second = await ActivityEnvironment().run(posting.post_approved_page, _request(day, cursor=first.next_cursor))

    # Only the lookup that had failed went to the ERP again; every record is posted, once.
    assert erp.queries[sent:] == [held_lookup]
    assert (second.pages, second.next_cursor) == (1, None), second
    assert (second.counts.posted, second.counts.already_posted) == (len(time_ids), 0), second.counts
    assert ledger_ids(flow_settings, day) == time_ids


async def test_a_page_that_cannot_be_read_leaves_the_pages_before_it_posted_and_counted(
    flow_settings: Settings, connectors: Connectors, netsuite: NetSuiteConnector, store: Store
) -> None:
    day = seeded_day(7)
    time_ids, _ = await approved(connectors, day)
    assert len(time_ids) > 10, "the day should fill more than two pages of five"
    psa = Faulty()
    psa.failing["&page=3&"] = None  # the third page read fails past the connector's retries
    base = flow_settings.sandbox_url
    settings = KantataSettings(base_url=f"{base}/kantata/api/v1", token_url=f"{base}/kantata/oauth/token")
    async with KantataConnector(settings, transport=psa) as kantata:
        posting = PostingActivities(kantata, netsuite, store)
        first = await ActivityEnvironment().run(posting.post_approved_page, _request(day, page_size=5))
        # Pages 1 and 2 were in the air when page 3 failed to read: they finished, and count.
        assert (first.pages, first.counts.posted, first.next_cursor) == (2, 10, "3"), first
        assert len(ledger_ids(flow_settings, day)) == 10
        del psa.failing["&page=3&"]
        rest = await ActivityEnvironment().run(posting.post_approved_page, _request(day, page_size=5, cursor="3"))
    assert rest.next_cursor is None and first.counts.posted + rest.counts.posted == len(time_ids), rest
    assert ledger_ids(flow_settings, day) == time_ids
