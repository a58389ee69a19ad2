"""BambooHR (HR) emulator: employees, their changes and time off, for company ``psflowdemo``.

Research: ``apis-round2.md`` §4 (BambooHR), "What an emulator must get right (BambooHR)":

- ``/api/v1/...`` and the legacy ``/api/gateway.php/{company}/v1/...``; Basic auth with the API
  key as the user name; JSON only with ``Accept: application/json`` (406 otherwise: XML is not
  emulated).
- ``employees/changed`` keyed by id with ``latest``; strict ``since``; directory 403/404 and
  ``onlyCurrent``; cursor paging on ``GET /employees``; time off with "superceded".
- Rate limiting: 429 + ``Retry-After`` (the 2026 mode) or the legacy 503, switchable.
- ``X-BambooHR-Error-Message`` carries the message of every 4xx.

- Who's out mixes ``timeOff`` and ``holiday`` entries; holidays have no ``employeeId``.

Not emulated: custom reports, webhooks, XML.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from sandbox._framework import SandboxSystem
from sandbox.systems.bamboohr import _admin, _routes
from sandbox.systems.bamboohr._common import COMPANY, DEMO_API_KEY, NAME
from sandbox.systems.bamboohr._seed import seed

__all__ = ["COMPANY", "DEMO_API_KEY", "SYSTEM", "error_body"]


def error_body(status: int, code: str, message: str) -> tuple[Any, dict[str, str]]:
    """The error body (shape inferred) and, on a 4xx, the ``X-BambooHR-Error-Message`` header (§4)."""
    headers = {"X-BambooHR-Error-Message": message} if 400 <= status < 500 else {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="BambooHR"'
    return {"error": {"code": code, "message": message}}, headers


router = APIRouter(tags=["bamboohr"])
router.include_router(_routes.router)

SYSTEM = SandboxSystem(
    name=NAME,
    router=router,
    error_body=error_body,
    kinds=("employee", "time_off_request", "change"),
    seed=seed,
    admin_router=_admin.router,
    base_path="/api/v1",
    hosts=("*.bamboohr.com", "api.bamboohr.com"),
)
