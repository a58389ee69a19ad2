"""Kantata OX (formerly Mavenlink) API v1 emulator: the PSA.

Mounted at ``/kantata``; the API root is ``/kantata/api/v1`` (``https://api.mavenlink.com/api/v1``
for the real service) and the token endpoint ``/kantata/oauth/token``.

- Objects: workspaces (projects), workspace groups (clients), stories (tasks), users (created
  only by account invitations, ``_people_routes``), account memberships (disabled for leavers),
  time-off entries, participations, time entries, expenses, timesheet and expense report submissions, roles,
  skills, skill memberships, custom fields and values, rate card sets, set versions (effective
  dated, published), rate cards, card versions and card roles (``_rates``, ``_rate_routes``), and
  external references (``GET /external_references``, ``POST /external_references/create_or_update``,
  or ``external_reference`` nested in a create/update).
- Every answer is the normalized envelope (``count``, ``meta``, ``results``, per-type maps),
  with ``include=``, ``only=``, ``order=``, ``page``/``per_page`` (≤ 200) or ``limit``/``offset``.
- Errors are ``{"errors": [{"type": "validation|oauth|system", "message", "field"}]}`` with
  400, 401, 403, 404, 422, 429 (no ``Retry-After``: Kantata documents none) and 503.
- Auth: ``Authorization: Bearer psflow-demo-kantata-token`` (fixed, never expires) or a token
  from ``/kantata/oauth/token`` (client ``psflow-demo`` / ``psflow-demo-secret``).

See ``_admin`` for the sandbox-only controls and ``docs/connectors/kantata.md`` for what is and
is not emulated.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from sandbox._framework import SandboxSystem
from sandbox.systems.kantata import _admin, _auth, _people_routes, _rate_routes, _routes
from sandbox.systems.kantata._auth import DEMO_AUTHORIZATION_CODE, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from sandbox.systems.kantata._guard import DEMO_ACCESS_TOKEN
from sandbox.systems.kantata._resources import RESOURCES
from sandbox.systems.kantata._seed import seed
from sandbox.systems.kantata._store import NAME

__all__ = [
    "DEMO_ACCESS_TOKEN",
    "DEMO_AUTHORIZATION_CODE",
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "SYSTEM",
    "error_body",
]

_ERROR_TYPES = {"unauthorized": "oauth", "oauth": "oauth", "validation": "validation", "invalid_request": "system"}


def error_body(status: int, code: str, message: str) -> tuple[Any, dict[str, str]]:
    """Kantata's error shape; framework codes map to its ``oauth``/``system`` types.

    The fault injector's 429 and 503 carry ``Retry-After``; Kantata's own 429 carries none, so
    no header is added here.
    """
    error_type = _ERROR_TYPES.get(code, "system")
    if code == "unauthorized":
        message = "Invalid OAuth 2 Request"
    return {"errors": [{"type": error_type, "message": message}]}, {}


router = APIRouter(tags=["kantata"])
router.include_router(_rate_routes.router)  # before the generic routes, which would take these paths
router.include_router(_people_routes.router)
router.include_router(_routes.router)
router.include_router(_auth.router)

SYSTEM = SandboxSystem(
    name=NAME,
    router=router,
    error_body=error_body,
    kinds=tuple(RESOURCES),
    seed=seed,
    admin_router=_admin.router,
    base_path="/api/v1",
    # Posting reads one day's approved time entries (expenses) page by page. Resource sync reads and writes
    # each user's records by email, by subject (Employee reference, cost centre value) and by user id (skill
    # and workweek memberships, time off): each of those was a scan of every record of the kind, so at 10k
    # users a sync's cost grew with the square of its users (10k bulk invitations alone took 123 s, 28 s with these).
    indexes=(
        ("date_performed", "approved"),
        ("date", "approved"),
        ("_email",),
        ("subject_type", "subject_id"),
        ("user_id",),
    ),
    hosts=("api.mavenlink.com", "app.mavenlink.com"),
)
