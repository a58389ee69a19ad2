"""What a person may edit when retrying a posting exception, and the canonical record an edit makes.

A posting exception keeps the record it is about as its ``retry_input``: the record's fields a person
may correct (the project, the consultant, the role, the rate, the hours...), each as text, the way
``psflow exceptions retry ID --set field=value`` gives them. `retry_input_of` writes it from the
canonical record the run read; `edited_record` applies a person's edits and makes the canonical
record again, with the canonical model's own validation, so an edit that would not make a valid
record is refused before anything is posted.

``approved_at`` is kept with the rest (the ledger row of a retried record keeps when it was approved)
but is no edit: it is what the PSA recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from activities.posting.rules import Record
from canonical import Expense, TimeEntry, format_minutes

READ_ONLY = frozenset({"approved_at"})
"""Fields a retry input carries that a person may not change."""

_TRUE, _FALSE = frozenset({"true", "yes", "1"}), frozenset({"false", "no", "0"})

# Canonical field paths, named as the retry input names them (for the one-line error).
_FIELD_NAMES = {
    "date_performed": "date",
    "date_incurred": "date",
    "minutes": "hours",
    "bill_rate": "rate",
    "bill_rate.amount": "rate",
    "bill_rate.currency": "currency",
    "amount.amount": "amount",
    "amount.currency": "currency",
}


class InvalidEdit(ValueError):
    """An edit that does not make a valid canonical record; the message names the field and the value."""


def retry_input_of(record: Record) -> dict[str, Any]:
    """The editable input of a record a run could not post: its fields as text (None where it has none)."""
    approved_at = None if record.approved_at is None else record.approved_at.isoformat()
    if isinstance(record, TimeEntry):
        rate = record.bill_rate
        return {
            "project_id": record.project_id,
            "consultant_id": record.consultant_id,
            "task_id": record.task_id,
            "role": record.role,
            "date": record.date_performed.isoformat(),
            "hours": format_minutes(record.minutes),
            "billable": _text(record.billable),
            "rate": None if rate is None else str(rate.amount),
            "currency": None if rate is None else rate.currency,
            "notes": record.notes,
            "approved_at": approved_at,
        }
    return {
        "project_id": record.project_id,
        "consultant_id": record.consultant_id,
        "date": record.date_incurred.isoformat(),
        "category": record.category,
        "amount": str(record.amount.amount),
        "currency": record.amount.currency,
        "billable": _text(record.billable),
        "description": record.description,
        "approved_at": approved_at,
    }


def edited_record(kind: str, record_id: str, retry_input: Mapping[str, Any], edits: Mapping[str, str]) -> Record:
    """The canonical record of ``retry_input`` with ``edits`` applied (an empty value clears an optional field).

    Raises:
        InvalidEdit: An edited field is not in the input, is read-only, or the result is no valid
            canonical record (the message names the fields and what is wrong, on one line).
    """
    unknown = sorted(set(edits) - set(retry_input))
    if unknown:
        raise InvalidEdit(
            f"the {kind.replace('_', ' ')} has no field {', '.join(map(repr, unknown))}; "
            f"its fields are {', '.join(sorted(set(retry_input) - READ_ONLY))}"
        )
    fixed = sorted(set(edits) & READ_ONLY)
    if fixed:
        raise InvalidEdit(f"{', '.join(fixed)} is what the PSA recorded and cannot be edited")
    given = edited_input(retry_input, edits)
    try:
        if kind == "time_entry":
            return TimeEntry.model_validate(_time_entry(record_id, given))
        if kind == "expense":
            return Expense.model_validate(_expense(record_id, given))
    except ValidationError as error:
        raise InvalidEdit(_summary(error)) from None
    raise InvalidEdit(f"a {kind} exception has no record to retry")


def edited_input(retry_input: Mapping[str, Any], edits: Mapping[str, str]) -> dict[str, Any]:
    """The retry input with the edits written in (empty values as None), as the exception keeps it."""
    return {**retry_input, **{name: (value.strip() or None) for name, value in edits.items()}}


def _time_entry(record_id: str, given: Mapping[str, Any]) -> dict[str, Any]:
    rate, currency = given.get("rate"), given.get("currency")
    if rate is not None and currency is None:
        raise InvalidEdit(f"rate {rate} needs a currency: --set currency=<ISO code>")
    return {
        "id": record_id,
        "project_id": given.get("project_id"),
        "consultant_id": given.get("consultant_id"),
        "task_id": given.get("task_id"),
        "role": given.get("role"),
        "date_performed": given.get("date"),
        "minutes": _minutes(given.get("hours")),
        "billable": _flag(given.get("billable"), "billable"),
        "bill_rate": None if rate is None else {"amount": _decimal(rate, "rate"), "currency": currency},
        "notes": given.get("notes"),
        "approval": "approved",
        "approved_at": given.get("approved_at"),
    }


def _expense(record_id: str, given: Mapping[str, Any]) -> dict[str, Any]:
    amount = given.get("amount")
    return {
        "id": record_id,
        "project_id": given.get("project_id"),
        "consultant_id": given.get("consultant_id"),
        "date_incurred": given.get("date"),
        "category": given.get("category"),
        "amount": {"amount": None if amount is None else _decimal(amount, "amount"), "currency": given.get("currency")},
        "billable": _flag(given.get("billable"), "billable"),
        "description": given.get("description"),
        "approval": "approved",
        "approved_at": given.get("approved_at"),
    }


def _minutes(hours: Any) -> int | None:
    """Whole minutes of ``H:MM`` (``7:30``) or decimal hours (``7.5``), rounded half-up as posting writes them."""
    if hours is None:
        return None
    text = str(hours).strip()
    try:
        if ":" in text:
            whole, _, rest = text.partition(":")
            sign = -1 if whole.startswith("-") else 1
            if not rest.isdigit() or len(rest) != 2 or int(rest) >= 60:
                raise ValueError(text)
            return sign * (abs(int(whole)) * 60 + int(rest))
        value = Decimal(text)
        if not value.is_finite():
            raise ValueError(text)
        return int((value * 60).to_integral_value(rounding=ROUND_HALF_UP))
    except (ValueError, InvalidOperation):
        raise InvalidEdit(
            f"hours: {text!r} is no duration (write H:MM, e.g. 7:30, or decimal hours, e.g. 7.5)"
        ) from None


def _decimal(value: Any, name: str) -> Decimal:
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidEdit(f"{name}: {value!r} is not a number (e.g. 150 or 150.00)") from None
    if not amount.is_finite():
        raise InvalidEdit(f"{name}: {value!r} is not a number (e.g. 150 or 150.00)")
    return amount


def _flag(value: Any, name: str) -> bool:
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidEdit(f"{name}: {value!r} is neither true nor false")


def _text(flag: bool) -> str:
    return "true" if flag else "false"


def _summary(error: ValidationError) -> str:
    """Pydantic's errors on one line, each under the retry input's name of the field."""
    parts = []
    for problem in error.errors(include_url=False):
        path = ".".join(str(part) for part in problem["loc"])
        name = _FIELD_NAMES.get(path, path)
        message = str(problem["msg"]).removeprefix("Value error, ")
        shown = problem.get("input")
        if shown is None and problem["loc"]:
            message = "is required: it cannot be empty"
        elif not isinstance(shown, dict) and str(shown) not in message:
            message = f"{message} (got {shown!r})"
        parts.append(f"{name}: {message}" if name else message)
    return "; ".join(parts)
