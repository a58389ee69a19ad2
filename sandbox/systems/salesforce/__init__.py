"""Salesforce REST API emulator (CRM), under ``/salesforce`` (or at the root of its own port).

- ``POST /services/oauth2/token`` — client credentials, refresh token, JWT bearer and
  username-password (``_auth``); ``POST /services/Soap/u/{v}`` — SOAP ``login()`` (``_soap``).
- ``/services/data/v62.0/...`` — sObject rows (``GET``/``PATCH``/``DELETE /sobjects/T/{id}``,
  ``POST /sobjects/T``), upsert by External ID (``PATCH /sobjects/T/{Field}/{value}``: 201/200/300),
  SOQL (``GET /query?q=``, ``/queryAll?q=``, ``GET /query/{locator}-{offset}``), describe
  (``GET /sobjects``, ``/sobjects/T``, ``/sobjects/T/describe``), sObject Collections
  (``POST /composite/sobjects``, ``PATCH /composite/sobjects/T/{Field}``), sObject Get Updated
  (``GET /sobjects/T/updated?start=&end=``) and ``GET /limits`` — each with or without a trailing slash.
- Errors are ``[{"message", "errorCode", "fields"}]``; every data response carries
  ``Sforce-Limit-Info``; the daily allocation ends in 403 ``REQUEST_LIMIT_EXCEEDED``.
- Contracts (``800``) and Salesforce CPQ's amendment objects and fields; ``PATCH
  /services/apexrest/SBQQ/ServiceRouter?loader=SBQQ.ContractManipulationAPI.ContractAmender&uid=``
  amends a contract and answers the QuoteModel as a JSON string, as CPQ does (``_cpq``).
- Opportunity creates and stage changes, Contract and quote changes are pushed, signed, to
  subscribers of their channel (``_relay``).
- ``/_admin/salesforce/...`` — allocation, batch size, subscriptions, deliveries, JWT keys.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from sandbox._framework import SandboxSystem
from sandbox.systems.salesforce import _admin, _auth, _cpq, _routes, _soap
from sandbox.systems.salesforce._auth import HOSTS
from sandbox.systems.salesforce._schema import API_VERSION, NAME, SOBJECTS
from sandbox.systems.salesforce._seed import seed

__all__ = ["SYSTEM", "error_body"]

# The framework's generic codes, in Salesforce's vocabulary.
_CODES = {
    "unauthorized": "INVALID_SESSION_ID",
    "not_found": "NOT_FOUND",
    "method_not_allowed": "METHOD_NOT_ALLOWED",
    "invalid_request": "JSON_PARSER_ERROR",
    "rate_limited": "REQUEST_LIMIT_EXCEEDED",
    "server_error": "UNKNOWN_EXCEPTION",
    "unavailable": "SERVER_UNAVAILABLE",
    "timeout": "REQUEST_RUNNING_TOO_LONG",
}


def error_body(status: int, code: str, message: str) -> tuple[Any, dict[str, str]]:
    """Salesforce's error array: ``[{"message", "errorCode", "fields"}]``."""
    return [{"message": message, "errorCode": _CODES.get(code, code), "fields": []}], {}


router = APIRouter()
router.include_router(_auth.router)
router.include_router(_soap.router)
router.include_router(_routes.router)
router.include_router(_cpq.router)

SYSTEM = SandboxSystem(
    name=NAME,
    router=router,
    error_body=error_body,
    kinds=tuple(s.name for s in SOBJECTS.values()),
    seed=seed,
    admin_router=_admin.router,
    base_path=f"/services/data/v{API_VERSION}",
    hosts=HOSTS,
)
