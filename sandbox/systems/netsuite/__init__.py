"""NetSuite SuiteTalk REST web services (ERP), under ``/netsuite``.

The account root ``/netsuite`` stands for ``https://<account>.suitetalk.api.netsuite.com``:

- ``/services/rest/record/v1/{type}`` for customer, job, projectTask, employee, timeBill,
  expenseReport, invoice, billingSchedule and accountingPeriod — create (204 + ``Location``),
  read, update and delete by internal id or ``eid:<externalId>``, upsert with
  ``PUT .../eid:<externalId>``, list with ``q``/``limit``/``offset``.
- ``/services/rest/query/v1/suiteql`` — a documented subset of SuiteQL.
- ``/services/rest/async/v1/job/{id}`` — writes sent with ``Prefer: respond-async`` run as jobs;
  ``X-NetSuite-Idempotency-Key`` counts only on those (see ``_jobs``).
- ``/services/rest/auth/oauth2/v1/token`` — OAuth 2.0 M2M tokens (JWT client assertion).

Requests authenticate with an M2M bearer token or a TBA (OAuth 1.0a HMAC-SHA256) signature and
count against the account's concurrency limit (default 5, 429 beyond it). Transactions must be
dated in an open accounting period; references must name existing records. Sandbox controls
are under ``/_admin/netsuite`` (see ``_admin``).
"""

from __future__ import annotations

from fastapi import APIRouter

from sandbox._framework import SandboxSystem
from sandbox.systems.netsuite import _admin, _auth, _jobs, _routes
from sandbox.systems.netsuite._errors import error_body
from sandbox.systems.netsuite._seed import seed
from sandbox.systems.netsuite._types import KINDS, NAME

router = APIRouter(tags=["netsuite"])
router.include_router(_auth.router)
router.include_router(_routes.router, prefix="/services/rest")
router.include_router(_jobs.router, prefix="/services/rest")

SYSTEM = SandboxSystem(
    name=NAME,
    router=router,
    error_body=error_body,
    kinds=KINDS,
    seed=seed,
    admin_router=_admin.router,
    base_path="/services/rest/record/v1",
    # Posting and reconciliation read a period's transactions page by page (trandate BETWEEN ...).
    indexes=(("tranDate",),),
    hosts=("*.suitetalk.api.netsuite.com",),
)
