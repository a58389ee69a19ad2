"""Asynchronous requests (``Prefer: respond-async``) and the idempotency key that only they read.

A write sent with ``Prefer: respond-async`` becomes a job: the answer is 202 with
``Preference-Applied: respond-async`` and ``Location: .../services/rest/async/v1/job/<id>``, and the
outcome is read back under ``/async/v1/job``:

- ``GET /async/v1/job/{id}`` → ``{links, completed, id, progress, task: {links}}``, ``progress``
  being ``pending``, ``succeeded`` or ``failed``;
- ``GET /async/v1/job/{id}/task`` → the job's tasks (one per request) as a collection page;
- ``GET /async/v1/job/{id}/task/{task}`` → the task's ``progress``, ``startTime``, ``endTime``;
- ``GET /async/v1/job/{id}/task/{task}/result`` → the response the request would have had
  synchronously: 204 with the record's ``Location``, or the error with its status.

``X-NetSuite-Idempotency-Key`` is read only on asynchronous requests, as Oracle documents: a key
already used answers 400 ``IDEMPOTENCY_ERROR`` (title "Conflict") with the ``Location`` of the first
job, whatever the method, path or body. It never replays a result, and on a synchronous request
the header is ignored. The emulator runs each job before it answers, so a job is complete when read.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from sandbox._db import SandboxDB
from sandbox._framework import SandboxHTTPError
from sandbox.systems.netsuite._account import AccountDB, GatedRoute
from sandbox.systems.netsuite._auth import authenticate
from sandbox.systems.netsuite._errors import IDEMPOTENCY_ERROR, NONEXISTENT_ID, error_body
from sandbox.systems.netsuite._types import NAME

IDEMPOTENCY_HEADER = "x-netsuite-idempotency-key"
RESPOND_ASYNC = "respond-async"
_LAST_JOB = "async-job:last"

router = APIRouter(route_class=GatedRoute, dependencies=[Depends(authenticate)])


def rest_root(request: Request) -> str:
    """The absolute URL of ``.../services/rest`` as the client addressed it."""
    prefix = request.url.path.split("/services/rest/", 1)[0]
    return f"{request.url.scheme}://{request.url.netloc}{prefix}/services/rest"


def wants_async(request: Request) -> bool:
    """Whether the request asked to run as a job (``Prefer: respond-async``)."""
    preferences = request.headers.get("prefer", "").lower().replace(",", ";").split(";")
    return RESPOND_ASYNC in (p.strip() for p in preferences)


def _job_url(request: Request, job_id: str) -> str:
    return f"{rest_root(request)}/async/v1/job/{job_id}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def submit(request: Request, db: SandboxDB, write: Callable[[], str], location: Callable[[str], str]) -> Response:
    """Run ``write`` (which returns the record id) as a job; answer 202 with the job's ``Location``.

    Raises:
        SandboxHTTPError: 400 ``IDEMPOTENCY_ERROR`` when the request's idempotency key was used before.
    """
    key = request.headers.get(IDEMPOTENCY_HEADER)
    accepted = {"Preference-Applied": RESPOND_ASYNC}

    def reserve() -> str:
        # Claiming the key and the job id in one transaction: of two requests racing with one key,
        # exactly one runs.
        with db.transaction():
            if key:
                first = db.kv_get(NAME, f"idempotency:{key}")
                if first is not None:
                    raise SandboxHTTPError(
                        400,
                        IDEMPOTENCY_ERROR,
                        'A request with the same idempotency key is already submitted. See the "Location" '
                        "header for a link to the previously submitted job.",
                        headers={**accepted, "Location": _job_url(request, str(first))},
                    )
            job_id = str(db.kv_incr(NAME, _LAST_JOB))
            if key:
                db.kv_set(NAME, f"idempotency:{key}", job_id)
            db.kv_set(NAME, f"async-job:{job_id}", {"progress": "pending", "startTime": _now()})
            return job_id

    def run(job_id: str) -> None:
        try:
            with db.transaction():
                result: dict[str, Any] = {"status": 204, "location": location(write())}
            progress = "succeeded"
        except SandboxHTTPError as failure:
            result = {"status": failure.status, "code": failure.code, "message": failure.message}
            progress = "failed"
        with db.transaction():
            started = db.kv_get(NAME, f"async-job:{job_id}")["startTime"]
            job = {"progress": progress, "startTime": started, "endTime": _now(), "result": result}
            db.kv_set(NAME, f"async-job:{job_id}", job)

    job_id = await run_in_threadpool(reserve)
    await run_in_threadpool(run, job_id)
    return Response(status_code=202, headers={**accepted, "Location": _job_url(request, job_id)})


def _job(db: SandboxDB, job_id: str, task_id: str | None = None) -> dict[str, Any]:
    job = db.kv_get(NAME, f"async-job:{job_id}") if job_id.isdigit() else None
    if job is None or (task_id is not None and task_id != job_id):
        what = f"async job {job_id}" if task_id is None else f"task {task_id} of async job {job_id}"
        raise SandboxHTTPError(404, NONEXISTENT_ID, f"The record instance does not exist: {what}.")
    return dict(job)


def _links(href: str) -> list[dict[str, str]]:
    return [{"rel": "self", "href": href}]


@router.get("/async/v1/job/{job_id}")
async def get_job(job_id: str, request: Request, db: AccountDB) -> dict[str, Any]:
    """A job's state."""
    job = _job(db, job_id)
    url = _job_url(request, job_id)
    return {
        "links": _links(url),
        "completed": job["progress"] != "pending",
        "id": job_id,
        "progress": job["progress"],
        "task": {"links": _links(f"{url}/task")},
    }


@router.get("/async/v1/job/{job_id}/task")
async def list_tasks(job_id: str, request: Request, db: AccountDB) -> dict[str, Any]:
    """A job's tasks: one, since every emulated job is one request."""
    _job(db, job_id)
    url = f"{_job_url(request, job_id)}/task"
    return {
        "links": _links(url),
        "count": 1,
        "hasMore": False,
        "items": [{"links": _links(f"{url}/{job_id}"), "id": job_id}],
        "offset": 0,
        "totalResults": 1,
    }


@router.get("/async/v1/job/{job_id}/task/{task_id}")
async def get_task(job_id: str, task_id: str, request: Request, db: AccountDB) -> dict[str, Any]:
    """A task's state and times."""
    job = _job(db, job_id, task_id)
    url = f"{_job_url(request, job_id)}/task/{task_id}"
    task = {"links": _links(url), "id": task_id, "progress": job["progress"], "startTime": job["startTime"]}
    if "endTime" in job:
        task |= {"endTime": job["endTime"], "result": {"links": _links(f"{url}/result")}}
    return task


@router.get("/async/v1/job/{job_id}/task/{task_id}/result")
async def get_result(job_id: str, task_id: str, db: AccountDB) -> Response:
    """The response the request would have had synchronously."""
    result = _job(db, job_id, task_id).get("result")
    if result is None:
        raise SandboxHTTPError(404, NONEXISTENT_ID, f"Async job {job_id} has no result yet.")
    if result["status"] == 204:
        return Response(status_code=204, headers={"Location": result["location"]})
    body, headers = error_body(result["status"], result["code"], result["message"])
    return JSONResponse(body, status_code=result["status"], headers=headers)
