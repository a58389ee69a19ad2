"""Session checks, the daily API request allocation and Salesforce's array-shaped errors.

Every REST data call runs through `MeteredRoute`: the bearer session is checked (401
``INVALID_SESSION_ID``), one request is counted against the org's daily allocation (403
``REQUEST_LIMIT_EXCEEDED`` once it is spent; it refills at UTC midnight or from the admin API),
and the response carries ``Sforce-Limit-Info: api-usage=used/max`` whatever its status.
`DataRouter` serves each such route with and without a trailing slash, as Salesforce does
(simple-salesforce sends ``query/``, ``limits/`` and ``sobjects/Account/``).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from sandbox._auth import check_bearer
from sandbox._db import SandboxDB
from sandbox._framework import SandboxHTTPError
from sandbox.systems.salesforce._errors import SaveError
from sandbox.systems.salesforce._query_ast import SoqlError
from sandbox.systems.salesforce._schema import NAME

__all__ = ["DEFAULT_DAILY_LIMIT", "DataRouter", "MeteredRoute", "api_usage", "error_response", "set_api_usage"]

DEFAULT_DAILY_LIMIT = 15_000
LIMIT_HEADER = "Sforce-Limit-Info"
_USED, _LIMIT, _DAY = "api:used", "api:limit", "api:day"


def error_response(
    status: int, code: str, message: str, fields: Sequence[str] = (), headers: dict[str, str] | None = None
) -> JSONResponse:
    """``[{"message", "errorCode", "fields"}]`` with ``status``."""
    return JSONResponse(
        [{"message": message, "errorCode": code, "fields": list(fields)}], status_code=status, headers=headers
    )


def api_usage(db: SandboxDB) -> tuple[int, int]:
    """Requests counted today and the daily allocation."""
    if db.kv_get(NAME, _DAY) != datetime.now(UTC).date().isoformat():
        return 0, db.kv_get(NAME, _LIMIT, DEFAULT_DAILY_LIMIT)
    return db.kv_get(NAME, _USED, 0), db.kv_get(NAME, _LIMIT, DEFAULT_DAILY_LIMIT)


def set_api_usage(db: SandboxDB, *, used: int | None = None, limit: int | None = None) -> tuple[int, int]:
    """Change today's count and/or the allocation; returns the new usage."""
    with db.transaction():
        current_used, current_limit = api_usage(db)
        db.kv_set(NAME, _DAY, datetime.now(UTC).date().isoformat())
        db.kv_set(NAME, _USED, current_used if used is None else used)
        db.kv_set(NAME, _LIMIT, current_limit if limit is None else limit)
    return api_usage(db)


def _count_request(db: SandboxDB) -> tuple[int, int, bool]:
    with db.transaction():
        used, limit = api_usage(db)
        if used >= limit:
            return used, limit, False
        set_api_usage(db, used=used + 1)
        return used + 1, limit, True


class MeteredRoute(APIRoute):
    """An API route that checks the session, counts the request and renders errors as arrays."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap FastAPI's handler with the session check, the allocation and the limit header."""
        handler = super().get_route_handler()

        async def metered(request: Request) -> Response:
            db: SandboxDB = request.app.state.db
            try:
                check_bearer(db, NAME, request, code="INVALID_SESSION_ID", message="Session expired or invalid")
            except SandboxHTTPError as exc:
                return error_response(exc.status, exc.code, exc.message)
            used, limit, allowed = _count_request(db)
            headers = {LIMIT_HEADER: f"api-usage={used}/{limit}"}
            if not allowed:
                return error_response(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", headers=headers)
            try:
                response = await handler(request)
            except SaveError as exc:
                response = error_response(exc.status, exc.code, exc.message, exc.fields)
            except SoqlError as exc:
                response = error_response(400, exc.code, exc.message)
            except SandboxHTTPError as exc:
                response = error_response(exc.status, exc.code, exc.message, headers=exc.headers)
            response.headers.update(headers)
            return response

        return metered


class DataRouter(APIRouter):
    """REST data routes: metered, under ``/services/data/{version}``, with or without a trailing slash."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(prefix="/services/data/{version}", route_class=MeteredRoute, **kwargs)

    def add_api_route(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        """Add the route, and the same route with a trailing slash (not a 307 to it)."""
        super().add_api_route(path, endpoint, **kwargs)
        if not path.endswith("/"):
            super().add_api_route(f"{path}/", endpoint, **{**kwargs, "include_in_schema": False})
