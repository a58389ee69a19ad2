"""Workday (HR) emulator: workers, time off and a staffing report for tenant ``psflow_demo``.

Shapes follow the stored research (section 4 of ``saas-apis.md``), most of it third-party or
inferred; where it is, the emulator is lenient and ``docs/connectors/workday.md`` says so.

- ``POST /workday/ccx/oauth2/{tenant}/token`` — refresh-token grant (HTTP Basic or form client auth).
- ``GET /workday/ccx/api/common/v1/{tenant}/workers[/{id}]`` (alias ``/ccx/api/v1/{tenant}``).
- ``GET /workday/ccx/api/absenceManagement/v1/{tenant}/workers/{id}/timeOffDetails``.
- ``GET /workday/ccx/service/customreport2/{tenant}/ISU_psflow/psflow_Worker_Staffing?format=json``.
- ``/_admin/workday/...`` — hire, change, terminate, add time off, token lifetime and refresh tokens.

Errors are ``{"error": message, "errors": [{"error": message, "code": code}]}``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from sandbox._framework import SandboxSystem
from sandbox.systems.workday import _admin, _auth, _routes
from sandbox.systems.workday._common import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_REFRESH_TOKEN,
    NAME,
    TENANT,
)
from sandbox.systems.workday._seed import seed

__all__ = ["DEMO_CLIENT_ID", "DEMO_CLIENT_SECRET", "DEMO_REFRESH_TOKEN", "SYSTEM", "TENANT", "error_body"]


def error_body(status: int, code: str, message: str) -> tuple[Any, dict[str, str]]:
    """Workday's REST error shape (inferred): the message, and a list of errors with their codes."""
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if status == 401 else {}
    return {"error": message, "errors": [{"error": message, "code": code}]}, headers


router = APIRouter(tags=["workday"])
router.include_router(_auth.router)
router.include_router(_routes.router)

SYSTEM = SandboxSystem(
    name=NAME,
    router=router,
    error_body=error_body,
    kinds=("worker", "time_off", "supervisory_organization", "cost_center"),
    seed=seed,
    admin_router=_admin.router,
    base_path=f"/ccx/api/common/v1/{TENANT}",
    hosts=("*.workday.com",),
)
