"""Rate card sets, set versions, cards, card versions and card roles: validation, filters, cloning.

Research note apis-round2 §1 ("Rate card model", "Set versions: dates, publishing, immutability",
"What an emulator must get right" 1-3). The hierarchy is Rate Card Set → Rate Card (one per
currency) → Rate Card Version (``default_rate``) → Rate Card Role (``role_id``, ``rate`` in cents
per hour); a Rate Card Set Version (``effective_date``, ``active`` once published) owns one card
version per card of its set. Foreign keys between them (``rate_card_set_id``, ``rate_card_id``,
``rate_card_set_version_id``, ``rate_card_version_id``) are stored privately and appear only when
the association is named in ``include=``, as Kantata documents.

The flat cards of older accounts (``POST /rate_cards`` without a set, ``POST /rate_card_roles``
with a ``rate_card_id``) keep working: they live in the account's default set, whose first version
holds them (see ``_pricing``). The routes that are not plain index/show/create/update/delete
(create with ``clone_id``, publish, table rows, delete) are in ``_rate_routes``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sandbox._db import SandboxDB
from sandbox.systems.kantata._pricing import (
    CARD_ROLES,
    CARD_VERSIONS,
    CARDS,
    FIRST_VERSION_DATE,
    SET_VERSIONS,
    SETS,
    card_version,
    sandbox_today,
    version_in_force,
    versions_of_set,
)
from sandbox.systems.kantata._store import NAME, Problem, bad_request, timestamp
from sandbox.systems.kantata._validation import _currency, _exists, _iso_date, _non_negative_int, _present, _required

DEFAULT_SET_TITLE = "Default Rate Card Set"


def default_set(db: SandboxDB) -> dict[str, Any]:
    """The account's default set, created with its first (published) version when missing.

    Kantata creates it lazily on first use of rate cards (research §1, [K3]).
    """
    found = db.query(NAME, SETS, where={"account_default": True}, limit=1)
    if found:
        return found[0]
    now = timestamp()
    record = db.insert(
        NAME,
        SETS,
        {
            "title": DEFAULT_SET_TITLE,
            "account_default": True,
            "destroyable": False,
            "created_at": now,
            "updated_at": now,
        },
    )
    version = {"_rate_card_set_id": record["id"], "effective_date": FIRST_VERSION_DATE, "active": True}
    db.insert(NAME, SET_VERSIONS, {**version, "created_at": now, "updated_at": now})
    return record


def add_card_version(db: SandboxDB, card_id: str, set_version_id: str, default_rate: int = 0) -> dict[str, Any]:
    """A card's (empty) version inside a set version."""
    now = timestamp()
    body = {
        "_rate_card_id": str(card_id),
        "_rate_card_set_version_id": str(set_version_id),
        "default_rate": default_rate,
        "created_at": now,
        "updated_at": now,
    }
    return db.insert(NAME, CARD_VERSIONS, body)


def copy_card_versions(db: SandboxDB, source_id: str | None, set_id: str, target_id: str) -> None:
    """Give a new set version one card version per card of its set, copied from ``source_id`` when given."""
    now = timestamp()
    for card in db.query(NAME, CARDS, where={"_rate_card_set_id": str(set_id)}):
        source = card_version(db, card["id"], source_id) if source_id is not None else None
        version = add_card_version(db, card["id"], target_id, int(source["default_rate"]) if source else 0)
        if source is None:
            continue
        for row in db.query(NAME, CARD_ROLES, where={"_rate_card_version_id": source["id"]}):
            copied = {"rate_card_id": card["id"], "role_id": row["role_id"], "rate": row["rate"]}
            db.insert(
                NAME,
                CARD_ROLES,
                {**copied, "_rate_card_version_id": version["id"], "created_at": now, "updated_at": now},
            )


def rate_card_created(db: SandboxDB, card: dict[str, Any]) -> None:
    """A new card gets a version in every version of its set (Kantata back-fills earlier versions)."""
    for version in versions_of_set(db, card["_rate_card_set_id"], published=False):
        add_card_version(db, card["id"], version["id"])


def in_force_today(version: Mapping[str, Any]) -> bool:
    """Whether a set version is published and its date has come: it can no longer change."""
    return bool(version.get("active")) and str(version["effective_date"]) <= sandbox_today().isoformat()


def date_taken(db: SandboxDB, set_id: str, day: str, other_than: str | None) -> list[Problem]:
    """Two versions of one set cannot share an effective date."""
    clash = [
        v
        for v in versions_of_set(db, set_id, published=False)
        if str(v["effective_date"]) == day and v["id"] != other_than
    ]
    if clash:
        message = f"rate card set {set_id} already has a version effective {day} (version {clash[0]['id']})"
        return [Problem(message, "effective_date")]
    return []


def _move(body: dict[str, Any], name: str) -> None:
    """Store a foreign key privately: it is shown only when its association is included."""
    if name in body:
        value = body.pop(name)
        body[f"_{name}"] = str(value) if _present(value) else None


def prepare_rate_card_set(db: SandboxDB, body: dict[str, Any], current: dict[str, Any] | None) -> list[Problem]:
    """Rate card sets: a title; custom sets are never the account default."""
    problems = _required({**(current or {}), **body}, {"title": "title is required"})
    if current is None:
        body.update(account_default=False, destroyable=True)
    return problems


def prepare_set_version(db: SandboxDB, body: dict[str, Any], current: dict[str, Any] | None) -> list[Problem]:
    """Set version updates: ``effective_date`` only while unpublished or still in the future.

    Creates go through ``_rate_routes`` (they take ``clone_id``); this is the update half.
    """
    if current is None:
        return [Problem("create rate card set versions with POST /rate_card_set_versions", "rate_card_set_version")]
    problems = _iso_date(body, "effective_date")
    if problems or "effective_date" not in body:
        return problems
    if in_force_today(current):
        message = (
            f"rate card set version {current['id']} is published and in force since {current['effective_date']}: "
            "its date can no longer change; create a new version instead"
        )
        return [Problem(message, "effective_date")]
    return date_taken(db, current["_rate_card_set_id"], str(body["effective_date"]), current["id"])


def prepare_rate_card(db: SandboxDB, body: dict[str, Any], current: dict[str, Any] | None) -> list[Problem]:
    """Rate cards: a title and a currency, in a set (the account's default set when none is named)."""
    problems = _required(
        {**(current or {}), **body}, {"title": "title is required", "currency": "currency is required"}
    )
    problems += _currency(body)
    _move(body, "rate_card_set_id")
    if current is not None:
        body.pop("_rate_card_set_id", None)
        return problems
    if body.get("_rate_card_set_id") is None:
        body["_rate_card_set_id"] = default_set(db)["id"]
    problems += _exists(db, SETS, body, "_rate_card_set_id", "Rate card set")
    return problems


def prepare_card_version(db: SandboxDB, body: dict[str, Any], current: dict[str, Any] | None) -> list[Problem]:
    """Card versions change only their ``default_rate``; they come from a new card or set version."""
    if current is None:
        message = "rate card versions cannot be created directly: create a rate card or a rate card set version"
        return [Problem(message, "rate_card_version")]
    return _required(body, {"default_rate": "default_rate is required"}) + _non_negative_int(body, "default_rate")


def prepare_rate_card_role(db: SandboxDB, body: dict[str, Any], current: dict[str, Any] | None) -> list[Problem]:
    """Rate card roles: one role's rate (cents per hour) in one card version.

    ``rate_card_version_id`` names the version; a flat ``rate_card_id`` alone means the card's
    version in force today. An update changes ``rate`` only.
    """
    problems = _non_negative_int(body, "rate")
    if current is not None:
        for name in ("rate_card_id", "rate_card_version_id", "role_id"):
            body.pop(name, None)
        return problems
    problems += _required(body, {"role_id": "role_id is required", "rate": "rate is required"})
    if _present(body.get("role_id")):
        body["role_id"] = str(body["role_id"])
        problems += _exists(db, "roles", body, "role_id", "Role")
    version = _version_for_role(db, body, problems)
    if version is None or problems:
        return problems
    body["_rate_card_version_id"] = version["id"]
    body["rate_card_id"] = version["_rate_card_id"]
    body.pop("rate_card_version_id", None)
    taken = db.query(NAME, CARD_ROLES, where={"_rate_card_version_id": version["id"], "role_id": body["role_id"]})
    if taken:
        problems.append(Problem(f"role {body['role_id']} already has a rate in this rate card version", "role_id"))
    return problems


def _version_for_role(db: SandboxDB, body: dict[str, Any], problems: list[Problem]) -> dict[str, Any] | None:
    if _present(body.get("rate_card_version_id")):
        version = db.get(NAME, CARD_VERSIONS, str(body["rate_card_version_id"]))
        if version is None:
            problems.append(
                Problem(f"Rate card version {body['rate_card_version_id']} does not exist", "rate_card_version_id")
            )
        return version
    card = db.get(NAME, CARDS, str(body.get("rate_card_id"))) if _present(body.get("rate_card_id")) else None
    if card is None:
        problems.append(
            Problem(
                "rate_card_version_id (or a rate_card_id) naming an existing card is required", "rate_card_version_id"
            )
        )
        return None
    set_version = version_in_force(versions_of_set(db, card["_rate_card_set_id"]), sandbox_today().isoformat())
    return card_version(db, card["id"], set_version["id"]) if set_version is not None else None


def effective_on(db: SandboxDB, key: str, value: str) -> list[str]:
    """``effective_on_date``: ids of the set versions (or card versions) in force on that day."""
    try:
        day = date.fromisoformat(value).isoformat()
    except ValueError:
        raise bad_request(f"effective_on_date must be a date in YYYY-MM-DD format (got {value!r})") from None
    in_force = []
    for rate_set in db.query(NAME, SETS):
        version = version_in_force(versions_of_set(db, rate_set["id"]), day)
        if version is not None:
            in_force.append(version["id"])
    if key == SET_VERSIONS:
        return in_force
    return [v["id"] for v in db.query(NAME, CARD_VERSIONS, where={"_rate_card_set_version_id": in_force})]
