"""Index requests: filters, ``order``, and ``page``/``per_page`` or ``limit``/``offset`` paging.

Filters that compare a field with a value (or a set of values) run in SQL, including date
ranges of up to a year, which become a list of dates; the rest are Python predicates. Unknown
parameters are ignored, as Kantata ignores them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sandbox._db import SandboxDB
from sandbox.systems.kantata._allocations import overlaps
from sandbox.systems.kantata._people_rules import WORKWEEK_MEMBERSHIPS, WORKWEEKS, workweeks_in_force
from sandbox.systems.kantata._rates import effective_on
from sandbox.systems.kantata._resources import Resource
from sandbox.systems.kantata._store import NAME, bad_request, page_meta, subjects_with_reference

MAX_PER_PAGE = 200
DEFAULT_PER_PAGE = 20
_SQL_DATE_SPAN_DAYS = 400
_ORDER_ALIASES = {"alphabetical": "full_name"}
_DAY_FIELDS = {"time_entries": "date_performed", "expenses": "date"}
_STAMP_ORDERS = ("created_at", "updated_at")
_EXTERNAL_FILTERS = {
    "external_reference_service_name": "service_name",
    "external_reference_service_model": "service_model",
    "external_reference_service_model_ref": "service_model_ref",
    "external_reference_status": "status",
    "external_reference_external_status": "external_status",
    "external_reference_external_message": "external_message",
}


@dataclass
class Selection:
    """What an index request selects: SQL equality constraints plus Python predicates."""

    where: dict[str, Any] = field(default_factory=dict)
    predicates: list[Callable[[dict[str, Any]], bool]] = field(default_factory=list)

    def restrict(self, name: str, values: list[Any]) -> None:
        """Keep only records whose ``name`` is one of ``values`` (intersecting earlier restrictions)."""
        current = self.where.get(name)
        if isinstance(current, list):
            values = [value for value in values if value in current]
        elif current is not None:
            values = [current] if current in values else []
        self.where[name] = values

    def predicate(self) -> Callable[[dict[str, Any]], bool] | None:
        """All predicates as one, or None when everything runs in SQL."""
        if not self.predicates:
            return None
        checks = tuple(self.predicates)
        return lambda record: all(check(record) for check in checks)


def flag(value: str | None) -> bool | None:
    """Read a boolean query parameter (``true``/``false``/``1``/``0``); None when absent."""
    if value is None:
        return None
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise bad_request(f"expected true or false, got {value!r}")


def _ids(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _instant(name: str, value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise bad_request(f"{name} must be an ISO 8601 datetime, e.g. 2026-01-31T00:00:00Z (got {value!r})") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _date_range(selection: Selection, name: str, value: str, field_name: str) -> None:
    """``YYYY-MM-DD:YYYY-MM-DD`` (either end may be empty for an open range)."""
    start_text, sep, end_text = value.partition(":")
    try:
        start = date.fromisoformat(start_text) if start_text else None
        end = date.fromisoformat(end_text) if end_text else None
    except ValueError:
        start = end = None
        sep = ""
    if not sep or (start is None and end is None):
        raise bad_request(f"{name} must be two dates separated by a colon, e.g. 2026-06-01:2026-06-30 (got {value!r})")
    if start is not None and end is not None and 0 <= (end - start).days <= _SQL_DATE_SPAN_DAYS:
        selection.restrict(field_name, [(start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1)])
        return
    low, high = (start.isoformat() if start else ""), (end.isoformat() if end else "9999-12-31")
    selection.predicates.append(lambda record: low <= str(record.get(field_name) or "") <= high)


def _stamp_filters(selection: Selection, params: Mapping[str, str]) -> None:
    for name, field_name, after in (
        ("created_after", "created_at", True),
        ("created_before", "created_at", False),
        ("updated_after", "updated_at", True),
        ("updated_before", "updated_at", False),
    ):
        if name in params:
            bound = _instant(name, params[name])

            def check(record: dict[str, Any], f: str = field_name, b: datetime = bound, a: bool = after) -> bool:
                stamp = record.get(f)
                if not stamp:
                    return False
                moment = datetime.fromisoformat(str(stamp))
                return moment > b if a else moment < b

            selection.predicates.append(check)


def _reference_filters(db: SandboxDB, resource: Resource, selection: Selection, params: Mapping[str, str]) -> None:
    criteria: dict[str, Any] = {column: params[name] for name, column in _EXTERNAL_FILTERS.items() if name in params}
    if "external_reference_service_model_refs" in params:
        criteria["service_model_ref"] = _ids(params["external_reference_service_model_refs"])[:200]
    if criteria:
        selection.restrict("id", subjects_with_reference(db, resource.subject_type, criteria))
    has = flag(params.get("has_external_references"))
    if has is not None:
        referenced = set(subjects_with_reference(db, resource.subject_type, {}))
        selection.predicates.append(lambda record: (record["id"] in referenced) is has)
    if "without_external_reference_service_name" in params:
        excluded = set(
            subjects_with_reference(
                db, resource.subject_type, {"service_name": params["without_external_reference_service_name"]}
            )
        )
        selection.predicates.append(lambda record: record["id"] not in excluded)


def _live_workspace_ids(db: SandboxDB) -> list[str]:
    return [w["id"] for w in db.query(NAME, "workspaces", where={"archived": False})]


def _special_filters(db: SandboxDB, resource: Resource, selection: Selection, params: Mapping[str, str]) -> None:
    key = resource.key
    if key == "workspaces":
        archived = params.get("archived", "include" if flag(params.get("include_archived")) else "exclude")
        if archived not in ("only", "exclude", "include"):
            raise bad_request(f"archived must be only, exclude or include (got {archived!r})")
        if archived != "include":
            selection.where["archived"] = archived == "only"
    if key in ("time_entries", "expenses"):
        if "approved" in params:
            # Documented: "this filter is always processed as true; the value you provide is ignored".
            selection.where["approved"] = True
        billable = flag(params.get("billable"))
        if billable is not None:
            selection.where["billable"] = billable
        if not flag(params.get("from_archived_workspaces")) and db.count(NAME, "workspaces", where={"archived": True}):
            # Only when something is archived: the filter reads every matching body, which a large
            # day's deep pages would otherwise pay for nothing.
            selection.restrict("workspace_id", _live_workspace_ids(db))
        if "workspace_ids" in params:
            selection.restrict("workspace_id", _ids(params["workspace_ids"]))
        if "with_user_ids" in params:
            selection.restrict("user_id", _ids(params["with_user_ids"]))
        range_param, range_field = (
            ("date_performed_between", "date_performed") if key == "time_entries" else ("date_expensed_between", "date")
        )
        if range_param in params:
            _date_range(selection, range_param, params[range_param], range_field)
    if key in ("rate_card_set_versions", "rate_card_versions") and "effective_on_date" in params:
        selection.restrict("id", effective_on(db, key, params["effective_on_date"]))
    if key == "time_off_entries" and ("start_date" in params or "end_date" in params):
        # start_date / end_date bound requested_date (research apis-round2 §1 "Time off").
        bounds = f"{params.get('start_date', '')}:{params.get('end_date', '')}"
        _date_range(selection, "start_date/end_date", bounds, "requested_date")
    if key in (WORKWEEKS, WORKWEEK_MEMBERSHIPS) and "effective_date" in params:
        selection.restrict("id", workweeks_in_force(db, key, params["effective_date"]))
    if key == "workspace_allocations":
        if "overlaps_with_date_range" in params:
            low, sep, high = params["overlaps_with_date_range"].partition(":")
            if not sep:
                raise bad_request(
                    "overlaps_with_date_range must be two dates separated by a colon, e.g. 2026-06-01:2026-06-30"
                )
            selection.predicates.append(overlaps(low, high))
        if params.get("type") in ("hard", "soft"):
            selection.where["hard"] = params["type"] == "hard"
    if key == "users":
        if "by_email_address" in params:
            selection.where["_email"] = params["by_email_address"].strip().lower()
        if "by_email_addresses" in params:
            selection.restrict("_email", [e.lower() for e in _ids(params["by_email_addresses"])[:200]])


def select(db: SandboxDB, resource: Resource, params: Mapping[str, str]) -> Selection:
    """Turn an index request's parameters into a `Selection`."""
    selection = Selection()
    if "only" in params:
        selection.restrict("id", _ids(params["only"]))
    for name, field_name in resource.equality_filters.items():
        if name in params:
            selection.restrict(field_name, _ids(params[name]))
    _stamp_filters(selection, params)
    _reference_filters(db, resource, selection, params)
    _special_filters(db, resource, selection, params)
    return selection


def order_of(resource: Resource, params: Mapping[str, str]) -> str:
    """``order=field:asc|desc`` as a `SandboxDB.query` ``order_by``."""
    text = params.get("order", resource.default_order)
    name, _, direction = text.partition(":")
    if name not in resource.orders or direction not in ("asc", "desc", ""):
        valid = ", ".join(f"{o}:asc, {o}:desc" for o in resource.orders)
        raise bad_request(f"order {text!r} is not valid for {resource.key}; valid values: {valid}")
    column = _ORDER_ALIASES.get(name, name)
    return f"-{column}" if direction == "desc" else column


def _positive(params: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"{name} must be a whole number (got {raw!r})") from None
    if value < minimum:
        raise bad_request(f"{name} must be at least {minimum} (got {value})")
    return value


def fetch_page(
    db: SandboxDB, resource: Resource, selection: Selection, params: Mapping[str, str]
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Run the selection and return one page of records with its ``meta``.

    ``limit``/``offset`` take precedence over ``page``/``per_page`` when both are given;
    ``per_page`` is capped at 200.
    """
    order_by = order_of(resource, params)
    if "limit" in params and "offset" in params:
        per_page = min(_positive(params, "limit", DEFAULT_PER_PAGE, 1), MAX_PER_PAGE)
        offset = _positive(params, "offset", 0, 0)
        page = offset // per_page + 1
    else:
        per_page = min(_positive(params, "per_page", DEFAULT_PER_PAGE, 1), MAX_PER_PAGE)
        page = _positive(params, "page", 1, 1)
        offset = (page - 1) * per_page
    predicate = selection.predicate()
    if predicate is None:
        _ensure_order_index(db, resource, selection, order_by)
        total = db.count(NAME, resource.key, where=selection.where)
        records = db.query(NAME, resource.key, where=selection.where, order_by=order_by, offset=offset, limit=per_page)
    else:
        matched = db.query(NAME, resource.key, where=selection.where, predicate=predicate, order_by=order_by)
        total, records = len(matched), matched[offset : offset + per_page]
    return records, page_meta(total, page, per_page)


def _ensure_order_index(db: SandboxDB, resource: Resource, selection: Selection, order_by: str) -> None:
    """An index that hands a day's approved line items over in ``created_at`` (``updated_at``) order.

    The posting reads a day's approved time entries (expenses) page by page in creation order.
    Without an index on that order every page sorted the whole day: ~0.3 s a page for a 100k-entry
    day, held under the database lock that NetSuite's writes wait on too. With it, a page is an index
    walk of ``offset + per_page`` entries. Built once per database, when first asked for.
    """
    day_field = _DAY_FIELDS.get(resource.key)
    if day_field is None or order_by not in _STAMP_ORDERS or not {day_field, "approved"} <= selection.where.keys():
        return
    db.ensure_index((day_field, "approved", order_by))
