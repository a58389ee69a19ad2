"""Records in three forms: the REST body clients send and read, the stored form, SuiteQL rows.

The stored form keeps references as bare ids (``"employee": "12"``) so lookups by reference
are SQL equality on a top-level field, and durations as ``"H:MM"``. The REST form wraps
references as ``{"id", "links"}`` and shows sublists as links unless ``expandSubResources``
is asked for. SuiteQL rows are flat, lower-case and formatted the way a US-English account
sees them: booleans ``"T"``/``"F"``, dates ``M/D/YYYY``, durations as decimal hours.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sandbox.systems.netsuite._errors import INVALID_CONTENT, INVALID_FLD_VALUE, bad_request
from sandbox.systems.netsuite._refs import RefNames, render_ref
from sandbox.systems.netsuite._types import (
    BOOL,
    DATE,
    DATETIME,
    DURATION,
    NUMBER,
    OBJECT,
    READ_ONLY_FIELDS,
    TEXT,
    FieldType,
    RecordType,
    Ref,
)

_DURATION = re.compile(r"^(\d+):([0-5]\d)$")
_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_IGNORED_ON_WRITE = frozenset({"links", "refName"})


def parse_date(value: str) -> date:
    """Read ``YYYY-MM-DD`` (or a datetime starting with it) or the US ``M/D/YYYY`` form.

    Raises:
        ValueError: Neither form.
    """
    match = _US_DATE.match(value)
    if match:
        month, day, year = (int(part) for part in match.groups())
        return date(year, month, day)
    return date.fromisoformat(value[:10])


def us_date(value: str) -> str:
    """An ISO date or datetime as a US-English account shows it in SuiteQL: ``M/D/YYYY``."""
    day = parse_date(value)
    return f"{day.month}/{day.day}/{day.year}"


def duration_minutes(value: str) -> int:
    """Minutes of a stored ``H:MM`` duration."""
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def _number(value: Any, path: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise bad_request(INVALID_FLD_VALUE, f"Invalid number {value!r} for field {path}.")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise bad_request(INVALID_FLD_VALUE, f"Invalid number {value!r} for field {path}.") from None
    if not number.is_finite():
        raise bad_request(INVALID_FLD_VALUE, f"Invalid number {value!r} for field {path}.")
    return int(number) if number == number.to_integral_value() and "." not in str(value) else float(number)


def _duration(value: Any, path: str) -> str:
    if isinstance(value, str) and _DURATION.match(value.strip()):
        minutes = duration_minutes(value.strip())
    elif isinstance(value, int | float | str) and not isinstance(value, bool):
        hours = Decimal(str(_number(value, path)))
        minutes = int((hours * 60).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    else:
        raise bad_request(INVALID_FLD_VALUE, f"Invalid duration {value!r} for field {path}: use H:MM or hours.")
    return f"{minutes // 60}:{minutes % 60:02d}"


def coerce(field_type: FieldType, value: Any, path: str) -> Any:
    """Check one written value against its field type and return its stored form."""
    if value is None:
        return None
    if isinstance(field_type, Ref):
        ref_id = value.get("id") if isinstance(value, dict) else value
        if isinstance(ref_id, bool) or not isinstance(ref_id, str | int) or not str(ref_id).strip():
            raise bad_request(
                INVALID_FLD_VALUE, f'Invalid reference for field {path}: write {{"id": "<internal id>"}}.'
            )
        return str(ref_id).strip()
    if field_type == TEXT:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise bad_request(INVALID_FLD_VALUE, f"Invalid text {value!r} for field {path}.")
        return str(value)
    if field_type == BOOL:
        if not isinstance(value, bool):
            raise bad_request(INVALID_FLD_VALUE, f"Invalid boolean {value!r} for field {path}: use true or false.")
        return value
    if field_type in (DATE, DATETIME):
        try:
            if not isinstance(value, str):
                raise ValueError(value)
            return parse_date(value).isoformat() if field_type == DATE else datetime.fromisoformat(value).isoformat()
        except ValueError:
            raise bad_request(INVALID_FLD_VALUE, f"Invalid date {value!r} for field {path}: use YYYY-MM-DD.") from None
    if field_type == NUMBER:
        return _number(value, path)
    if field_type == DURATION:
        return _duration(value, path)
    if field_type == OBJECT:
        if not isinstance(value, dict):
            raise bad_request(INVALID_FLD_VALUE, f"Invalid value {value!r} for field {path}: expected an object.")
        return value
    raise AssertionError(f"unknown field type {field_type!r}")


def parse_body(record_type: RecordType, body: Any) -> dict[str, Any]:
    """Validate a written body and return the changes in stored form.

    Read-only fields (``id``, ``total``, ``postingPeriod`` …) and ``links``/``refName`` are
    ignored; unknown fields are refused, naming the field.
    """
    if not isinstance(body, dict):
        raise bad_request(INVALID_CONTENT, f"The request body must be a JSON object, got {type(body).__name__}.")
    stored: dict[str, Any] = {}
    for name, value in body.items():
        if name in READ_ONLY_FIELDS or name in _IGNORED_ON_WRITE:
            continue
        if name in record_type.not_in_rest:
            raise bad_request(
                INVALID_CONTENT,
                f"Field {name!r} of record type {record_type.name} is not available through REST web services: "
                "read it with SuiteQL, write it with SOAP web services or a RESTlet.",
            )
        if name in record_type.sublists:
            stored[name] = _parse_sublist(record_type, name, value)
            continue
        field_type = record_type.field_type(name)
        if field_type is None:
            raise bad_request(
                INVALID_CONTENT, f"Invalid field name {name!r}: record type {record_type.name} has no such field."
            )
        stored[name] = coerce(field_type, value, name)
    return stored


def _parse_sublist(record_type: RecordType, name: str, value: Any) -> list[dict[str, Any]]:
    items = value.get("items") if isinstance(value, dict) else None
    if not isinstance(items, list):
        raise bad_request(INVALID_CONTENT, f'Sublist {name} must be written as {{"items": [...]}}.')
    spec = record_type.sublists[name]
    lines: list[dict[str, Any]] = []
    for index, line in enumerate(items):
        path = f"{name}.items[{index}]"
        if not isinstance(line, dict):
            raise bad_request(INVALID_CONTENT, f"Line {path} must be a JSON object.")
        stored_line: dict[str, Any] = {}
        for field_name, field_value in line.items():
            if field_name in _IGNORED_ON_WRITE:
                continue
            field_type = spec.get(field_name) or (TEXT if field_name.startswith("custcol_") else None)
            if field_type is None:
                raise bad_request(INVALID_CONTENT, f"Invalid field name {field_name!r} on sublist line {path}.")
            stored_line[field_name] = coerce(field_type, field_value, f"{path}.{field_name}")
        lines.append(stored_line)
    return lines


def _render_value(name: str, field_type: FieldType | None, value: Any, record_base: str, names: RefNames) -> Any:
    if isinstance(field_type, Ref) and value is not None:
        return render_ref(name, field_type, value, record_base, names)
    return value


def render(
    record_type: RecordType,
    stored: dict[str, Any],
    *,
    record_base: str,
    names: RefNames,
    expand: bool = False,
    fields: set[str] | None = None,
) -> dict[str, Any]:
    """The REST form of a stored record.

    Args:
        record_type: Its type.
        stored: The stored record.
        record_base: Absolute URL of ``/services/rest/record/v1``.
        names: Where references find their ``refName``.
        expand: Show sublist lines (``expandSubResources=true``) instead of links.
        fields: Only these fields (``fields=`` query parameter); ``id`` always.
    """
    href = f"{record_base}/{record_type.name}/{stored['id']}"
    rendered: dict[str, Any] = {"links": [{"rel": "self", "href": href}]}
    for name, value in stored.items():
        if fields is not None and name not in fields and name != "id":
            continue
        if name in record_type.sublists:
            link = {"links": [{"rel": "self", "href": f"{href}/{name}"}]}
            lines = _render_lines(record_type, name, value, record_base, names)
            rendered[name] = {**link, "items": lines} if expand else link
            continue
        rendered[name] = _render_value(name, record_type.field_type(name), value, record_base, names)
    return rendered


def _render_lines(
    record_type: RecordType, name: str, lines: list[dict[str, Any]], record_base: str, names: RefNames
) -> list[Any]:
    spec = record_type.sublists[name]
    return [
        {key: _render_value(key, spec.get(key), value, record_base, names) for key, value in line.items()}
        for line in lines
    ]


def row(record_type: RecordType, stored: dict[str, Any]) -> dict[str, Any]:
    """The SuiteQL row of a stored record: lower-case columns, sublists left out."""
    columns: dict[str, Any] = {}
    for name, value in stored.items():
        if name in record_type.sublists:
            continue
        columns[name.lower()] = _column(record_type.field_type(name) or TEXT, value)
    return columns


def _column(field_type: FieldType, value: Any) -> Any:
    if value is None or isinstance(field_type, Ref):
        return value
    if field_type == BOOL:
        return "T" if value else "F"
    if field_type in (DATE, DATETIME):
        return us_date(value)
    if field_type == DURATION:
        return float((Decimal(duration_minutes(value)) / 60).quantize(Decimal("0.01")))
    return value


def comparable(field_type: FieldType, value: Any) -> Any:
    """A stored value as something ``<``/``=`` compare correctly (dates, Decimals, bools)."""
    if value is None:
        return None
    if isinstance(field_type, Ref):
        return int(value) if value.isdigit() else value
    if field_type in (DATE, DATETIME):
        return parse_date(value)
    if field_type == NUMBER:
        return Decimal(str(value))
    if field_type == DURATION:
        return Decimal(duration_minutes(value)) / 60
    return value


def literal(field_type: FieldType, value: Any) -> Any:
    """A filter literal (string, Decimal or date) converted to the column's comparable form.

    Raises:
        ValueError: The literal cannot be compared with the column.
    """
    if isinstance(field_type, Ref):
        text = str(int(value)) if isinstance(value, Decimal) else str(value)
        return int(text) if text.isdigit() else text
    if field_type in (DATE, DATETIME):
        return value if isinstance(value, date) else parse_date(str(value))
    if field_type in (NUMBER, DURATION):
        return value if isinstance(value, Decimal) else Decimal(str(value))
    if field_type == BOOL:
        if isinstance(value, bool):
            return value
        if str(value).upper() in ("T", "TRUE"):
            return True
        if str(value).upper() in ("F", "FALSE"):
            return False
        raise ValueError(f"{value!r} is not a boolean: use 'T' or 'F'")
    return str(value)


def stored_equal(field_type: FieldType, value: Any) -> tuple[bool, Any]:
    """Whether equality with a comparable literal can run in SQL, and the stored value to match.

    References, text, booleans and dates are stored exactly as compared; numbers and durations
    are compared in Python so ``7.50`` equals ``7.5``.
    """
    if isinstance(field_type, Ref):
        return True, str(value)
    if field_type == DATE:
        return True, value.isoformat()
    if field_type in (TEXT, BOOL):
        return True, value
    return False, None
