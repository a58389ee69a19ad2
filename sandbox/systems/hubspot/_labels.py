"""Association types: HubSpot's fixed ones and the account's own USER_DEFINED labels.

Research note apis-round2 §3 ("Linking a change-order deal to the original"): a label is created
with ``{label, name, inverseLabel?}``; a paired label yields two directional type ids, each the
other's inverse; user-defined ids differ per account, so clients discover them from
``GET /crm/v4/associations/{from}/{to}/labels`` rather than hard-code them. Deal↔deal is allowed.

Labels are records of kind ``association_label`` keyed by their type id; ids come from the account's
own counter, so they are not HubSpot's fixed numbers.
"""

from __future__ import annotations

import re
from typing import Any

from sandbox._db import SandboxDB
from sandbox.systems.hubspot._errors import HubSpotError
from sandbox.systems.hubspot._schema import ASSOCIATION_TYPES, NAME, AssociationType

__all__ = ["LABEL", "create_label", "delete_label", "lookup", "types_between", "update_label"]

LABEL = "association_label"
_ID_BASE = 800
_NOT_NAME = re.compile(r"[^a-z0-9]+")


def _from_record(record: dict[str, Any]) -> AssociationType:
    return AssociationType(
        type_id=int(record["id"]),
        from_type=record["fromObjectType"],
        to_type=record["toObjectType"],
        name=record["name"],
        inverse=int(record["inverse"]),
        label=record["label"],
        category="USER_DEFINED",
    )


def lookup(db: SandboxDB, type_id: int) -> AssociationType | None:
    """An association type by id: a HubSpot-defined one or one of the account's labels."""
    fixed = ASSOCIATION_TYPES.get(type_id)
    if fixed is not None:
        return fixed
    stored = db.get(NAME, LABEL, str(type_id))
    return _from_record(stored) if stored is not None else None


def types_between(db: SandboxDB, from_type: str, to_type: str) -> list[AssociationType]:
    """Every association type from one object type to another, HubSpot's first."""
    fixed = [spec for spec in ASSOCIATION_TYPES.values() if (spec.from_type, spec.to_type) == (from_type, to_type)]
    stored = db.query(NAME, LABEL, where={"fromObjectType": from_type, "toObjectType": to_type})
    return [*dict.fromkeys(fixed), *(_from_record(record) for record in stored)]


def _name(label: str) -> str:
    return _NOT_NAME.sub("_", label.lower()).strip("_")


def create_label(
    db: SandboxDB, from_type: str, to_type: str, label: str, name: str, inverse_label: str | None
) -> list[AssociationType]:
    """Create a label (and its inverse direction); return the new types, the `label` direction first.

    A paired label (with `inverse_label`) or a label between two object types gets one id per
    direction; an unpaired label from a type to itself is one id, its own inverse.

    Raises:
        HubSpotError: 409 when the account already has a label with this name between these types.
    """
    taken = {spec.name for spec in types_between(db, from_type, to_type)}
    if name in taken:
        raise HubSpotError(409, "CONFLICT", f"a {from_type} to {to_type} label named {name!r} already exists")
    forward = _ID_BASE + db.kv_incr(NAME, "association_type:id")
    one_way = inverse_label is None and from_type == to_type
    backward = forward if one_way else _ID_BASE + db.kv_incr(NAME, "association_type:id")
    rows = [(forward, from_type, to_type, label, name, backward)]
    if not one_way:
        back_label = inverse_label or label
        rows.append((backward, to_type, from_type, back_label, _name(back_label) if inverse_label else name, forward))
    created = []
    for type_id, source, target, text, internal, inverse in rows:
        body = {
            "fromObjectType": source,
            "toObjectType": target,
            "label": text,
            "name": internal,
            "inverse": inverse,
        }
        created.append(_from_record(db.insert(NAME, LABEL, body, id=str(type_id))))
    return created


def _require_label(db: SandboxDB, type_id: int, from_type: str, to_type: str) -> AssociationType:
    spec = lookup(db, type_id)
    if spec is None or spec.category != "USER_DEFINED" or (spec.from_type, spec.to_type) != (from_type, to_type):
        raise HubSpotError(
            404, "OBJECT_NOT_FOUND", f"no {from_type} to {to_type} label with associationTypeId {type_id}"
        )
    return spec


def update_label(
    db: SandboxDB, from_type: str, to_type: str, type_id: int, label: str, inverse_label: str | None
) -> None:
    """Rename a label (and its inverse direction's, when `inverse_label` is given)."""
    spec = _require_label(db, type_id, from_type, to_type)
    db.update(NAME, LABEL, str(type_id), {"label": label})
    if inverse_label is not None and spec.inverse != spec.type_id:
        db.update(NAME, LABEL, str(spec.inverse), {"label": inverse_label})


def delete_label(db: SandboxDB, from_type: str, to_type: str, type_id: int, association_kind: str) -> None:
    """Delete a label and its inverse; associations keep their other types."""
    spec = _require_label(db, type_id, from_type, to_type)
    gone = {spec.type_id, spec.inverse}
    for record in db.query(NAME, association_kind, predicate=lambda row: bool(gone & set(row["type_ids"]))):
        db.update(NAME, association_kind, record["id"], {"type_ids": sorted(set(record["type_ids"]) - gone)})
    for removed in gone:
        db.delete(NAME, LABEL, str(removed))
