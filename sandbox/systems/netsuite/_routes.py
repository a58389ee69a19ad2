"""Record and query routes under ``/services/rest``, authenticated and counted against the limit.

- ``POST /record/v1/{type}`` → 204 + ``Location``. With ``Prefer: respond-async`` any write
  (POST, PUT, PATCH) runs as a job instead (202, see ``_jobs``); only then does
  ``X-NetSuite-Idempotency-Key`` count. Synchronous requests ignore it, as NetSuite does.
- ``GET|PATCH|DELETE /record/v1/{type}/{id | eid:externalId}``; ``PUT`` with ``eid:`` upserts.
  ``?replace=item`` replaces a sublist's lines on update; ``?expandSubResources=true`` shows them.
- ``GET /record/v1/{type}?q=&limit=&offset=`` → ``{links, count, hasMore, items, offset, totalResults}``.
- ``POST /query/v1/suiteql?limit=&offset=`` with ``Prefer: transient`` and ``{"q": "SELECT ..."}``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from sandbox._db import SandboxDB
from sandbox._framework import SandboxHTTPError
from sandbox.systems.netsuite import _filters, _jobs, _query, _store
from sandbox.systems.netsuite._account import AccountDB, GatedRoute
from sandbox.systems.netsuite._auth import authenticate
from sandbox.systems.netsuite._convert import parse_body, render
from sandbox.systems.netsuite._errors import (
    INVALID_CONTENT,
    INVALID_PARAMETER,
    NONEXISTENT_ID,
    bad_request,
    not_found,
)
from sandbox.systems.netsuite._jobs import rest_root
from sandbox.systems.netsuite._refs import RefNames
from sandbox.systems.netsuite._types import NAME, RecordType, record_type

MAX_PAGE = 1000

router = APIRouter(route_class=GatedRoute, dependencies=[Depends(authenticate)])

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]
Offset = Annotated[int, Query(ge=0)]


def _type(name: str, *, write: bool = False) -> RecordType:
    found = record_type(name)
    if found is None:
        raise SandboxHTTPError(404, NONEXISTENT_ID, f"Record type '{name}' does not exist.")
    if write and found.read_only:
        raise bad_request(
            INVALID_PARAMETER,
            f"{found.name} records are read-only here: "
            "open or close periods with PUT /_admin/netsuite/periods/YYYY-MM.",
        )
    return found


async def _body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw) if raw.strip() else {}
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise bad_request(INVALID_CONTENT, f"The request body is not valid JSON: {exc}.") from None


def _location(request: Request, rtype: RecordType, record_id: str) -> str:
    return f"{rest_root(request)}/record/v1/{rtype.name}/{record_id}"


def _located(request: Request, rtype: RecordType, record_id: str) -> Response:
    return Response(status_code=204, headers={"Location": _location(request, rtype, record_id)})


async def _write(request: Request, db: SandboxDB, rtype: RecordType, apply: Callable[[], str]) -> Response:
    """Run one write atomically: now (204 + ``Location``), or as a job if the client prefers (202)."""
    if _jobs.wants_async(request):
        return await _jobs.submit(request, db, apply, lambda record_id: _location(request, rtype, record_id))

    def transaction() -> str:
        with db.transaction():
            return apply()

    return _located(request, rtype, await run_in_threadpool(transaction))


def _names(value: str | None) -> frozenset[str]:
    """Comma-separated names (``replace=item,expense``, ``fields=id,email``)."""
    return frozenset(part.strip() for part in (value or "").split(",") if part.strip())


@router.post("/record/v1/{type_name}", status_code=204)
async def create_record(type_name: str, request: Request, db: AccountDB) -> Response:
    """Create a record; the new URL is in ``Location``."""
    rtype = _type(type_name, write=True)
    body = await _body(request)
    return await _write(request, db, rtype, lambda: _store.create(db, rtype, parse_body(rtype, body))["id"])


@router.put("/record/v1/{type_name}/{key}", status_code=204)
async def upsert_record(
    type_name: str, key: str, request: Request, db: AccountDB, replace: str | None = None
) -> Response:
    """Upsert by external id: create the record or update the one that has it."""
    rtype = _type(type_name, write=True)
    if not key.startswith("eid:") or len(key) == 4:
        raise bad_request(
            INVALID_PARAMETER, f"PUT needs an external id key: .../{rtype.name}/eid:<externalId>, not {key!r}."
        )
    body = await _body(request)

    def apply() -> str:
        changes = parse_body(rtype, body)
        current = _store.find(db, rtype, key)
        if current is None:
            return str(_store.create(db, rtype, changes, external_id=key[4:])["id"])
        return str(_store.update(db, rtype, current, changes, replace=_names(replace), external_id=key[4:])["id"])

    return await _write(request, db, rtype, apply)


@router.patch("/record/v1/{type_name}/{key}", status_code=204)
async def update_record(
    type_name: str, key: str, request: Request, db: AccountDB, replace: str | None = None
) -> Response:
    """Update fields of an existing record."""
    rtype = _type(type_name, write=True)
    body = await _body(request)

    def apply() -> str:
        current = _store.find(db, rtype, key)
        if current is None:
            raise not_found(rtype.name, key)
        return str(_store.update(db, rtype, current, parse_body(rtype, body), replace=_names(replace))["id"])

    return await _write(request, db, rtype, apply)


@router.delete("/record/v1/{type_name}/{key}", status_code=204)
async def delete_record(type_name: str, key: str, db: AccountDB) -> Response:
    """Delete a record."""
    rtype = _type(type_name, write=True)

    def delete() -> None:
        with db.transaction():
            current = _store.find(db, rtype, key)
            if current is None:
                raise not_found(rtype.name, key)
            db.delete(NAME, rtype.name, current["id"])

    await run_in_threadpool(delete)
    return Response(status_code=204)


@router.get("/record/v1/{type_name}/{key}")
async def get_record(
    type_name: str,
    key: str,
    request: Request,
    db: AccountDB,
    expandSubResources: bool = False,
    fields: str | None = None,
) -> dict[str, Any]:
    """Read one record by internal id or ``eid:``."""
    rtype = _type(type_name)
    current = _store.find(db, rtype, key)
    if current is None:
        raise not_found(rtype.name, key)
    wanted = set(_names(fields)) if fields else None
    return render(
        rtype,
        current,
        record_base=f"{rest_root(request)}/record/v1",
        names=RefNames(db),
        expand=expandSubResources,
        fields=wanted,
    )


def _links(request: Request, offset: int, limit: int, total: int) -> list[dict[str, str]]:
    params = {k: v for k, v in request.query_params.items() if k not in ("limit", "offset")}

    def href(at: int) -> str:
        query = urlencode({**params, "limit": limit, "offset": at})
        return f"{request.url.scheme}://{request.url.netloc}{request.url.path}?{query}"

    last = max(0, (total - 1) // limit * limit)
    links = [{"rel": "first", "href": href(0)}]
    if offset > 0:
        links.append({"rel": "prev", "href": href(max(0, offset - limit))})
    if offset + limit < total:
        links.append({"rel": "next", "href": href(offset + limit)})
    links += [{"rel": "last", "href": href(last)}, {"rel": "self", "href": str(request.url)}]
    return links


def _page(request: Request, items: list[Any], offset: int, limit: int, total: int) -> dict[str, Any]:
    return {
        "links": _links(request, offset, limit, total),
        "count": len(items),
        "hasMore": offset + len(items) < total,
        "items": items,
        "offset": offset,
        "totalResults": total,
    }


@router.get("/record/v1/{type_name}")
async def list_records(
    type_name: str, request: Request, db: AccountDB, q: str | None = None, limit: Limit = MAX_PAGE, offset: Offset = 0
) -> dict[str, Any]:
    """List record ids (with links), filtered by ``q``."""
    rtype = _type(type_name)
    plan = _filters.plan(rtype, q) if q else _filters.Plan()
    predicate = plan.predicate()

    def select() -> tuple[list[dict[str, Any]], int]:
        if plan.external_id is not None:
            found = db.find_by_ext_key(NAME, rtype.name, plan.external_id)
            matched = [
                r
                for r in ([found] if found else [])
                if all(r.get(k) == v for k, v in plan.where.items()) and (predicate is None or predicate(r))
            ]
            return matched[offset : offset + limit], len(matched)
        if predicate is None:
            page = db.query(NAME, rtype.name, where=plan.where, offset=offset, limit=limit)
            return page, db.count(NAME, rtype.name, where=plan.where)
        matched = db.query(NAME, rtype.name, where=plan.where, predicate=predicate)
        return matched[offset : offset + limit], len(matched)

    records, total = await run_in_threadpool(select)
    base = f"{rest_root(request)}/record/v1/{rtype.name}"
    items = [{"links": [{"rel": "self", "href": f"{base}/{r['id']}"}], "id": r["id"]} for r in records]
    return _page(request, items, offset, limit, total)


@router.post("/query/v1/suiteql")
async def suiteql(request: Request, db: AccountDB, limit: Limit = MAX_PAGE, offset: Offset = 0) -> dict[str, Any]:
    """Run a SuiteQL query (the supported subset) and return one page of rows."""
    if "transient" not in request.headers.get("prefer", "").lower():
        raise bad_request(INVALID_PARAMETER, "SuiteQL queries need the header Prefer: transient.")
    body = await _body(request)
    text = body.get("q") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text.strip():
        raise bad_request(INVALID_CONTENT, 'The body must be {"q": "SELECT ..."}.')
    if offset >= _query.MAX_ROWS:
        raise bad_request(INVALID_PARAMETER, f"SuiteQL returns at most {_query.MAX_ROWS} rows: narrow the query.")
    query = _query.parse(text)
    within_cap = min(limit, _query.MAX_ROWS - offset)  # no row past the cap, whatever the page size
    rows, total = await run_in_threadpool(_query.run, db, query, offset=offset, limit=within_cap)
    return _page(request, rows, offset, limit, min(total, _query.MAX_ROWS))
