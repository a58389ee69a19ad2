"""Writes with NetSuite's rules: references must exist, transactions post to open periods.

Every write is a fixed number of indexed DB operations — the external id lookup, one lookup
per reference, one for the accounting period — so upserting 100k time bills stays linear.
Callers run each write inside one DB transaction: a refused write stores nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sandbox._db import DuplicateKey, SandboxDB
from sandbox.systems.netsuite._convert import duration_minutes
from sandbox.systems.netsuite._errors import (
    INVALID_CONTENT,
    INVALID_FLD_VALUE,
    INVALID_KEY_OR_REF,
    USER_ERROR,
    bad_request,
)
from sandbox.systems.netsuite._projects import check_job
from sandbox.systems.netsuite._types import NAME, RecordType, Ref, period_key

PERIOD_KIND = "accountingPeriod"
_MAX_MINUTES_PER_DAY = 24 * 60


def find(db: SandboxDB, record_type: RecordType, key: str) -> dict[str, Any] | None:
    """The record at an internal id or ``eid:<externalId>`` key, or None."""
    if key.startswith("eid:"):
        return db.find_by_ext_key(NAME, record_type.name, key[4:])
    return db.get(NAME, record_type.name, key)


def find_period(db: SandboxDB, day: str) -> dict[str, Any] | None:
    """The monthly accounting period containing an ISO date."""
    return db.find_by_ext_key(NAME, PERIOD_KIND, period_key(day))


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def create(
    db: SandboxDB, record_type: RecordType, changes: dict[str, Any], *, external_id: str | None = None
) -> dict[str, Any]:
    """Validate and insert a new record; return it as stored.

    Args:
        db: The sandbox DB.
        record_type: The type to create.
        changes: The written fields in stored form.
        external_id: The ``eid:`` key of an upsert, which the body may repeat but not contradict.
    """
    if external_id is not None:
        _same_external_id(changes, external_id)
        changes = {**changes, "externalId": external_id}
    now = _now()
    record = {**record_type.defaults, **changes, "dateCreated": now, "lastModifiedDate": now}
    missing = [name for name in record_type.required if record.get(name) in (None, "")]
    if missing:
        raise bad_request(USER_ERROR, f"Please enter value(s) for: {', '.join(missing)}.")
    _validate(db, record_type, record)
    new_id = str(db.kv_incr(NAME, f"ids:{record_type.id_space}")) if record_type.id_space else None
    try:
        return db.insert(NAME, record_type.name, record, id=new_id, ext_key=record.get("externalId"))
    except DuplicateKey:
        raise bad_request(
            USER_ERROR,
            f"A {record_type.name} record with externalId {record.get('externalId')!r} already exists: "
            f"update it with PUT or PATCH .../{record_type.name}/eid:{record.get('externalId')}.",
        ) from None


def update(
    db: SandboxDB,
    record_type: RecordType,
    current: dict[str, Any],
    changes: dict[str, Any],
    *,
    replace: frozenset[str] = frozenset(),
    external_id: str | None = None,
) -> dict[str, Any]:
    """Merge changes into a record and return it as stored.

    Sublist lines merge by position unless the sublist is named in ``replace``, whose lines
    then replace the old ones (NetSuite's ``?replace=item``).
    """
    if external_id is not None:
        _same_external_id(changes, external_id)
    if record_type.posting_date and current.get("postingPeriod"):
        period = db.get(NAME, PERIOD_KIND, current["postingPeriod"])
        if period is not None and period.get("closed"):
            raise _closed(period, current[record_type.posting_date])
    merged = {**current, **changes, "lastModifiedDate": _now()}
    for name in record_type.sublists:
        if name in changes and name not in replace and current.get(name):
            merged[name] = _merge_lines(current[name], changes[name])
    missing = [name for name in record_type.required if merged.get(name) in (None, "")]
    if missing:
        raise bad_request(USER_ERROR, f"Please enter value(s) for: {', '.join(missing)}.")
    _validate(db, record_type, merged)
    ext_key: dict[str, Any] = {}
    if merged.get("externalId") != current.get("externalId"):
        ext_key = {"ext_key": merged.get("externalId")}
    try:
        return db.replace(NAME, record_type.name, current["id"], merged, **ext_key)
    except DuplicateKey:
        raise bad_request(
            USER_ERROR, f"Another {record_type.name} record already has externalId {merged.get('externalId')!r}."
        ) from None


def _same_external_id(changes: dict[str, Any], external_id: str) -> None:
    given = changes.get("externalId")
    if given is not None and given != external_id:
        raise bad_request(
            INVALID_CONTENT, f"The body's externalId {given!r} differs from the eid:{external_id} in the URL."
        )


def _merge_lines(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    merged = [{**old[i], **line} if i < len(old) else line for i, line in enumerate(new)]
    return merged + old[len(new) :]


def _validate(db: SandboxDB, record_type: RecordType, record: dict[str, Any]) -> None:
    """References exist, durations fit in a day, transactions land in an open period; totals."""
    for name, value in record.items():
        field_type = record_type.fields.get(name)
        if isinstance(field_type, Ref) and field_type.targets and value is not None and name != "postingPeriod":
            _check_ref(db, field_type, name, value)
    for sublist, spec in record_type.sublists.items():
        for index, line in enumerate(record.get(sublist) or ()):
            for name, value in line.items():
                field_type = spec.get(name)
                if isinstance(field_type, Ref) and field_type.targets and value is not None:
                    _check_ref(db, field_type, f"{sublist}.items[{index}].{name}", value)
    if "hours" in record and record["hours"] is not None:
        minutes = duration_minutes(record["hours"])
        if not 0 < minutes <= _MAX_MINUTES_PER_DAY:
            raise bad_request(
                INVALID_FLD_VALUE, f"Invalid hours {record['hours']}: enter more than 0:00 and at most 24:00."
            )
    if record_type.posting_date:
        day = record[record_type.posting_date]
        period = find_period(db, day)
        if period is None:
            raise bad_request(
                INVALID_FLD_VALUE, f"No accounting period is set up for {record_type.posting_date} {day}."
            )
        if period.get("closed"):
            raise _closed(period, day)
        record["postingPeriod"] = period["id"]
    if record_type.name in ("expenseReport", "invoice"):
        _total(record_type, record)
    if record_type.name == "charge" and record.get("amount") is None:
        # Line math (research apis-round2 §6): no amount given → quantity * rate, rounded to the cent.
        amount = Decimal(str(record.get("quantity") or 1)) * Decimal(str(record.get("rate") or 0))
        record["amount"] = float(amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    if record_type.name == "job":
        check_job(db, record)


def _check_ref(db: SandboxDB, field_type: Ref, path: str, value: str) -> None:
    if not any(db.get(NAME, target, value) is not None for target in field_type.targets):
        raise bad_request(INVALID_KEY_OR_REF, f"Invalid {path} reference key {value}.")


def _closed(period: dict[str, Any], day: str) -> Exception:
    return bad_request(
        INVALID_FLD_VALUE,
        f"The accounting period {period['periodName']} is closed: a transaction dated {day} cannot be posted to "
        "it. Date it in an open period or reopen the period.",
    )


def _total(record_type: RecordType, record: dict[str, Any]) -> None:
    sublist = "expense" if record_type.name == "expenseReport" else "item"
    total = Decimal(0)
    for line in record.get(sublist) or ():
        if sublist == "item" and line.get("amount") is None and line.get("quantity") is not None:
            line["amount"] = float(Decimal(str(line["quantity"])) * Decimal(str(line.get("rate") or 0)))
        total += Decimal(str(line.get("amount") or 0))
    record["total"] = float(total)
