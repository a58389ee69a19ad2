"""Pagination as a loop over opaque cursors.

A connector writes one ``fetch_page(cursor) -> Page`` per list endpoint; `pages` and `paginate`
drive it. The cursor is a string whatever the system uses — a next URL (Salesforce), an
``after`` token (HubSpot), an offset (NetSuite, Workday) or a page number (Kantata) — so an
activity can heartbeat it after each page and resume from it after a retry.

```python
async def fetch(cursor: str | None) -> Page[dict[str, Any]]:
    offset = cursor_to_int(cursor, default=0)
    body = await client.get_json("/workers", params={"limit": 100, "offset": offset})
    items = body["data"]
    return Page(items, offset_cursor(offset, len(items), total=body["total"]))

async for worker in paginate(fetch):
    ...
```

A page also carries the records the connector read but could not map to canonical models
(`Unreadable`): the raw id and, field by field, what is wrong. One broken record does not cost the
page, and callers set it aside from data, never from the text of an error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import ValidationError

__all__ = [
    "FieldError",
    "FieldProblem",
    "Page",
    "Unreadable",
    "after_cursor",
    "cursor_to_int",
    "next_url_cursor",
    "offset_cursor",
    "page_cursor",
    "pages",
    "paginate",
]

T = TypeVar("T")


class FieldError(ValueError):
    """A mapping refuses a raw record because of one canonical field (e.g. an expense without currency).

    Args:
        field: The canonical field, dotted for nested ones (``amount.currency``).
        message: What is wrong, for people.
        value: The offending value as found, if there is one.
    """

    def __init__(self, field: str, message: str, value: str | None = None) -> None:
        super().__init__(f"{field}: {message}")
        self.problem = FieldProblem(field, message, value)


@dataclass(frozen=True)
class FieldProblem:
    """One thing wrong with a record.

    Attributes:
        field: The canonical field at fault, dotted for nested ones (``minutes``, ``amount.currency``);
            empty when the record as a whole is at fault (two fields that contradict each other).
        message: What is wrong, for people; no caller parses it.
        value: The offending value as found, if there is one.
    """

    field: str
    message: str
    value: str | None = None

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


@dataclass(frozen=True)
class Unreadable:
    """A record the system listed that cannot be mapped to its canonical model.

    Attributes:
        raw_id: The record's id in the system.
        record_id: The canonical id it would have had (``kantata:645``).
        problems: What is wrong with it, field by field.
    """

    raw_id: str
    record_id: str
    problems: tuple[FieldProblem, ...]

    @classmethod
    def of(cls, raw_id: str, record_id: str, error: ValueError) -> Unreadable:
        """The unreadable record for the error its mapping raised: pydantic's errors become field problems."""
        if isinstance(error, FieldError):
            return cls(raw_id, record_id, (error.problem,))
        if not isinstance(error, ValidationError):
            return cls(raw_id, record_id, (FieldProblem("", str(error)),))
        problems = []
        for found in error.errors(include_url=False):
            cause = found.get("ctx", {}).get("error")
            problems.append(
                FieldProblem(
                    ".".join(str(part) for part in found["loc"]),
                    str(cause) if isinstance(cause, ValueError) else found["msg"],
                    None if found.get("input") is None or isinstance(found["input"], dict) else str(found["input"]),
                )
            )
        return cls(raw_id, record_id, tuple(problems))


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing.

    Attributes:
        items: The records on this page that could be read.
        next_cursor: Where the next page starts, or `None` on the last page.
        unreadable: The records on this page that could not be mapped, as data.
    """

    items: list[T]
    next_cursor: str | None
    unreadable: Sequence[Unreadable] = ()


async def pages(
    fetch_page: Callable[[str | None], Awaitable[Page[T]]],
    *,
    start: str | None = None,
    max_pages: int | None = None,
) -> AsyncIterator[Page[T]]:
    """Yield pages until one has no next cursor.

    Args:
        fetch_page: Fetches the page at a cursor (`None` is the first page).
        start: Resume from this cursor (e.g. the last heartbeated `Page.next_cursor`).
        max_pages: Stop after this many pages.

    Raises:
        ValueError: If the system hands back the cursor it was asked for, which would loop forever.
    """
    cursor = start
    fetched = 0
    while max_pages is None or fetched < max_pages:
        page = await fetch_page(cursor)
        fetched += 1
        if page.next_cursor is not None and page.next_cursor == cursor:
            raise ValueError(f"pagination did not advance: the page at cursor {cursor!r} points to itself")
        yield page
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


async def paginate(
    fetch_page: Callable[[str | None], Awaitable[Page[T]]],
    *,
    start: str | None = None,
    max_pages: int | None = None,
) -> AsyncIterator[T]:
    """Yield the items of every page; arguments as for `pages`."""
    async for page in pages(fetch_page, start=start, max_pages=max_pages):
        for item in page.items:
            yield item


def next_url_cursor(next_url: str | None, *, done: bool = False) -> str | None:
    """Cursor for next-URL paging (Salesforce ``nextRecordsUrl`` + ``done``, OData ``@odata.nextLink``)."""
    return None if done or not next_url else next_url


def after_cursor(body: Mapping[str, Any], path: Sequence[str] = ("paging", "next", "after")) -> str | None:
    """Cursor for opaque-token paging: the value at `path` in the body (HubSpot ``paging.next.after``)."""
    node: Any = body
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return None if node is None or node == "" else str(node)


def offset_cursor(
    offset: int,
    count: int,
    *,
    has_more: bool | None = None,
    total: int | None = None,
    limit: int | None = None,
) -> str | None:
    """Cursor for limit/offset paging (NetSuite ``hasMore``, Workday ``total``).

    Args:
        offset: The offset of the page just read.
        count: How many items it held.
        has_more: The server's "more pages" flag, when it sends one.
        total: The server's total item count, when it sends one.
        limit: The page size asked for, used when the server sends neither: a short page is last.

    Returns:
        The next offset as a string, or `None` at the end. An empty page always ends the listing.
    """
    if count <= 0:
        return None
    following = offset + count
    if has_more is not None:
        more = has_more
    elif total is not None:
        more = following < total
    elif limit is not None:
        more = count >= limit
    else:
        raise ValueError("offset_cursor needs has_more, total or limit to know where the listing ends")
    return str(following) if more else None


def page_cursor(
    page: int,
    *,
    page_count: int | None = None,
    count: int | None = None,
    per_page: int | None = None,
) -> str | None:
    """Cursor for page/per_page paging (Kantata ``meta.page_number`` / ``meta.page_count``).

    Args:
        page: The number of the page just read.
        page_count: The server's page count, when it sends one.
        count: Items on the page just read, used with `per_page` when there is no page count.
        per_page: The page size asked for.

    Returns:
        The next page number as a string, or `None` at the end.
    """
    if page_count is not None:
        return str(page + 1) if page < page_count else None
    if count is not None and per_page is not None:
        return str(page + 1) if count >= per_page and count > 0 else None
    raise ValueError("page_cursor needs page_count, or count and per_page, to know where the listing ends")


def cursor_to_int(cursor: str | None, *, default: int) -> int:
    """Read an offset or page-number cursor; `None` (the first page) gives `default`.

    Raises:
        ValueError: If the cursor is not a non-negative integer (e.g. a cursor of another style).
    """
    if cursor is None:
        return default
    if not cursor.isdigit():
        raise ValueError(f"expected a numeric offset or page cursor, got {cursor!r}")
    return int(cursor)
