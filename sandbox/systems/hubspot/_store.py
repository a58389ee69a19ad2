"""CRM records and associations in the sandbox DB.

A record is stored as its property values (strings) at the top level of the body, so simple
filters run in SQL, plus ``_archived``. Its unique property's value (``psflow_id``, contact
``email``) is the record's external key, which makes upserts and ``idProperty`` reads cheap and
a clash a ``DuplicateKey``.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox._db import DuplicateKey, SandboxDB
from sandbox.systems.hubspot._errors import HubSpotError
from sandbox.systems.hubspot._labels import lookup
from sandbox.systems.hubspot._pipelines import DEFAULT, check_deal_stage
from sandbox.systems.hubspot._schema import (
    META,
    NAME,
    OBJECT_TYPES,
    AssociationType,
    ObjectType,
    default_association,
)
from sandbox.systems.hubspot._values import now_iso

__all__ = [
    "ASSOCIATION",
    "associate",
    "association_type",
    "associations_of",
    "create",
    "dissociate",
    "find",
    "object_type",
    "public",
    "require",
    "update",
    "values",
]

ASSOCIATION = "association"


def object_type(name: str) -> ObjectType:
    """The object type named in a path.

    Raises:
        HubSpotError: 400 for a type the sandbox does not emulate.
    """
    spec = OBJECT_TYPES.get(name)
    if spec is None:
        known = ", ".join(OBJECT_TYPES)
        raise HubSpotError(400, "VALIDATION_ERROR", f"Unable to infer object type from: {name} (known: {known})")
    return spec


def values(spec: ObjectType, record: dict[str, Any]) -> dict[str, str | None]:
    """Every property value of a record, computed ones (``hs_object_id``, line ``amount``) included."""
    stored = {name: record.get(name) for name in spec.properties}
    stored["hs_object_id"] = record["id"]
    if spec.name == "line_items":
        try:
            stored["amount"] = str(Decimal(record.get("quantity") or 0) * Decimal(record.get("price") or 0))
        except InvalidOperation:
            stored["amount"] = None
    return {name: (value if value != "" else None) for name, value in stored.items()}


def public(
    db: SandboxDB,
    spec: ObjectType,
    record: dict[str, Any],
    properties: Iterable[str] | None = None,
    associations: Iterable[str] = (),
) -> dict[str, Any]:
    """The API shape of a record: requested properties (or the defaults) and v3 associations."""
    wanted = list(properties) if properties else list(spec.defaults)
    everything = values(spec, record)
    shown = {name: everything[name] for name in dict.fromkeys([*wanted, *META]) if name in everything}
    result: dict[str, Any] = {
        "id": record["id"],
        "properties": shown,
        "createdAt": record["createdate"],
        "updatedAt": record["hs_lastmodifieddate"],
        "archived": bool(record.get("_archived")),
    }
    inline: dict[str, Any] = {}
    for to_type in associations:
        listed = [
            {"id": to_id, "type": association.name}
            for to_id, type_ids in associations_of(db, spec.name, record["id"], to_type)
            for association in (lookup(db, type_id) for type_id in type_ids)
            if association is not None
        ]
        if listed:
            inline[to_type] = {"results": listed}
    if inline:
        result["associations"] = inline
    return result


def find(db: SandboxDB, spec: ObjectType, record_id: str, id_property: str | None = None) -> dict[str, Any] | None:
    """A live (not archived) record by id, or by the value of its unique property."""
    if id_property and id_property != "hs_object_id":
        if id_property != spec.unique_property:
            raise HubSpotError(
                400,
                "VALIDATION_ERROR",
                f"{id_property} is not a unique property of {spec.name}: use {spec.unique_property or 'the id'}",
            )
        record = db.find_by_ext_key(NAME, spec.name, record_id)
    else:
        record = db.get(NAME, spec.name, record_id)
    return None if record is None or record.get("_archived") else record


def require(db: SandboxDB, spec: ObjectType, record_id: str, id_property: str | None = None) -> dict[str, Any]:
    """Like `find`, but a missing record is HubSpot's 404."""
    record = find(db, spec, record_id, id_property)
    if record is None:
        raise HubSpotError(
            404, "OBJECT_NOT_FOUND", f"No {spec.singular} with id {record_id} exists", context={"id": [record_id]}
        )
    return record


def _conflict(spec: ObjectType, value: str, db: SandboxDB) -> HubSpotError:
    existing = db.find_by_ext_key(NAME, spec.name, value)
    existing_id = existing["id"] if existing else "unknown"
    return HubSpotError(
        409,
        "CONFLICT",
        f"A {spec.singular} with {spec.unique_property}={value} already exists. Existing ID: {existing_id}",
        context={"id": [existing_id]},
    )


def _require_creatable(spec: ObjectType, properties: dict[str, str]) -> None:
    missing = [name for name in spec.required if not properties.get(name)]
    if missing:
        raise HubSpotError(
            400,
            "VALIDATION_ERROR",
            f"A {spec.singular} needs {', '.join(missing)} to be created",
            errors=[
                {"message": f"{name} is required", "code": "PROPERTY_REQUIRED", "context": {"propertyName": [name]}}
                for name in missing
            ],
        )


def create(db: SandboxDB, spec: ObjectType, properties: dict[str, str], *, id: str | None = None) -> dict[str, Any]:
    """Store a new record (a deal without a pipeline goes to the default one).

    Raises:
        HubSpotError: 400 ``VALIDATION_ERROR`` when a required property is missing, 409
            ``CONFLICT`` when the unique property's value is taken.
    """
    _require_creatable(spec, properties)
    if spec.name == "deals":
        properties = {**properties, "pipeline": properties.get("pipeline") or DEFAULT}
        check_deal_stage(db, properties["pipeline"], properties.get("dealstage"))
    stamp = now_iso()
    unique = spec.unique_property
    ext_key = (properties.get(unique) or None) if unique else None
    body = {**properties, "createdate": stamp, "hs_lastmodifieddate": stamp, "_archived": False}
    try:
        return db.insert(NAME, spec.name, body, id=id, ext_key=ext_key)
    except DuplicateKey:
        raise _conflict(spec, ext_key or "", db) from None


def update(
    db: SandboxDB, spec: ObjectType, record: dict[str, Any], properties: dict[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Merge property values into a record; return it and the properties whose value changed."""
    changed = {name: value for name, value in properties.items() if (record.get(name) or "") != value}
    if not changed:
        return record, {}
    if spec.name == "deals" and {"pipeline", "dealstage"} & changed.keys():
        merged = {**record, **changed}
        check_deal_stage(db, merged.get("pipeline") or DEFAULT, merged.get("dealstage") or None)
    unique = spec.unique_property
    new_key: Any = {}
    if unique and unique in changed:
        new_key = {"ext_key": changed[unique] or None}
    try:
        updated = db.update(NAME, spec.name, record["id"], {**changed, "hs_lastmodifieddate": now_iso()}, **new_key)
    except DuplicateKey:
        raise _conflict(spec, changed.get(unique or "", ""), db) from None
    return updated, changed


def association_type(db: SandboxDB, type_id: Any, from_type: str) -> AssociationType:
    """An association type (HubSpot's or one of the account's labels) that starts at `from_type`.

    Raises:
        HubSpotError: 400 for an unknown type id or one that starts elsewhere.
    """
    spec = lookup(db, type_id) if isinstance(type_id, int) else None
    if spec is None or spec.from_type != from_type:
        raise HubSpotError(
            400, "VALIDATION_ERROR", f"associationTypeId {type_id!r} is not a {from_type} association type"
        )
    return spec


def associate(db: SandboxDB, from_type: str, from_id: str, to_type: str, to_id: str, type_ids: Iterable[int]) -> None:
    """Add association types between two records, both directions, the unlabelled type always."""
    default = default_association(from_type, to_type)
    wanted = {*type_ids, *([default.type_id] if default else [])}
    for source_type, source_id, target_type, target_id, ids in (
        (from_type, from_id, to_type, to_id, wanted),
        (to_type, to_id, from_type, from_id, {_inverse(db, type_id) for type_id in wanted}),
    ):
        key = f"{source_type}/{source_id}/{target_type}/{target_id}"
        existing = db.find_by_ext_key(NAME, ASSOCIATION, key)
        if existing is None:
            body = {"from_type": source_type, "from_id": source_id, "to_type": target_type, "to_id": target_id}
            db.insert(NAME, ASSOCIATION, {**body, "type_ids": sorted(ids)}, ext_key=key)
        else:
            db.update(NAME, ASSOCIATION, existing["id"], {"type_ids": sorted({*existing["type_ids"], *ids})})


def _inverse(db: SandboxDB, type_id: int) -> int:
    spec = lookup(db, type_id)
    if spec is None:
        raise HubSpotError(400, "VALIDATION_ERROR", f"associationTypeId {type_id} does not exist")
    return spec.inverse


def dissociate(db: SandboxDB, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
    """Remove every association between two records, both directions."""
    for key in (f"{from_type}/{from_id}/{to_type}/{to_id}", f"{to_type}/{to_id}/{from_type}/{from_id}"):
        existing = db.find_by_ext_key(NAME, ASSOCIATION, key)
        if existing is not None:
            db.delete(NAME, ASSOCIATION, existing["id"])


def associations_of(db: SandboxDB, from_type: str, from_id: str, to_type: str) -> list[tuple[str, list[int]]]:
    """``(to_id, type_ids)`` of a record's associations with one object type, oldest first."""
    rows = db.query(NAME, ASSOCIATION, where={"from_type": from_type, "from_id": from_id, "to_type": to_type})
    return [(row["to_id"], row["type_ids"]) for row in rows]
