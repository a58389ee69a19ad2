"""The rate card set version routes that are more than index/show/update: create, publish, table rows, delete.

Research note apis-round2 §1 ("Set versions: dates, publishing, immutability"):

- ``POST /rate_card_set_versions {rate_card_set_version: {rate_card_set_id*, effective_date}}``: the
  date defaults to today (the sandbox's); ``?clone_id=`` copies a version of the same set with all
  its card versions and role rates; without it every card of the set gets an empty version.
- ``PUT /rate_card_set_versions/{id}/publish`` answers ``{"activated": true}`` (not the envelope).
  Publishing cannot be undone; two versions of one set cannot share an effective date.
- ``PUT /rate_card_set_versions/{svid}/rate_card_table_rows/{role_id}
  {rate_card_table_row: {rates: [{currency, rate}]}}`` sets one role's rate in each named
  currency's card version (row id ``"<svid>:<role_id>"``); a version published and in force is
  immutable, so the write is a 422 there [inferred status, §1 "What an emulator must get right" 2].
- ``DELETE /rate_card_set_versions/{id}`` answers 204 and takes its card versions and role rates
  with it; a version in force cannot be deleted [inferred].

These routes are registered before the generic ones, which serve the rest (index with
``effective_on_date``/``rate_card_set_id`` filters, show, PUT ``effective_date``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from sandbox._framework import DB
from sandbox.systems.kantata._guard import guard
from sandbox.systems.kantata._include import include
from sandbox.systems.kantata._pricing import CARD_ROLES, CARD_VERSIONS, CARDS, SET_VERSIONS, SETS, sandbox_today
from sandbox.systems.kantata._rates import copy_card_versions, date_taken, in_force_today
from sandbox.systems.kantata._resources import RESOURCES
from sandbox.systems.kantata._routes import _json_body
from sandbox.systems.kantata._store import NAME, Problem, envelope, not_found, timestamp
from sandbox.systems.kantata._validation import _iso_date, _non_negative_int, _present

router = APIRouter(prefix="/api/v1", dependencies=[Depends(guard)])


def _failed(*problems: Problem) -> JSONResponse:
    return JSONResponse({"errors": [p.as_json() for p in problems]}, status_code=422)


def _set_version(db: Any, id: str) -> dict[str, Any]:
    version = db.get(NAME, SET_VERSIONS, id.removesuffix(".json"))
    if version is None:
        raise not_found(SET_VERSIONS, id.removesuffix(".json"))
    return dict(version)


@router.post("/rate_card_set_versions")
@router.post("/rate_card_set_versions.json")
async def create_set_version(request: Request, db: DB) -> Any:
    """A new, unpublished version of a set, empty or cloned from ``clone_id``."""
    payload = (await _json_body(request)).get("rate_card_set_version")
    if not isinstance(payload, dict):
        return _failed(Problem('wrap the version in "rate_card_set_version"', "rate_card_set_version"))
    set_id = str(payload.get("rate_card_set_id") or "")
    if not set_id or db.get(NAME, SETS, set_id) is None:
        return _failed(Problem(f"Rate card set {set_id or '(none)'} does not exist", "rate_card_set_id"))
    problems = _iso_date(payload, "effective_date")
    if problems:
        return _failed(*problems)
    day = str(payload.get("effective_date") or sandbox_today().isoformat())
    clone_id = request.query_params.get("clone_id")
    if clone_id is not None:
        source = db.get(NAME, SET_VERSIONS, clone_id)
        if source is None or source["_rate_card_set_id"] != set_id:
            return _failed(Problem(f"clone_id {clone_id} is no version of rate card set {set_id}", "clone_id"))
    now = timestamp()
    with db.transaction():
        clash = date_taken(db, set_id, day, None)
        if clash:
            return _failed(*clash)
        body = {
            "_rate_card_set_id": set_id,
            "effective_date": day,
            "active": False,
            "created_at": now,
            "updated_at": now,
        }
        version = db.insert(NAME, SET_VERSIONS, body)
        copy_card_versions(db, clone_id, set_id, version["id"])
    included = include(db, RESOURCES[SET_VERSIONS], [version], request.query_params.get("include"))
    return envelope(SET_VERSIONS, [version], included=included)


@router.put("/rate_card_set_versions/{id}/publish")
@router.put("/rate_card_set_versions/{id}/publish.json")
def publish(id: str, db: DB) -> Any:
    """Publish a version: irreversible; its date must be the only one of its set."""
    with db.transaction():
        version = _set_version(db, id)
        if not version.get("active"):
            clash = date_taken(db, version["_rate_card_set_id"], str(version["effective_date"]), version["id"])
            if clash:
                return _failed(*clash)
            db.update(NAME, SET_VERSIONS, version["id"], {"active": True, "updated_at": timestamp()})
    return {"activated": True}


@router.put("/rate_card_set_versions/{svid}/rate_card_table_rows/{role_id}")
@router.put("/rate_card_set_versions/{svid}/rate_card_table_rows/{role_id}.json")
async def put_table_row(svid: str, role_id: str, request: Request, db: DB) -> Any:
    """Set one role's rate in a set version, per currency (each currency's card version)."""
    role_id = role_id.removesuffix(".json")
    payload = (await _json_body(request)).get("rate_card_table_row")
    rates = payload.get("rates") if isinstance(payload, dict) else None
    if not isinstance(rates, list) or not rates:
        return _failed(Problem("rate_card_table_row.rates must be a list of {currency, rate}", "rates"))
    with db.transaction():
        version = _set_version(db, svid)
        if in_force_today(version):
            message = (
                f"rate card set version {version['id']} is published and in force: its rates are immutable; "
                "create (or clone) a new version"
            )
            return _failed(Problem(message, "rate_card_set_version_id"))
        if db.get(NAME, "roles", role_id) is None:
            return _failed(Problem(f"Role {role_id} does not exist", "role_id"))
        cards = {c["id"]: c for c in db.query(NAME, CARDS, where={"_rate_card_set_id": version["_rate_card_set_id"]})}
        by_currency = {
            cards[v["_rate_card_id"]]["currency"]: v
            for v in db.query(NAME, CARD_VERSIONS, where={"_rate_card_set_version_id": version["id"]})
            if v["_rate_card_id"] in cards
        }
        now, written = timestamp(), []
        for entry in rates:
            problems = _non_negative_int(entry, "rate") if isinstance(entry, dict) else []
            currency = entry.get("currency") if isinstance(entry, dict) else None
            if not isinstance(entry, dict) or not _present(entry.get("rate")) or problems:
                return _failed(*(problems or [Problem("each rate needs a currency and a rate in cents", "rates")]))
            card_version = by_currency.get(currency)
            if card_version is None:
                return _failed(Problem(f"the set has no rate card in {currency!r}", "currency"))
            where = {"_rate_card_version_id": card_version["id"], "role_id": role_id}
            existing = db.query(NAME, CARD_ROLES, where=where, limit=1)
            if existing:
                db.update(NAME, CARD_ROLES, existing[0]["id"], {"rate": entry["rate"], "updated_at": now})
            else:
                link = {"rate_card_id": card_version["_rate_card_id"], "role_id": role_id, "rate": entry["rate"]}
                db.insert(NAME, CARD_ROLES, {**link, **where, "created_at": now, "updated_at": now})
            written.append({"currency": currency, "rate": entry["rate"]})
    row_id = f"{version['id']}:{role_id}"
    row = {"id": row_id, "role_id": role_id, "rate_card_set_version_id": version["id"], "rates": written}
    return envelope("rate_card_table_rows", [row])


@router.delete("/rate_card_set_versions/{id}", status_code=204)
@router.delete("/rate_card_set_versions/{id}.json", status_code=204)
def delete_set_version(id: str, db: DB) -> Response:
    """Delete a version with its card versions and role rates (not one that is in force)."""
    with db.transaction():
        version = _set_version(db, id)
        if in_force_today(version):
            message = f"rate card set version {version['id']} is published and in force: it cannot be deleted"
            return _failed(Problem(message, "rate_card_set_version"))
        for card_version in db.query(NAME, CARD_VERSIONS, where={"_rate_card_set_version_id": version["id"]}):
            db.delete_where(NAME, CARD_ROLES, where={"_rate_card_version_id": card_version["id"]})
            db.delete(NAME, CARD_VERSIONS, card_version["id"])
        db.delete(NAME, SET_VERSIONS, version["id"])
    return Response(status_code=204)
