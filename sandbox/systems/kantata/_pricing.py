"""Which rate card set version is in force on a day, and the bill rate a time entry gets from it.

Research note apis-round2 §1 ("Rate card model", "How a time entry gets its rate"): a workspace
points at one rate card (one currency); the card belongs to a rate card set, whose published set
versions each hold one card version per card, effective from the version's date. A time entry
created without ``rate_in_cents`` is priced from the workspace's card version in the set version
effective on ``date_performed``: the Rate Card Role for its ``role_id``, else the card version's
``default_rate``. Publishing a version never reprices entries already made.

Kantata does not document what prices a day before a set's first published version; the emulator
prices it from the first one, so an account's earliest rates cover the history logged before them
[inferred]. The flat cards of accounts set up before versions existed sit in the default set's
first version, dated `FIRST_VERSION_DATE`, so they cover every day the demo firm has.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sandbox._db import SandboxDB
from sandbox.seed import anchor_date
from sandbox.systems.kantata._store import NAME

SETS = "rate_card_sets"
SET_VERSIONS = "rate_card_set_versions"
CARDS = "rate_cards"
CARD_VERSIONS = "rate_card_versions"
CARD_ROLES = "rate_card_roles"
FIRST_VERSION_DATE = "2000-01-01"
"""The effective date of the default set's first version, which holds the account's flat cards."""


def sandbox_today() -> date:
    """The sandbox's today: the demo firm's anchor (``PSFLOW_SANDBOX_TODAY``), which tests pin."""
    return anchor_date()


def versions_of_set(db: SandboxDB, set_id: str, *, published: bool = True) -> list[dict[str, Any]]:
    """A set's versions by effective date (only the published ones unless ``published`` is False)."""
    where: dict[str, Any] = {"_rate_card_set_id": str(set_id)}
    if published:
        where["active"] = True
    return db.query(NAME, SET_VERSIONS, where=where, order_by="effective_date")


def version_in_force(versions: list[dict[str, Any]], day: str) -> dict[str, Any] | None:
    """The version in force on ``day`` among a set's published versions, ordered by date.

    The latest one dated on or before the day; before the first, the first (see the module note).
    """
    in_force = [v for v in versions if str(v["effective_date"]) <= day]
    if in_force:
        return in_force[-1]
    return versions[0] if versions else None


def card_version(db: SandboxDB, card_id: str, set_version_id: str) -> dict[str, Any] | None:
    """The card's version inside one set version."""
    where = {"_rate_card_id": str(card_id), "_rate_card_set_version_id": str(set_version_id)}
    rows = db.query(NAME, CARD_VERSIONS, where=where, limit=1)
    return rows[0] if rows else None


def role_rate(db: SandboxDB, version: Mapping[str, Any], role_id: str | None) -> int:
    """The rate of a role in a card version: its Rate Card Role, else the version's default rate."""
    if role_id is not None:
        where = {"_rate_card_version_id": version["id"], "role_id": str(role_id)}
        rows = db.query(NAME, CARD_ROLES, where=where, limit=1)
        if rows:
            return int(rows[0]["rate"])
    return int(version.get("default_rate") or 0)


def rate_on(db: SandboxDB, workspace: Mapping[str, Any], role_id: str | None, day: str) -> int:
    """The bill rate (cents per hour) a time entry on ``day`` gets on this workspace; 0 without a card."""
    card = db.get(NAME, CARDS, str(workspace["rate_card_id"])) if workspace.get("rate_card_id") else None
    if card is None or card.get("_rate_card_set_id") is None:
        return 0
    set_version = version_in_force(versions_of_set(db, card["_rate_card_set_id"]), day)
    version = card_version(db, card["id"], set_version["id"]) if set_version is not None else None
    return role_rate(db, version, role_id) if version is not None else 0
