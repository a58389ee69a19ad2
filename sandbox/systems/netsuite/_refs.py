"""How a reference reads: ``{"id", "refName", "links"}``, the name being the record's display text.

A reference to a record the emulator holds is named after it — a customer by its company name,
a job as ``Customer : Job``, an employee by full name, a task by title, a period by its name —
and links to it; one to a list value (currency, terms, status …) is named from ``_lists``.
Names are looked up once per response (`RefNames`), however many references share them.
"""

from __future__ import annotations

from typing import Any

from sandbox._db import SandboxDB
from sandbox.systems.netsuite._lists import LIST_NAMES
from sandbox.systems.netsuite._types import NAME, Ref

__all__ = ["RefNames", "render_ref"]


class RefNames:
    """Display names of referenced records, read from the account's records and lists."""

    def __init__(self, db: SandboxDB) -> None:
        self._db = db
        self._records: dict[tuple[str, str], dict[str, Any] | None] = {}

    def _record(self, kind: str, id: str) -> dict[str, Any] | None:
        if (kind, id) not in self._records:
            self._records[kind, id] = self._db.get(NAME, kind, id)
        return self._records[kind, id]

    def _display(self, kind: str, record: dict[str, Any]) -> str | None:
        if kind == "job":
            parent = self._record("customer", str(record.get("parent")))
            own = _text(record, "companyName", "entityId")
            return f"{_text(parent, 'companyName', 'entityId')} : {own}" if parent else own
        if kind == "employee":
            full = " ".join(str(record[n]) for n in ("firstName", "lastName") if record.get(n))
            return full or _text(record, "entityId")
        return _text(record, "companyName", "entityId", "title", "periodName", "tranId", "name")

    def holder(self, ref: Ref, id: str) -> str | None:
        """Which of the reference's record types holds ``id`` (None: none, or a list value)."""
        return next((kind for kind in ref.targets if self._record(kind, id) is not None), None)

    def name(self, field: str, ref: Ref, id: str) -> str | None:
        """The ``refName`` of the value ``id`` of ``field``; None when the id names nothing known."""
        kind = self.holder(ref, id)
        if kind is not None:
            record = self._record(kind, id)
            return None if record is None else self._display(kind, record)
        return LIST_NAMES.get(field, {}).get(id)


def _text(record: dict[str, Any], *fields: str) -> str | None:
    """The first of ``fields`` the record has a value for."""
    return next((str(record[f]) for f in fields if record.get(f)), None)


def render_ref(field: str, ref: Ref, id: str, record_base: str, names: RefNames) -> dict[str, Any]:
    """A reference as NetSuite returns it: id, display name and (to a record) a self link."""
    rendered: dict[str, Any] = {"id": id}
    name = names.name(field, ref, id)
    if name is not None:
        rendered["refName"] = name
    kind = names.holder(ref, id) or (ref.targets[0] if len(ref.targets) == 1 else None)
    if kind is not None:
        rendered["links"] = [{"rel": "self", "href": f"{record_base}/{kind}/{id}"}]
    return rendered
