"""HubSpot CRM v3 emulator: deals, companies, line items and contacts of one account.

API (under ``/hubspot``, bearer token: the demo private-app token or an OAuth access token):

- ``GET|POST /crm/v3/objects/{type}`` — list (``limit`` ≤ 100, opaque ``after``) / create.
- ``GET|PATCH|DELETE /crm/v3/objects/{type}/{id}`` — ``properties=``, ``associations=``,
  ``idProperty=``.
- ``POST /crm/v3/objects/{type}/search`` — filter groups, one sort, ≤ 200 per page, 10,000 cap.
- ``POST /crm/v3/objects/{type}/batch/read|upsert`` — ≤ 100 inputs; 207 with ``errors``.
- ``GET /crm/v4/objects/{from}/{id}/associations/{to}``, ``PUT .../default/{to}/{id}``,
  ``PUT|DELETE .../{to}/{id}`` — associations.
- ``POST /oauth/v1/token`` — refresh-token and authorization-code grants.

``{type}`` is ``deals``, ``companies``, ``line_items`` or ``contacts``. Every API response carries
``X-HubSpot-RateLimit-*`` headers; over the rolling ten-second window (100 by default) the answer
is a 429 naming ``TEN_SECONDLY_ROLLING``. Deal changes are pushed to webhook subscriptions, signed
with signature v3. Sandbox controls are listed in ``_admin``.
"""

from __future__ import annotations

from fastapi import APIRouter

from sandbox._framework import SandboxSystem
from sandbox.systems.hubspot import _associations, _auth, _batch, _routes
from sandbox.systems.hubspot._admin import admin_router
from sandbox.systems.hubspot._errors import error_body
from sandbox.systems.hubspot._schema import NAME
from sandbox.systems.hubspot._seed import seed

router = APIRouter(tags=["hubspot"])
router.include_router(_routes.router)
router.include_router(_batch.router)
router.include_router(_associations.router)
router.include_router(_auth.router)

SYSTEM = SandboxSystem(
    name=NAME,
    router=router,
    error_body=error_body,
    kinds=("companies", "contacts", "deals", "line_items"),
    seed=seed,
    admin_router=admin_router,
    hosts=("api.hubapi.com", "api.hubspot.com"),
)
