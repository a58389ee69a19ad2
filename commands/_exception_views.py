"""How ``psflow exceptions`` shows exceptions: the list's rows, one exception in full, its history.

Kept apart from the commands so that what a person reads (columns, ages, values flattened to
``psa.hours``) changes in one place, and the commands only parse, call the store and print.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.table import Table

from commands._common import table
from commands.kpis import duration

if TYPE_CHECKING:
    from store.tables import ExceptionEvent, ExceptionRecord

LIST_COLUMNS = (
    "id",
    "flow",
    "kind",
    "key",
    "date",
    "reason",
    "what is wrong",
    "state",
    "owner",
    "seen",
    "age",
    "level",
)
"""The list's columns, in the table and (as the header line) in ``--format tsv``."""


def utc(instant: datetime) -> datetime:
    """An instant read back from the store as UTC (SQLite returns them without their zone)."""
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)


def when(instant: datetime | None) -> str:
    """An instant as people read it in a table: ``2026-11-26 09:30 UTC``; ``-`` for none."""
    return "-" if instant is None else f"{utc(instant):%Y-%m-%d %H:%M} UTC"


def describe(row: ExceptionRecord) -> str:
    """One exception in a few words: ``posting netsuite time_entry kantata:te-1 (missing_rate)``."""
    return f"{row.flow} {row.system} {row.kind} {row.business_key} ({row.reason})"


def list_cells(row: ExceptionRecord, as_of: datetime) -> tuple[str, ...]:
    """The list's cells of one exception (see `LIST_COLUMNS`)."""
    return (
        str(row.id),
        row.flow,
        row.kind,
        row.business_key,
        row.business_date.isoformat() if row.business_date else "-",
        row.reason,
        row.message,
        row.state,
        row.owner or "-",
        str(row.occurrences),
        duration(age(row, as_of)),
        str(row.escalation_level),
    )


def age(row: ExceptionRecord, as_of: datetime) -> timedelta:
    """How long it has been open: to ``as_of``, or to its closing when it is resolved or ignored."""
    end = utc(row.closed_at) if row.closed_at is not None and row.state not in ("open", "acknowledged") else as_of
    return end - utc(row.first_seen)


def list_table(rows: Sequence[ExceptionRecord], as_of: datetime, title: str) -> Table:
    """The list as a rich table (cells fold in a narrow terminal; ``--format tsv`` never folds)."""
    result = table(*LIST_COLUMNS, title=title)
    for row in rows:
        result.add_row(*list_cells(row, as_of))
    return result


def list_tsv(rows: Sequence[ExceptionRecord], as_of: datetime) -> Iterator[str]:
    """The list as tab-separated lines, header first, for scripts (tabs and newlines in cells become spaces)."""
    yield "\t".join(LIST_COLUMNS)
    for row in rows:
        yield "\t".join(" ".join(cell.split()) for cell in list_cells(row, as_of))


def flatten(values: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """Nested values as dotted names, ``{"psa": {"hours": 8}}`` → ``("psa.hours", "8")``; None shows as ``-``."""
    for name, value in values.items():
        if isinstance(value, Mapping) and value:
            yield from flatten(value, f"{prefix}{name}.")
        elif value is None:
            yield f"{prefix}{name}", "-"
        elif isinstance(value, str):
            yield f"{prefix}{name}", value
        else:
            yield f"{prefix}{name}", json.dumps(value, default=str)


def details(row: ExceptionRecord, as_of: datetime) -> Table:
    """Every field of one exception, one per line."""
    fields = Table.grid(padding=(0, 2))
    fields.add_column(style="bold")
    fields.add_column(overflow="fold")
    due = (
        f", next level due {when(row.next_escalation_at)}"
        if row.next_escalation_at is not None
        else (", no further level" if row.escalation_level else "")
    )
    since = f" since {when(row.escalated_at)}" if row.escalated_at else ""
    for name, value in (
        ("id", str(row.id)),
        ("flow", row.flow),
        ("system", row.system),
        ("kind", row.kind),
        ("business key", row.business_key),
        ("business date", row.business_date.isoformat() if row.business_date else "-"),
        ("state", row.state),
        ("owner", row.owner or "-"),
        ("reason", row.reason),
        ("message", row.message),
        ("first seen", f"{when(row.first_seen)} (open {duration(age(row, as_of))})"),
        ("last seen", when(row.last_seen)),
        ("occurrences", str(row.occurrences)),
        ("last run", row.last_run_id),
        ("escalation", f"level {row.escalation_level}{since}{due}"),
        ("closed", when(row.closed_at)),
        ("resolved by", row.resolved_by or "-"),
        ("note", row.note or "-"),
    ):
        fields.add_row(name, value)
    return fields


def values_table(row: ExceptionRecord) -> Table | str:
    """The offending values, nested ones flattened; a sentence when there are none."""
    pairs = list(flatten(row.values or {}))
    if not pairs:
        return "offending values: none recorded"
    result = table("value", "is", title="offending values")
    for name, value in pairs:
        result.add_row(name, value)
    return result


def records_table(row: ExceptionRecord) -> Table | str:
    """The records the exception is about, in each system."""
    if not row.records:
        return "records: none recorded"
    result = table("system", "type", "id", title="records")
    for record in row.records:
        result.add_row(str(record.get("system", "-")), str(record.get("type", "-")), str(record.get("id", "-")))
    return result


def retry_table(row: ExceptionRecord) -> Group | str:
    """The fields ``psflow exceptions retry ID --set field=value`` may edit, with their values now."""
    if row.retry_input is None:
        return f"retry input: none (`psflow exceptions retry {row.id}` re-runs it without edits)"
    result = table("field", "value", title="retry input")
    for name, value in flatten(row.retry_input):
        result.add_row(name, value)
    return Group(result, f"edit and re-run: psflow exceptions retry {row.id} --set field=value")


def history_table(events: Sequence[ExceptionEvent]) -> Table:
    """Who did what to the exception, and when, oldest first."""
    result = table("at", "who", "did", "detail", title="history")
    for event in events:
        detail = ", ".join(f"{name}={value}" for name, value in flatten(event.detail or {}))
        result.add_row(when(event.at), event.actor, event.action, detail or "-")
    return result
