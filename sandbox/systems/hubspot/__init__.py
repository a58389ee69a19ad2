"""HubSpot CRM v3 emulator: deals, companies, line items and contacts of one account.

API (under ``/hubspot``, bearer token: the demo private-app token or an OAuth access token):

- ``GET|POST /crm/v3/objects/{type}`` — list (``limit`` ≤ 100, opaque ``after``) / create.
- ``GET|PATCH|DELETE /crm/v3/objects/{type}/{id}`` — ``properties=``, ``associations=``,
  ``idProperty=``.
- ``POST /crm/v3/objects/{type}/search`` — filter groups, one sort, ≤ 200 per page, 10,000 cap.
- ``POST /crm/v3/objects/{type}/batch/read|upsert`` — ≤ 100 inputs; 207 with ``errors``.
- ``GET /crm/v4/objects/{from}/{id}/associations/{to}``, ``PUT .../default/{to}/{id}``,
  ``PUT|DELETE .../{to}/{id}`` (array body of ``{associationCategory, associationTypeId}``) —
  associations, deal↔deal included; ``POST /crm/v4/associations/{from}/{to}/batch/read``.
- ``GET|POST|PUT /crm/v4/associations/{from}/{to}/labels``, ``DELETE .../labels/{typeId}`` —
  the account's USER_DEFINED labels, one type id per direction.
- ``GET|POST /crm/v3/pipelines/deals``, ``GET|PATCH|DELETE /crm/v3/pipelines/deals/{id}``,
  ``GET|POST .../{id}/stages``, ``GET|PATCH .../{id}/stages/{stageId}`` — deal pipelines; a
  deal's ``dealstage`` must be a stage of its ``pipeline``.
- ``GET /crm/v3/properties/{type}``, ``GET .../{name}`` — property definitions (read-only).
- ``POST /oauth/v1/token`` — refresh-token and authorization-code grants.

``{type}`` is ``deals``, ``companies``, ``line_items`` or ``contacts``. Every API response carries
``X-HubSpot-RateLimit-*`` headers; over the rolling ten-second window (100 by default) the answer
is a 429 naming ``TEN_SECONDLY_ROLLING``. Deal changes are pushed to webhook subscriptions, signed
with signature v3. Sandbox controls are listed in ``_admin``.
"""

from __future__ import annotations

from fastapi import APIRouter

from sandbox._framework import SandboxSystem
from sandbox.systems.hubspot import (
    _associations,
    _auth,
    _batch,
    _label_routes,
    _pipeline_routes,
    _properties,
    _routes,
)
from sandbox.systems.hubspot._admin import admin_router
from sandbox.systems.hubspot._errors import error_body
from sandbox.systems.hubspot._schema import NAME
from sandbox.systems.hubspot._seed import seed

router = APIRouter(tags=["hubspot"])
router.include_router(_routes.router)
router.include_router(_batch.router)
router.include_router(_associations.router)
router.include_router(_label_routes.router)
router.include_router(_pipeline_routes.router)
router.include_router(_properties.router)
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
