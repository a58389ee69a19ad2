"""Event sink standing in for the staffing tool and analytics.

- ``POST /sink/events`` — CloudEvents 1.0 over HTTP: structured mode
  (``Content-Type: application/cloudevents+json``), batched mode
  (``application/cloudevents-batch+json``) or binary mode (``ce-*`` headers, the body is the
  data). Deduplicated by (source, id); 202 either way.
- ``GET /sink/events?type=&source=&subject=&limit=&offset=`` — what was received, oldest first.
- ``POST|GET|DELETE /sink/powerbi/datasets/{dataset_id}/tables/{table}/rows`` — a Power BI
  push dataset table (``{"rows": [...]}``, at most 10,000 rows per request).
- ``DELETE /_admin/sink/events`` — forget received events.

It is also the reference for system modules: routes raise ``SandboxHTTPError`` and the app
renders it with ``error_body``; the DB is a dependency; slow work leaves the event loop.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers

from sandbox._db import DuplicateKey, SandboxDB
from sandbox._framework import DB, SandboxHTTPError, SandboxSystem

NAME = "sink"
REQUIRED_ATTRIBUTES = ("id", "source", "specversion", "type")
STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
POWERBI_MAX_ROWS = 10_000

router = APIRouter(tags=["sink"])
admin_router = APIRouter(tags=["sink admin"])


def error_body(status: int, code: str, message: str) -> tuple[Any, dict[str, str]]:
    """Power BI's (and the sink's) error shape."""
    return {"error": {"code": code, "message": message}}, {}


def _bad(message: str) -> SandboxHTTPError:
    return SandboxHTTPError(400, "invalid_request", message)


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _is_json(media_type: str) -> bool:
    return media_type == "application/json" or media_type.endswith("+json")


def _parse_json(raw: bytes, what: str) -> Any:
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _bad(f"{what} is not valid JSON: {exc}") from None


def _from_binary(headers: Headers, raw: bytes) -> dict[str, Any]:
    """Rebuild the structured form of a binary-mode event (ce-* headers + body as data)."""
    event: dict[str, Any] = {
        name[3:].lower(): unquote(value) for name, value in headers.items() if name.lower().startswith("ce-")
    }
    missing = [a for a in REQUIRED_ATTRIBUTES if not event.get(a)]
    if missing:
        headers_wanted = ", ".join(f"ce-{a}" for a in missing)
        raise _bad(
            f"missing required CloudEvents attribute(s) {', '.join(missing)}: in binary mode send the "
            f"{headers_wanted} header(s), or send the whole event with Content-Type: {STRUCTURED}"
        )
    content_type = headers.get("content-type")
    if content_type:
        event["datacontenttype"] = content_type
    if raw:
        media_type = _media_type(content_type or "application/json")
        if _is_json(media_type):
            event["data"] = _parse_json(raw, "the event data")
        elif media_type.startswith("text/") or media_type.endswith("xml"):
            event["data"] = raw.decode("utf-8", errors="replace")
        else:
            event["data_base64"] = base64.b64encode(raw).decode("ascii")
    return event


def _validate(event: Any, where: str) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise _bad(f"{where} must be a JSON object with CloudEvents attributes, got {type(event).__name__}")
    missing = [a for a in REQUIRED_ATTRIBUTES if not isinstance(event.get(a), str) or not event[a]]
    if missing:
        raise _bad(f"{where} is missing required CloudEvents attribute(s): {', '.join(missing)}")
    if event["specversion"] != "1.0":
        raise _bad(f"{where} has specversion {event['specversion']!r}: this sink accepts CloudEvents '1.0'")
    if "data" in event and "data_base64" in event:
        raise _bad(f"{where} has both data and data_base64: send one of them")
    return event


def _store_events(db: SandboxDB, events: list[tuple[dict[str, Any], str]]) -> dict[str, int]:
    accepted = duplicates = 0
    received_at = datetime.now(UTC).isoformat()
    for event, mode in events:
        record = {
            "source": event["source"],
            "type": event["type"],
            "subject": event.get("subject"),
            "event": event,
            "mode": mode,
            "received_at": received_at,
        }
        try:
            db.insert(NAME, "event", record, ext_key=json.dumps([event["source"], event["id"]]))
            accepted += 1
        except DuplicateKey:
            duplicates += 1
    return {"accepted": accepted, "duplicates": duplicates}


@router.post("/events", status_code=202)
async def receive_events(request: Request, db: DB) -> dict[str, int]:
    """Accept CloudEvents in structured, batched or binary mode; duplicates are acknowledged."""
    raw = await request.body()
    media_type = _media_type(request.headers.get("content-type", ""))
    if media_type == STRUCTURED:
        events = [(_validate(_parse_json(raw, "the structured event"), "the event"), "structured")]
    elif media_type == BATCH:
        batch = _parse_json(raw, "the event batch")
        if not isinstance(batch, list):
            raise _bad(f"a {BATCH} body must be a JSON array of events, got {type(batch).__name__}")
        events = [(_validate(e, f"event [{i}]"), "batch") for i, e in enumerate(batch)]
    else:
        events = [(_validate(_from_binary(request.headers, raw), "the event"), "binary")]
    # DB writes are blocking: keep them off the event loop.
    return await run_in_threadpool(_store_events, db, events)


@router.get("/events")
def list_events(
    db: DB,
    type: str | None = None,
    source: str | None = None,
    subject: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Received events (structured form), oldest first, filtered by type/source/subject."""
    where = {k: v for k, v in {"type": type, "source": source, "subject": subject}.items() if v is not None}
    records = db.query(NAME, "event", where=where, offset=offset, limit=limit)
    return {
        "total": db.count(NAME, "event", where=where),
        "offset": offset,
        "limit": limit,
        "events": [r["event"] for r in records],
    }


_ROWS_PATH = "/powerbi/datasets/{dataset_id}/tables/{table}/rows"


@router.post(_ROWS_PATH)
async def push_rows(dataset_id: str, table: str, request: Request, db: DB) -> Response:
    """Power BI "Datasets - Post Rows": append rows to a push dataset table."""
    payload = _parse_json(await request.body(), "the request body")
    rows = payload.get("rows") if isinstance(payload, dict) else None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise _bad('the body must be {"rows": [{...}, ...]}: an object whose "rows" is a list of objects')
    if len(rows) > POWERBI_MAX_ROWS:
        raise _bad(f"{len(rows)} rows in one request: Power BI accepts at most {POWERBI_MAX_ROWS}")

    def store() -> None:
        with db.transaction():
            for row in rows:
                db.insert(NAME, "powerbi_row", {"dataset_id": dataset_id, "table": table, "row": row})

    await run_in_threadpool(store)
    return Response(status_code=200)


@router.get(_ROWS_PATH)
def list_rows(
    dataset_id: str,
    table: str,
    db: DB,
    limit: Annotated[int, Query(ge=1, le=POWERBI_MAX_ROWS)] = 1000,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Rows pushed to a table, oldest first."""
    where = {"dataset_id": dataset_id, "table": table}
    records = db.query(NAME, "powerbi_row", where=where, offset=offset, limit=limit)
    return {"total": db.count(NAME, "powerbi_row", where=where), "rows": [r["row"] for r in records]}


@router.delete(_ROWS_PATH)
def delete_rows(dataset_id: str, table: str, db: DB) -> Response:
    """Power BI "Datasets - Delete Rows": empty the table."""
    db.delete_where(NAME, "powerbi_row", where={"dataset_id": dataset_id, "table": table})
    return Response(status_code=200)


@admin_router.delete("/events")
def forget_events(db: DB) -> dict[str, int]:
    """Forget every received event (sandbox only)."""
    return {"deleted": db.delete_where(NAME, "event")}


SYSTEM = SandboxSystem(
    name=NAME,
    router=router,
    error_body=error_body,
    kinds=("event", "powerbi_row"),
    admin_router=admin_router,
)
