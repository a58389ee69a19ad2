"""Records, external references and the response envelope shared by every Kantata route.

Kantata answers every GET and POST with the same normalized envelope::

    {"count": 2, "meta": {"count", "page_count", "page_number", "page_size"},
     "results": [{"key": "workspaces", "id": "7"}, ...],
     "workspaces": {"7": {...}}, "users": {"3": {...}}}

``results`` carries the order; objects live in id-keyed maps per type, and ``include=`` adds
associated objects under their own type keys. Fields whose name starts with ``_`` are the
emulator's own book-keeping and never leave it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sandbox._db import SandboxDB
from sandbox._framework import SandboxHTTPError

NAME = "kantata"
EXTERNAL_REFERENCES = "external_references"
EXTERNAL_REFERENCE_FIELDS = (
    "service_name",
    "service_model",
    "service_model_ref",
    "status",
    "external_link",
    "external_status",
    "external_message",
    "locked",
)
EXTERNAL_REFERENCE_REQUIRED = ("service_name", "service_model", "service_model_ref")


@dataclass(frozen=True)
class Problem:
    """One entry of a Kantata ``errors`` list."""

    message: str
    field: str | None = None
    type: str = "validation"

    def as_json(self) -> dict[str, str]:
        """The problem in Kantata's error shape."""
        body = {"type": self.type, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return body


def timestamp(moment: datetime | None = None) -> str:
    """An ISO 8601 instant as Kantata prints it (seconds, UTC offset)."""
    return (moment or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")


def public(record: Mapping[str, Any]) -> dict[str, Any]:
    """A stored record without the emulator's private fields."""
    return {key: value for key, value in record.items() if not key.startswith("_")}


def bad_request(message: str) -> SandboxHTTPError:
    """A 400 in Kantata's shape (``type: system``), for malformed parameters."""
    return SandboxHTTPError(400, "system", message)


def not_found(key: str, id: str) -> SandboxHTTPError:
    """A 404 for a missing (or filtered-out) record."""
    return SandboxHTTPError(404, "system", f"{key} {id} was not found (or is hidden by the endpoint's default filters)")


def page_meta(total: int, page: int, per_page: int) -> dict[str, int]:
    """The ``meta`` block of a listing."""
    return {
        "count": total,
        "page_count": math.ceil(total / per_page) if per_page else 0,
        "page_number": page,
        "page_size": per_page,
    }


def envelope(
    key: str,
    records: Iterable[Mapping[str, Any]],
    *,
    meta: dict[str, int] | None = None,
    included: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
) -> dict[str, Any]:
    """Build the normalized response: ordered ``results`` plus id-keyed maps per type.

    Args:
        key: The type key of the primary records, e.g. ``"time_entries"``.
        records: The primary records, in order.
        meta: Paging meta; a single page of everything when omitted.
        included: Side-loaded records per type key.
    """
    primary = list(records)
    body: dict[str, Any] = {
        "count": meta["count"] if meta else len(primary),
        "meta": meta or page_meta(len(primary), 1, max(len(primary), 1)),
        "results": [{"key": key, "id": r["id"]} for r in primary],
        key: {r["id"]: public(r) for r in primary},
    }
    for other_key, others in (included or {}).items():
        bucket = body.setdefault(other_key, {})
        for id_, record in others.items():
            bucket.setdefault(id_, public(record))
    return body


def external_refs_of(db: SandboxDB, subject_type: str, subject_ids: Iterable[str]) -> list[dict[str, Any]]:
    """External references attached to the given objects of one type."""
    ids = [str(i) for i in subject_ids]
    if not ids:
        return []
    return db.query(NAME, EXTERNAL_REFERENCES, where={"subject_type": subject_type, "subject_id": ids})


def subjects_with_reference(db: SandboxDB, subject_type: str, criteria: Mapping[str, Any]) -> list[str]:
    """Ids of objects of one type whose external references match every criterion."""
    refs = db.query(NAME, EXTERNAL_REFERENCES, where={"subject_type": subject_type, **criteria})
    return sorted({r["subject_id"] for r in refs}, key=lambda i: (len(i), i))


def validate_reference(payload: Any, *, prefix: str = "external_reference") -> list[Problem]:
    """Check an ``external_reference`` object: the trio service_name/model/model_ref is required."""
    if not isinstance(payload, dict):
        return [Problem(f"{prefix} must be an object", prefix)]
    return [
        Problem(f"{prefix}.{name} is required", f"{prefix}.{name}")
        for name in EXTERNAL_REFERENCE_REQUIRED
        if not isinstance(payload.get(name), str | int) or str(payload.get(name)).strip() == ""
    ]


def upsert_reference(db: SandboxDB, subject_type: str, subject_id: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """Create or update the subject's external reference for ``payload["service_name"]``.

    An object has at most one reference per service name, as in Kantata; the same external id
    may be referenced by several objects (Kantata does not enforce uniqueness there).
    """
    fields = {name: payload[name] for name in EXTERNAL_REFERENCE_FIELDS if name in payload}
    fields["service_model_ref"] = str(fields["service_model_ref"])
    fields.setdefault("status", "successful")
    now = timestamp()
    existing = db.query(
        NAME,
        EXTERNAL_REFERENCES,
        where={"subject_type": subject_type, "subject_id": str(subject_id), "service_name": fields["service_name"]},
    )
    if existing:
        return db.update(NAME, EXTERNAL_REFERENCES, existing[0]["id"], {**fields, "updated_at": now})
    body = {"subject_type": subject_type, "subject_id": str(subject_id), "created_at": now, "updated_at": now}
    return db.insert(NAME, EXTERNAL_REFERENCES, {**body, "last_synced_at": now, **fields})
