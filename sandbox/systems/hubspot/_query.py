"""``POST /crm/v3/objects/{type}/search``: filter groups (OR of ANDs), one sort, offset paging.

Comparisons follow the property type: numbers as decimals, dates and datetimes as epoch
milliseconds (filters may give either epoch ms or ISO text), everything else as
case-insensitive text. A query pages through at most ``search_result_cap`` results (10,000 at
HubSpot); asking for a page past it is a 400.
"""

from __future__ import annotations

import fnmatch
import re
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from sandbox._db import SandboxDB
from sandbox.systems.hubspot._errors import HubSpotError
from sandbox.systems.hubspot._schema import NAME, ObjectType
from sandbox.systems.hubspot._store import values
from sandbox.systems.hubspot._values import as_epoch_ms

__all__ = ["SearchRequest", "search"]

MAX_LIMIT = 200
_TOKEN = re.compile(r"[\w@.*-]+")
_MISSING_MATCHES = frozenset({"NEQ", "NOT_IN", "NOT_HAS_PROPERTY", "NOT_CONTAINS_TOKEN"})


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Filter(_Model):
    """One condition."""

    propertyName: str
    operator: Literal[
        "EQ",
        "NEQ",
        "LT",
        "LTE",
        "GT",
        "GTE",
        "BETWEEN",
        "IN",
        "NOT_IN",
        "HAS_PROPERTY",
        "NOT_HAS_PROPERTY",
        "CONTAINS_TOKEN",
        "NOT_CONTAINS_TOKEN",
    ]
    value: Any = None
    highValue: Any = None
    values: list[Any] | None = None


class FilterGroup(_Model):
    """Conditions that must all hold."""

    filters: list[Filter] = []


class Sort(_Model):
    """The one sort a search may have."""

    propertyName: str
    direction: Literal["ASCENDING", "DESCENDING"] = "ASCENDING"


class SearchRequest(_Model):
    """The search body."""

    filterGroups: list[FilterGroup] = []
    sorts: list[Sort | str] = []
    properties: list[str] = []
    limit: int = 10
    after: str | int | None = None
    query: str | None = None


def _key(spec: ObjectType, name: str, value: Any) -> Any:
    kind = spec.properties[name].type if name in spec.properties else "string"
    if name == "hs_object_id":
        kind = "number"
    if kind == "number":
        try:
            return Decimal(str(value))
        except InvalidOperation:
            raise HubSpotError(400, "VALIDATION_ERROR", f"{value!r} is not a number, as {name} is") from None
    if kind in ("date", "datetime"):
        epoch = as_epoch_ms(value)
        if epoch is None:
            raise HubSpotError(400, "VALIDATION_ERROR", f"{value!r} is not a date for {name}: use epoch ms") from None
        return epoch
    return str(value).lower()


def _matches(spec: ObjectType, record: dict[str, str | None], condition: Filter) -> bool:
    operator, name = condition.operator, condition.propertyName
    current = record.get(name)
    if operator == "HAS_PROPERTY":
        return current is not None
    if current is None:
        return operator in _MISSING_MATCHES
    if operator in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        pattern = str(condition.value or "").lower()
        found = any(fnmatch.fnmatchcase(token, pattern) for token in _TOKEN.findall(current.lower()))
        return found == (operator == "CONTAINS_TOKEN")
    have = _key(spec, name, current)
    if operator in ("IN", "NOT_IN"):
        listed = {_key(spec, name, value) for value in condition.values or []}
        return (have in listed) == (operator == "IN")
    wanted = _key(spec, name, condition.value)
    if operator == "BETWEEN":
        return bool(wanted <= have <= _key(spec, name, condition.highValue))
    comparisons = {
        "EQ": have == wanted,
        "NEQ": have != wanted,
        "LT": have < wanted,
        "LTE": have <= wanted,
        "GT": have > wanted,
        "GTE": have >= wanted,
    }
    return bool(comparisons[operator])


def search(
    db: SandboxDB, spec: ObjectType, request: SearchRequest, *, result_cap: int
) -> tuple[list[dict[str, Any]], int, int | None]:
    """Run a search: the page of records, the total match count, and the next offset (None at the end).

    Raises:
        HubSpotError: 400 for a limit over 200, an unreadable cursor, a page past the result
            cap, or a filter value of the wrong type.
    """
    if not 1 <= request.limit <= MAX_LIMIT:
        raise HubSpotError(400, "VALIDATION_ERROR", f"limit must be between 1 and {MAX_LIMIT}, got {request.limit}")
    after = str(request.after) if request.after is not None else "0"
    if not after.isdigit():
        raise HubSpotError(
            400, "VALIDATION_ERROR", f"after must be the numeric cursor of the previous page, got {after!r}"
        )
    offset = int(after)
    if offset >= result_cap:
        raise HubSpotError(
            400,
            "VALIDATION_ERROR",
            f"Search results are limited to {result_cap} per query and after={offset} is past them: "
            "narrow the query (e.g. by hs_lastmodifieddate) instead of paging further",
        )
    records = db.query(NAME, spec.name, where={"_archived": False})
    matched = []
    text = (request.query or "").lower()
    for record in records:
        record_values = values(spec, record)
        if request.filterGroups and not any(
            all(_matches(spec, record_values, condition) for condition in group.filters)
            for group in request.filterGroups
        ):
            continue
        if text and not any(text in (record_values.get(name) or "").lower() for name in spec.searchable):
            continue
        matched.append((record, record_values))
    if request.sorts:
        sort = request.sorts[0]
        name, descending = (
            (sort.propertyName, sort.direction == "DESCENDING")
            if isinstance(sort, Sort)
            else (sort.lstrip("-"), sort.startswith("-"))
        )

        def order(item: tuple[dict[str, Any], dict[str, str | None]]) -> tuple[bool, Any]:
            value = item[1].get(name)
            return (value is None, _key(spec, name, value) if value is not None else 0)

        matched.sort(key=order, reverse=descending)
    page = [record for record, _ in matched[offset : offset + request.limit]]
    following = offset + request.limit
    return page, len(matched), following if following < len(matched) else None
