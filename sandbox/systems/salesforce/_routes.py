"""REST data routes under ``/services/data/vXX.X``: sObject rows, upsert, SOQL query, collections.

Every route runs through `MeteredRoute` (session, daily allocation, ``Sforce-Limit-Info``).
Query results are snapshotted at the first call and served in batches behind an opaque locator
(``nextRecordsUrl``: ``/services/data/v62.0/query/<locator>-<offset>``, relative to the
instance URL as in Salesforce). The batch size is 2000, lowered by ``Sforce-Query-Options:
batchSize=N`` (200-2000) or by the sandbox admin API (any size, so tests can page small).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Body, Depends, Request, Response
from fastapi.responses import JSONResponse

from sandbox._framework import DB, SandboxHTTPError
from sandbox.systems.salesforce._describe import basic_info, describe, global_describe
from sandbox.systems.salesforce._limits import DataRouter, api_usage
from sandbox.systems.salesforce._query_ast import SoqlError, parse_datetime
from sandbox.systems.salesforce._query_eval import execute
from sandbox.systems.salesforce._query_parse import parse
from sandbox.systems.salesforce._relay import publish
from sandbox.systems.salesforce._schema import API_VERSION, NAME, SOBJECTS, SObject, record_url, sobject
from sandbox.systems.salesforce._store import (
    SaveContext,
    SaveError,
    create,
    delete,
    find,
    format_datetime,
    public,
    update,
    upsert,
)

__all__ = ["BATCH_SIZE_KEY", "MAX_BATCH_SIZE", "router"]

MAX_BATCH_SIZE = 2000
BATCH_SIZE_KEY = "query:batch_size"
MAX_COLLECTION = 200
_VERSION = re.compile(r"^v(\d{2})\.0$")
_ROLLED_BACK = {
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": "Record rolled back because not all records were valid and the request was using AllOrNone header",
    "fields": [],
}


class _RolledBack(Exception):
    """Unwinds an allOrNone collection's transaction after a record failed."""


router = DataRouter(tags=["salesforce"])
JsonBody = Annotated[Any, Body()]


def _version(version: str) -> str:
    match = _VERSION.match(version)
    if match is None or not 20 <= int(match.group(1)) <= int(API_VERSION.split(".")[0]):
        raise SandboxHTTPError(404, "NOT_FOUND", f"The requested resource does not exist: API version {version}")
    return version[1:]


Version = Annotated[str, Depends(_version)]


def _sobject(name: str) -> SObject:
    found = sobject(name)
    if found is None:
        raise SaveError(404, "NOT_FOUND", f"The requested resource does not exist: sObject type '{name}'")
    return found


def _object_body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise SaveError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object of field values")
    return body


def _context(db: DB, version: str) -> SaveContext:
    return SaveContext(db=db, version=version, now=format_datetime(datetime.now(UTC)))


def _publish(request: Request, ctx: SaveContext) -> None:
    client = request.headers.get("sforce-call-options", "")
    origin = f"com/salesforce/api/rest/{ctx.version}" + (f";{client}" if client.startswith("client=") else "")
    publish(request.app.state, ctx.db, ctx.events, origin)


@router.get("/limits")
def limits(db: DB, version: Version) -> dict[str, Any]:
    """The org's limits; only the daily API request allocation is tracked."""
    used, limit = api_usage(db)
    return {"DailyApiRequests": {"Max": limit, "Remaining": max(0, limit - used)}}


@router.get("/sobjects")
def describe_global(version: Version) -> dict[str, Any]:
    """Every sObject type's basic information."""
    return global_describe(sorted(SOBJECTS.values(), key=lambda s: s.name), version)


@router.get("/sobjects/{sobject_name}")
def sobject_info(version: Version, sobject_name: str) -> dict[str, Any]:
    """One type's basic information and (none in the sandbox) recently viewed records."""
    return {"objectDescribe": basic_info(_sobject(sobject_name), version), "recentItems": []}


@router.get("/sobjects/{sobject_name}/describe")
def describe_sobject(version: Version, sobject_name: str) -> dict[str, Any]:
    """One type's fields, child relationships and record types (before the record route it shadows)."""
    return describe(_sobject(sobject_name), version)


def _replication_moment(name: str, text: str) -> datetime:
    try:
        moment = parse_datetime(text.replace(" ", "+"))  # a "+" a client left unencoded arrives as a space
    except ValueError as exc:
        raise SaveError(400, "INVALID_REPLICATION_DATE", f"{name}: not an ISO 8601 date and time: {text}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


@router.get("/sobjects/{sobject_name}/updated")
def get_updated(db: DB, version: Version, sobject_name: str, start: str, end: str) -> dict[str, Any]:
    """sObject Get Updated: ids of the records added or changed in ``[start, end)``.

    As the REST API Developer Guide's "sObject Get Updated" says
    (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api/resources_getupdated.htm, and
    ``GetUpdatedResult`` in the SOAP API guide): the seconds of ``start`` and ``end`` are ignored, a record
    counts by its ``SystemModstamp``, ``start`` may be at most 30 days before the call, and the answer is
    ``{"ids": [...], "latestDateCovered": ...}`` where ``latestDateCovered`` ≤ ``end`` is where the next
    call should start. The sandbox has no long-running transactions, so every committed change before
    ``end`` is listed; ``latestDateCovered`` is ``end``, or the start of the current minute when ``end`` is
    later (a client starting there re-reads this minute rather than missing a change made later in it).
    This is what simple-salesforce's ``sf.Opportunity.updated(start, end)`` calls (research
    apis-round2.md §2, URLs).
    """
    sobj = _sobject(sobject_name)
    low, high = _replication_moment("start", start), _replication_moment("end", end)
    now = datetime.now(UTC)
    if low < now.replace(second=0, microsecond=0) - timedelta(days=30):
        raise SaveError(400, "INVALID_REPLICATION_DATE", "startDate cannot be more than 30 days ago")
    if high < low:
        raise SaveError(400, "INVALID_REPLICATION_DATE", "EndDate before startDate")
    covered = min(high, now.replace(second=0, microsecond=0))
    rows = db.query(NAME, sobj.name, predicate=lambda row: low <= parse_datetime(row["SystemModstamp"]) < high)
    ordered = sorted(rows, key=lambda row: (row["SystemModstamp"], row["Id"]))
    return {"ids": [row["Id"] for row in ordered], "latestDateCovered": format_datetime(covered)}


@router.get("/sobjects/{sobject_name}/{record_id}")
def get_record(db: DB, version: Version, sobject_name: str, record_id: str, fields: str | None = None) -> Any:
    """One record, all fields (or those in ``?fields=A,B``)."""
    sobj = _sobject(sobject_name)
    wanted = [name.strip().lower() for name in fields.split(",")] if fields else None
    for name in wanted or []:
        if sobj.field(name) is None:
            raise SaveError(400, "INVALID_FIELD", f"No such column '{name}' on entity '{sobj.name}'", (name,))
    return public(sobj, find(db, sobj, record_id), version, wanted)


@router.get("/sobjects/{sobject_name}/{field_name}/{value:path}")
def get_by_external_id(db: DB, version: Version, sobject_name: str, field_name: str, value: str) -> Any:
    """One record by an External ID field; 300 with record URLs when several match."""
    sobj = _sobject(sobject_name)
    f = sobj.field(field_name)
    if f is None or not f.external_id:
        raise SaveError(
            404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {field_name}"
        )
    matches = db.query(NAME, sobj.name, where={f.name: value})
    if not matches:
        raise SaveError(404, "NOT_FOUND", f"The requested resource does not exist: {sobj.name} {f.name}={value}")
    if len(matches) > 1:
        return JSONResponse([record_url(sobj.name, m["Id"], version) for m in matches], status_code=300)
    return public(sobj, matches[0], version)


@router.post("/sobjects/{sobject_name}", status_code=201)
def create_record(request: Request, db: DB, version: Version, sobject_name: str, body: JsonBody = None) -> Any:
    """Create a record: 201 ``{"id", "success", "errors"}``."""
    sobj, ctx = _sobject(sobject_name), _context(db, version)
    with db.transaction():
        record = create(ctx, sobj, _object_body(body))
    _publish(request, ctx)
    return {"id": record["Id"], "success": True, "errors": []}


@router.patch("/sobjects/{sobject_name}/{record_id}", status_code=204)
def update_record(
    request: Request, db: DB, version: Version, sobject_name: str, record_id: str, body: JsonBody = None
) -> Response:
    """Update some fields of a record: 204."""
    sobj, ctx = _sobject(sobject_name), _context(db, version)
    with db.transaction():
        update(ctx, sobj, record_id, _object_body(body))
    _publish(request, ctx)
    return Response(status_code=204)


@router.patch("/sobjects/{sobject_name}/{field_name}/{value:path}")
def upsert_record(
    request: Request, db: DB, version: Version, sobject_name: str, field_name: str, value: str, body: JsonBody = None
) -> Response:
    """Upsert by External ID: 201 created, 200 updated, 300 when several records match."""
    sobj, ctx = _sobject(sobject_name), _context(db, version)
    with db.transaction():
        status, result = upsert(ctx, sobj, field_name, value, _object_body(body))
    _publish(request, ctx)
    if isinstance(result, list):
        return JSONResponse(result, status_code=status)
    return JSONResponse(
        {"id": result["Id"], "success": True, "errors": [], "created": status == 201}, status_code=status
    )


@router.delete("/sobjects/{sobject_name}/{record_id}", status_code=204)
def delete_record(db: DB, version: Version, sobject_name: str, record_id: str) -> Response:
    """Delete a record (and its master-detail children): 204."""
    sobj, ctx = _sobject(sobject_name), _context(db, version)
    with db.transaction():
        delete(ctx, sobj, record_id)
    return Response(status_code=204)


def _batch_size(request: Request, db: DB) -> int:
    size: int = db.kv_get(NAME, BATCH_SIZE_KEY, MAX_BATCH_SIZE)
    asked = re.search(r"batchSize=(\d+)", request.headers.get("sforce-query-options", ""))
    if asked:
        size = min(size, max(200, min(MAX_BATCH_SIZE, int(asked.group(1)))))
    return size


def _page(
    rows: list[dict[str, Any]], resource: str, locator: str, offset: int, size: int, version: str
) -> dict[str, Any]:
    end = offset + size
    page: dict[str, Any] = {"totalSize": len(rows), "done": end >= len(rows)}
    if end < len(rows):
        page["nextRecordsUrl"] = f"/services/data/v{version}/{resource}/{locator}-{end}"
    page["records"] = rows[offset:end]
    return page


def _query(request: Request, db: DB, version: str, q: str | None, resource: str) -> dict[str, Any]:
    if not q or not q.strip():
        raise SoqlError("A query string has to be specified: ?q=SELECT ...")
    rows = execute(parse(q), db, today=datetime.now(UTC).date(), version=version)
    size = _batch_size(request, db)
    locator = "01g" + secrets.token_hex(8)
    if len(rows) > size:
        db.kv_set(NAME, f"query:{locator}", rows)
    return _page(rows, resource, locator, 0, size, version)


def _query_more(request: Request, db: DB, version: str, cursor: str, resource: str) -> dict[str, Any]:
    locator, _, offset = cursor.rpartition("-")
    rows = db.kv_get(NAME, f"query:{locator}") if offset.isdigit() else None
    if rows is None:
        raise SaveError(400, "INVALID_QUERY_LOCATOR", f"invalid query locator: {cursor}")
    return _page(rows, resource, locator, int(offset), _batch_size(request, db), version)


@router.get("/query")
def query(request: Request, db: DB, version: Version, q: str | None = None) -> dict[str, Any]:
    """Run a SOQL query; the first batch, with ``nextRecordsUrl`` when there are more."""
    return _query(request, db, version, q, "query")


@router.get("/queryAll")
def query_all(request: Request, db: DB, version: Version, q: str | None = None) -> dict[str, Any]:
    """``queryAll``: the query including deleted records — the sandbox has no Recycle Bin (a delete
    is final), so it answers what ``query`` does."""
    return _query(request, db, version, q, "queryAll")


@router.get("/query/{cursor}")
def query_more(request: Request, db: DB, version: Version, cursor: str) -> dict[str, Any]:
    """The next batch of a query, from its ``nextRecordsUrl``."""
    return _query_more(request, db, version, cursor, "query")


@router.get("/queryAll/{cursor}")
def query_all_more(request: Request, db: DB, version: Version, cursor: str) -> dict[str, Any]:
    """The next batch of a ``queryAll``."""
    return _query_more(request, db, version, cursor, "queryAll")


def _collection(ctx: SaveContext, body: Any, save: Callable[[dict[str, Any]], dict[str, Any]]) -> list[dict[str, Any]]:
    body = _object_body(body)
    records, all_or_none = body.get("records") or [], bool(body.get("allOrNone", False))
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise SaveError(400, "JSON_PARSER_ERROR", "records must be a list of JSON objects")
    if len(records) > MAX_COLLECTION:
        raise SaveError(
            400,
            "EXCEEDED_ID_LIMIT",
            f"record limit reached. cannot submit more than {MAX_COLLECTION} records into this call",
        )
    results: list[dict[str, Any]] = []
    try:
        with ctx.db.transaction():
            for record in records:
                try:
                    results.append(save(record))
                except SaveError as exc:
                    error = {"statusCode": exc.code, "message": exc.message, "fields": exc.fields}
                    results.append({"success": False, "errors": [error]})
            if all_or_none and not all(r["success"] for r in results):
                raise _RolledBack
    except _RolledBack:
        ctx.events.clear()
        results = [r if not r["success"] else {"id": None, "success": False, "errors": [_ROLLED_BACK]} for r in results]
    return results


@router.post("/composite/sobjects")
def create_collection(request: Request, db: DB, version: Version, body: JsonBody = None) -> list[dict[str, Any]]:
    """Create up to 200 records of any types; per-record results in request order (always 200)."""
    ctx = _context(db, version)

    def save(record: dict[str, Any]) -> dict[str, Any]:
        type_name = (record.get("attributes") or {}).get("type")
        sobj = sobject(type_name) if isinstance(type_name, str) else None
        if sobj is None:
            raise SaveError(400, "INVALID_TYPE", f"Must send a concrete entity type: attributes.type={type_name!r}")
        return {"id": create(ctx, sobj, record)["Id"], "success": True, "errors": []}

    results = _collection(ctx, body, save)
    _publish(request, ctx)
    return results


@router.patch("/composite/sobjects/{sobject_name}/{field_name}")
def upsert_collection(
    request: Request, db: DB, version: Version, sobject_name: str, field_name: str, body: JsonBody = None
) -> list[dict[str, Any]]:
    """Upsert up to 200 records of one type by an External ID field; per-record results."""
    sobj, ctx = _sobject(sobject_name), _context(db, version)
    f = sobj.field(field_name)
    if f is None or not f.external_id:
        raise SaveError(
            404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {field_name}"
        )

    def save(record: dict[str, Any]) -> dict[str, Any]:
        fields = {k: v for k, v in record.items() if k.lower() != f.name.lower()}
        value = next((v for k, v in record.items() if k.lower() == f.name.lower()), None)
        if not isinstance(value, str) or not value:
            raise SaveError(400, "REQUIRED_FIELD_MISSING", f"The external ID field {f.name} has no value", (f.name,))
        status, result = upsert(ctx, sobj, f.name, value, fields)
        if isinstance(result, list):
            raise SaveError(
                300,
                "DUPLICATE_EXTERNAL_ID",
                f"{f.name}: more than one record found for external id field: {result}",
                (f.name,),
            )
        return {"id": result["Id"], "success": True, "errors": [], "created": status == 201}

    results = _collection(ctx, body, save)
    _publish(request, ctx)
    return results
