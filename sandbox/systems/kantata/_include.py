"""``include=``: side-loading associated objects under their own type keys.

A belongs-to association (``include=user`` on time entries) side-loads the objects its ``*_id``
field points at. A has-many association (``include=external_references``) also adds the list of
ids to each primary record (``external_reference_ids``), as Kantata does. Unknown names are
ignored.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sandbox._db import SandboxDB
from sandbox.systems.kantata._resources import SUBJECT_TYPES, Resource
from sandbox.systems.kantata._store import EXTERNAL_REFERENCES, NAME

Included = dict[str, dict[str, dict[str, Any]]]
Groups = dict[str, list[str]]
HasMany = Callable[[SandboxDB, Resource, list[dict[str, Any]]], tuple[Groups, str]]


def _by_id(db: SandboxDB, key: str, ids: set[str]) -> dict[str, dict[str, Any]]:
    if not ids:
        return {}
    return {r["id"]: r for r in db.query(NAME, key, where={"id": sorted(ids)})}


def _grouped(rows: list[dict[str, Any]], owner: str, member: str) -> Groups:
    groups: Groups = defaultdict(list)
    for row in rows:
        groups[str(row[owner])].append(str(row[member]))
    return groups


def _subject_rows(key: str) -> HasMany:
    """Objects that point at their subject by (subject_type, subject_id)."""

    def collect(db: SandboxDB, resource: Resource, records: list[dict[str, Any]]) -> tuple[Groups, str]:
        where = {"subject_type": resource.subject_type, "subject_id": [r["id"] for r in records]}
        return _grouped(db.query(NAME, key, where=where), "subject_id", "id"), key

    return collect


def _children(key: str, foreign_key: str, member: str = "id", target: str | None = None) -> HasMany:
    """Objects that point at their owner by a foreign key; ``member`` may name a third object."""

    def collect(db: SandboxDB, resource: Resource, records: list[dict[str, Any]]) -> tuple[Groups, str]:
        rows = db.query(NAME, key, where={foreign_key: [r["id"] for r in records]})
        return _grouped(rows, foreign_key, member), target or key

    return collect


def _workspace_groups(db: SandboxDB, resource: Resource, records: list[dict[str, Any]]) -> tuple[Groups, str]:
    return {r["id"]: list(r.get("_workspace_group_ids", [])) for r in records}, "workspace_groups"


_HAS_MANY: dict[str, HasMany] = {
    "external_references": _subject_rows(EXTERNAL_REFERENCES),
    "custom_field_values": _subject_rows("custom_field_values"),
}
_HAS_MANY_BY_RESOURCE: dict[str, dict[str, HasMany]] = {
    "users": {
        "skills": _children("skill_memberships", "user_id", "skill_id", target="skills"),
        "skill_memberships": _children("skill_memberships", "user_id"),
        "account_memberships": _children("account_memberships", "user_id"),
    },
    "workspaces": {
        "participations": _children("participations", "workspace_id"),
        "workspace_groups": _workspace_groups,
    },
    "rate_cards": {
        "rate_card_roles": _children("rate_card_roles", "rate_card_id"),
        "rate_card_versions": _children("rate_card_versions", "_rate_card_id"),
    },
    "rate_card_sets": {
        "rate_card_set_versions": _children("rate_card_set_versions", "_rate_card_set_id"),
        "rate_cards": _children("rate_cards", "_rate_card_set_id"),
    },
    "rate_card_set_versions": {"rate_card_versions": _children("rate_card_versions", "_rate_card_set_version_id")},
    "rate_card_versions": {"rate_card_roles": _children("rate_card_roles", "_rate_card_version_id")},
}


def _subjects(db: SandboxDB, records: list[dict[str, Any]], included: Included) -> None:
    """``include=subject`` on external references: the polymorphic referenced object."""
    wanted: dict[str, set[str]] = defaultdict(set)
    for record in records:
        key = SUBJECT_TYPES.get(record.get("subject_type", ""))
        if key is not None:
            wanted[key].add(str(record["subject_id"]))
            record["subject_ref"] = {"key": key, "id": str(record["subject_id"])}
    for key, ids in wanted.items():
        included.setdefault(key, {}).update(_by_id(db, key, ids))


def include(db: SandboxDB, resource: Resource, records: list[dict[str, Any]], names: str | None) -> Included:
    """Side-load the associations named in ``include`` (comma separated) for ``records``.

    Args:
        db: The sandbox database.
        resource: The primary records' type.
        records: The primary records; has-many id lists are added to them in place.
        names: The raw ``include`` parameter.

    Returns:
        Side-loaded records per type key.
    """
    included: Included = {}
    if not records:
        return included
    for name in [part.strip() for part in (names or "").split(",") if part.strip()]:
        if name in resource.belongs_to:
            id_field, target = resource.belongs_to[name]
            ids = {str(r[id_field]) for r in records if r.get(id_field) is not None}
            if id_field.startswith("_"):
                # A foreign key Kantata shows only when its association is included.
                for record in records:
                    record[id_field[1:]] = record.get(id_field)
            included.setdefault(target, {}).update(_by_id(db, target, ids))
        elif name == "subject" and resource.key == EXTERNAL_REFERENCES:
            _subjects(db, records, included)
        else:
            collect = _HAS_MANY_BY_RESOURCE.get(resource.key, {}).get(name) or _HAS_MANY.get(name)
            if collect is None:
                continue
            groups, target = collect(db, resource, records)
            for record in records:
                record[f"{name[:-1]}_ids"] = groups.get(record["id"], [])
            wanted = {member for members in groups.values() for member in members}
            included.setdefault(target, {}).update(_by_id(db, target, wanted))
    return included
