from typing import Any

import httpx
import pytest

from connectors._core import (
    Page,
    RestClient,
    after_cursor,
    cursor_to_int,
    next_url_cursor,
    offset_cursor,
    page_cursor,
    pages,
    paginate,
)

RECORDS = [{"id": str(n)} for n in range(1, 8)]  # seven records, three pages of three
SIZE = 3


def salesforce_api(request: httpx.Request) -> httpx.Response:
    """SOQL query: the first page at /query, later ones at opaque nextRecordsUrl locators."""
    start = 0 if request.url.path.endswith("/query") else int(request.url.path.rsplit("-", 1)[1])
    chunk = RECORDS[start : start + SIZE]
    done = start + SIZE >= len(RECORDS)
    body: dict[str, Any] = {"totalSize": len(RECORDS), "done": done, "records": chunk}
    if not done:
        body["nextRecordsUrl"] = f"/services/data/v61.0/query/01gD0000002HU6KIAW-{start + SIZE}"
    return httpx.Response(200, json=body)


def hubspot_api(request: httpx.Request) -> httpx.Response:
    after = int(request.url.params.get("after", "0"))
    chunk = RECORDS[after : after + SIZE]
    body: dict[str, Any] = {"results": chunk}
    if after + SIZE < len(RECORDS):
        body["paging"] = {"next": {"after": str(after + SIZE), "link": "..."}}
    return httpx.Response(200, json=body)


def netsuite_api(request: httpx.Request) -> httpx.Response:
    offset, limit = int(request.url.params["offset"]), int(request.url.params["limit"])
    chunk = RECORDS[offset : offset + limit]
    return httpx.Response(
        200,
        json={
            "count": len(chunk),
            "hasMore": offset + limit < len(RECORDS),
            "items": chunk,
            "offset": offset,
            "totalResults": len(RECORDS),
        },
    )


def workday_api(request: httpx.Request) -> httpx.Response:
    offset, limit = int(request.url.params["offset"]), int(request.url.params["limit"])
    return httpx.Response(200, json={"total": len(RECORDS), "data": RECORDS[offset : offset + limit]})


def kantata_api(request: httpx.Request) -> httpx.Response:
    page, per_page = int(request.url.params["page"]), int(request.url.params["per_page"])
    chunk = RECORDS[(page - 1) * per_page : page * per_page]
    page_count = -(-len(RECORDS) // per_page)
    return httpx.Response(
        200,
        json={
            "count": len(RECORDS),
            "meta": {"count": len(RECORDS), "page_count": page_count, "page_number": page, "page_size": per_page},
            "results": [{"key": "workspaces", "id": r["id"]} for r in chunk],
            "workspaces": {r["id"]: {"id": r["id"]} for r in chunk},
        },
    )


def _client(api: Any, base_url: str = "https://api.example.test") -> RestClient:
    return RestClient("test", base_url=base_url, transport=httpx.MockTransport(api))


def salesforce_fetch(client: RestClient):  # type: ignore[no-untyped-def]
    async def fetch(cursor: str | None) -> Page[dict[str, Any]]:
        # nextRecordsUrl carries the full path, so it is resolved against the host, not the base path.
        url = cursor or "/services/data/v61.0/query"
        body = await client.get_json(
            f"https://org.example.test{url}", params=None if cursor else {"q": "SELECT Id FROM Account"}
        )
        return Page(body["records"], next_url_cursor(body.get("nextRecordsUrl"), done=body["done"]))

    return fetch


def hubspot_fetch(client: RestClient):  # type: ignore[no-untyped-def]
    async def fetch(cursor: str | None) -> Page[dict[str, Any]]:
        params = {"limit": SIZE, **({"after": cursor} if cursor else {})}
        body = await client.get_json("/crm/v3/objects/deals", params=params)
        return Page(body["results"], after_cursor(body))

    return fetch


def netsuite_fetch(client: RestClient):  # type: ignore[no-untyped-def]
    async def fetch(cursor: str | None) -> Page[dict[str, Any]]:
        offset = cursor_to_int(cursor, default=0)
        body = await client.get_json("/record/v1/customer", params={"limit": SIZE, "offset": offset})
        return Page(body["items"], offset_cursor(offset, body["count"], has_more=body["hasMore"]))

    return fetch


def workday_fetch(client: RestClient):  # type: ignore[no-untyped-def]
    async def fetch(cursor: str | None) -> Page[dict[str, Any]]:
        offset = cursor_to_int(cursor, default=0)
        body = await client.get_json("/workers", params={"limit": SIZE, "offset": offset})
        return Page(body["data"], offset_cursor(offset, len(body["data"]), total=body["total"]))

    return fetch


def kantata_fetch(client: RestClient):  # type: ignore[no-untyped-def]
    async def fetch(cursor: str | None) -> Page[dict[str, Any]]:
        page = cursor_to_int(cursor, default=1)
        body = await client.get_json("/workspaces.json", params={"page": page, "per_page": SIZE})
        items = [body[ref["key"]][ref["id"]] for ref in body["results"]]
        return Page(items, page_cursor(body["meta"]["page_number"], page_count=body["meta"]["page_count"]))

    return fetch


STYLES = {
    "next-url (Salesforce)": (salesforce_api, salesforce_fetch),
    "after (HubSpot)": (hubspot_api, hubspot_fetch),
    "offset+hasMore (NetSuite)": (netsuite_api, netsuite_fetch),
    "offset+total (Workday)": (workday_api, workday_fetch),
    "page/page_count (Kantata)": (kantata_api, kantata_fetch),
}


@pytest.mark.parametrize("style", STYLES)
async def test_paginate_reads_every_page(style: str) -> None:
    api, make_fetch = STYLES[style]
    async with _client(api) as client:
        seen_pages = [page async for page in pages(make_fetch(client))]
        items = [item async for item in paginate(make_fetch(client))]
    assert [len(p.items) for p in seen_pages] == [3, 3, 1]
    assert seen_pages[-1].next_cursor is None
    assert items == RECORDS


@pytest.mark.parametrize("style", STYLES)
async def test_resume_from_heartbeated_cursor(style: str) -> None:
    api, make_fetch = STYLES[style]
    async with _client(api) as client:
        first = [page async for page in pages(make_fetch(client), max_pages=1)]
        assert len(first) == 1
        resumed = [item async for item in paginate(make_fetch(client), start=first[0].next_cursor)]
    assert first[0].items + resumed == RECORDS


async def test_max_pages_limits_and_self_referencing_cursor_is_refused() -> None:
    async def counting(cursor: str | None) -> Page[int]:
        n = cursor_to_int(cursor, default=0)
        return Page([n], str(n + 1))

    async def stuck(cursor: str | None) -> Page[int]:
        return Page([1], "same")

    assert [i async for i in paginate(counting, max_pages=3)] == [0, 1, 2]
    assert [i async for i in paginate(counting, start="7", max_pages=1)] == [7]
    with pytest.raises(ValueError, match="did not advance"):
        [i async for i in paginate(stuck)]


def test_cursor_helpers_edges() -> None:
    assert next_url_cursor("/next", done=True) is None
    assert next_url_cursor("") is None
    assert after_cursor({"paging": {"next": {"after": 200}}}) == "200"
    assert after_cursor({"paging": {}}) is None
    assert after_cursor({"@odata.nextLink": "https://x"}, path=("@odata.nextLink",)) == "https://x"
    assert offset_cursor(0, 0, has_more=True) is None  # an empty page ends the listing whatever the flag says
    assert offset_cursor(100, 100, limit=100) == "200"
    assert offset_cursor(100, 42, limit=100) is None
    assert page_cursor(2, count=20, per_page=20) == "3"
    assert page_cursor(2, count=5, per_page=20) is None
    with pytest.raises(ValueError, match="needs"):
        offset_cursor(0, 10)
    with pytest.raises(ValueError, match="needs"):
        page_cursor(1)
    with pytest.raises(ValueError, match="numeric"):
        cursor_to_int("/services/data/v61.0/query/01g-2000", default=0)


def test_an_unreadable_record_says_field_by_field_what_is_wrong() -> None:
    from pydantic import BaseModel, Field, ValidationError

    from connectors._core import FieldError, FieldProblem, Unreadable

    class Entry(BaseModel):
        minutes: int = Field(gt=0)
        currency: str

    with pytest.raises(ValidationError) as caught:
        Entry.model_validate({"minutes": 0, "currency": None})
    found = Unreadable.of("645", "kantata:645", caught.value)
    assert (found.raw_id, found.record_id) == ("645", "kantata:645")
    assert found.problems == (
        FieldProblem("minutes", "Input should be greater than 0", "0"),
        FieldProblem("currency", "Input should be a valid string", None),
    )
    assert str(found.problems[0]) == "minutes: Input should be greater than 0"
    assert Unreadable.of("7", "x:7", FieldError("amount.currency", "missing")).problems == (
        FieldProblem("amount.currency", "missing"),
    )
    assert Unreadable.of("8", "x:8", ValueError("no such thing")).problems == (FieldProblem("", "no such thing"),)
    assert Page([1], None).unreadable == ()
