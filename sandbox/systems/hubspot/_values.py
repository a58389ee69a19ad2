"""Property value rules: what HubSpot accepts for each property type, and how it stores it."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox.systems.hubspot._errors import HubSpotError
from sandbox.systems.hubspot._schema import ObjectType, Property

__all__ = ["InvalidValue", "as_epoch_ms", "now_iso", "parse_properties", "to_iso"]


class InvalidValue(Exception):
    """A property value HubSpot would refuse."""

    def __init__(self, name: str, code: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.code = code
        self.message = message

    def detail(self) -> dict[str, Any]:
        """The entry HubSpot lists for this property in a validation error."""
        return {"isValid": False, "message": self.message, "error": self.code, "name": self.name}


def to_iso(moment: datetime) -> str:
    """HubSpot's datetime format: UTC with milliseconds and ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def now_iso() -> str:
    """The current instant in HubSpot's datetime format."""
    return to_iso(datetime.now(UTC))


def _instant(value: Any) -> datetime | None:
    """An aware datetime from epoch milliseconds or ISO 8601 text, or None if unreadable."""
    if isinstance(value, int) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.lstrip("-").isdigit():
        return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(), UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def as_epoch_ms(value: Any) -> int | None:
    """Epoch milliseconds of a datetime/date value (stored or given in a filter), or None."""
    moment = _instant(value)
    return None if moment is None else int(moment.timestamp() * 1000)


def _options_hint(options: tuple[str, ...]) -> str:
    shown = ", ".join(options[:8])
    return f"{shown} and {len(options) - 8} more" if len(options) > 8 else shown


def _normalise(name: str, spec: Property, value: Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        value = str(value).lower()
    if spec.type == "number":
        try:
            Decimal(str(value))
        except InvalidOperation:
            raise InvalidValue(name, "INVALID_DECIMAL", f"{value!r} is not a valid number") from None
        return str(value)
    if spec.type in ("datetime", "date"):
        moment = _instant(value)
        if moment is None:
            raise InvalidValue(
                name, "INVALID_DATE", f"{value!r} is not a valid date: use epoch milliseconds or ISO 8601"
            )
        if spec.type == "datetime":
            return to_iso(moment)
        if moment.astimezone(UTC).time() != time():
            raise InvalidValue(name, "INVALID_DATE", f"{value!r} is not midnight UTC, as date properties must be")
        return moment.astimezone(UTC).date().isoformat()
    text = str(value)
    if spec.type == "enumeration" and not spec.pipeline_managed and text not in spec.options:
        raise InvalidValue(
            name, "INVALID_OPTION", f"{text} was not one of the allowed options: [{_options_hint(spec.options)}]"
        )
    return text


def parse_properties(object_type: ObjectType, given: Any) -> dict[str, str]:
    """Validate and normalise written property values.

    Raises:
        HubSpotError: 400 ``VALIDATION_ERROR`` listing every refused property.
    """
    if not isinstance(given, dict):
        raise HubSpotError(400, "VALIDATION_ERROR", "properties must be an object of property names to values")
    parsed: dict[str, str] = {}
    problems: list[InvalidValue] = []
    for name, value in given.items():
        spec = object_type.properties.get(name)
        if spec is None:
            problems.append(InvalidValue(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist'))
        elif spec.read_only:
            problems.append(InvalidValue(name, "READ_ONLY_VALUE", f'"{name}" is a read only property'))
        else:
            try:
                parsed[name] = _normalise(name, spec, value)
            except InvalidValue as problem:
                problems.append(problem)
    if problems:
        raise invalid_properties(problems)
    return parsed


def invalid_properties(problems: list[InvalidValue]) -> HubSpotError:
    """HubSpot's "Property values were not valid" error."""
    details = [problem.detail() for problem in problems]
    return HubSpotError(
        400,
        "VALIDATION_ERROR",
        f"Property values were not valid: {json.dumps(details)}",
        errors=[
            {"message": problem.message, "code": problem.code, "context": {"propertyName": [problem.name]}}
            for problem in problems
        ],
    )
