"""``psflow exceptions``: PSA records the posting could not post, why, and what to do about them.

An exception stays open until its record posts (fix the cause in the PSA or the ERP, then re-run the
date: `psflow posting run --date D`), disappears from the PSA's approved records for that date, or
someone ignores it.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from commands._common import UserError, friendly, out, settings, table

if TYPE_CHECKING:
    from store import Store

app = typer.Typer(help="Posting exceptions: records that were not posted, and why.", no_args_is_help=True)


def _store() -> Store:
    from store import Store

    store = Store(settings().store_url)
    store.upgrade()
    return store


@app.command("list")
@friendly
def list_exceptions(
    status: Annotated[
        Literal["open", "resolved", "ignored", "all"], typer.Option(help="Which exceptions to show.")
    ] = "open",
    day: Annotated[
        datetime | None, typer.Option("--date", formats=["%Y-%m-%d"], help="Only this business date.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many.")] = 200,
) -> None:
    """List posting exceptions (open ones by default), newest business date first."""
    from store.posting import list_exceptions as fetch

    rows = fetch(
        _store(), status=None if status == "all" else status, business_date=day.date() if day else None, limit=limit
    )
    if not rows:
        where = f" dated {day.date()}" if day else ""
        out.print(f"no {'' if status == 'all' else status + ' '}posting exceptions{where}")
        return
    result = table("id", "date", "kind", "record", "reason", "what is wrong", "status", "runs", "last seen")
    for row in rows:
        result.add_row(
            str(row.id),
            row.business_date.isoformat(),
            row.kind,
            row.source_id,
            row.reason,
            row.message,
            row.status if row.note is None else f"{row.status}: {row.note}",
            str(row.attempts),
            f"{row.last_seen:%Y-%m-%d %H:%M %Z}",
        )
    out.print(result)


@app.command("ignore")
@friendly
def ignore(
    exception_id: Annotated[
        int, typer.Argument(min=1, max=2**63 - 1, help="The exception's id (from `psflow exceptions list`).")
    ],
    note: Annotated[str, typer.Option(help="Why it is ignored (kept with it).")] = "ignored with psflow",
) -> None:
    """Ignore an exception: its record stays unposted and the exception leaves the open list."""
    from store.posting import ignore_exception

    try:
        row = ignore_exception(_store(), exception_id, note=note)
    except LookupError as exc:
        raise UserError(f"{exc}: see the ids with `psflow exceptions list --status all`") from None
    out.print(f"ignored exception {row.id} ({row.kind} {row.source_id}, {row.reason})")
