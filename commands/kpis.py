"""``psflow kpis``: the business figures dashboards show, read from the store."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

import typer
from sqlalchemy.exc import OperationalError, ProgrammingError

from commands._common import UserError, friendly, out, settings, table
from store import Store
from store.figures import Distribution, invoice_lag, sync_success_rate, time_to_post

DEFAULT_DAYS = 30

app = typer.Typer(help="Business figures: time to post, invoice lag, sync success rate.", invoke_without_command=True)


def _day(value: str | None, option: str, default: date) -> date:
    if value is None:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UserError(f"{option} {value!r} is not a date: write it as YYYY-MM-DD") from None


def duration(value: timedelta | None) -> str:
    """A duration as people read it: ``45m``, ``3h 12m``, ``2d 4h``; ``-`` for none."""
    if value is None:
        return "-"
    minutes = round(value.total_seconds() / 60)
    sign, minutes = ("-", -minutes) if minutes < 0 else ("", minutes)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{sign}{days}d {hours}h"
    return f"{sign}{hours}h {minutes}m" if hours else f"{sign}{minutes}m"


def _row(name: str, figures: Distribution) -> tuple[str, ...]:
    return name, str(figures.count), duration(figures.p50), duration(figures.p95), duration(figures.max)


@app.callback()
@friendly
def kpis(
    start: Annotated[str | None, typer.Option("--from", help="First day, YYYY-MM-DD (default: 30 days ago).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day, YYYY-MM-DD (default: today, UTC).")] = None,
) -> None:
    """Time to post (approval → posted), invoice lag (period end → invoice) and sync success rate."""
    today = datetime.now(UTC).date()
    last = _day(end, "--to", today)
    first = _day(start, "--from", last - timedelta(days=DEFAULT_DAYS))
    if last < first:
        raise UserError(f"--to {last} is before --from {first}: swap them")
    config = settings()
    store = Store(config.store_url)
    try:
        overall, per_day = time_to_post(store, first, last)
        lag = invoice_lag(store, first, last)
        sync = sync_success_rate(store, first, last)
    except (OperationalError, ProgrammingError):
        raise UserError(
            f"the store at {config.store_url} has no schema yet: run `psflow db upgrade` or start the worker"
        ) from None
    finally:
        store.engine.dispose()

    figures = table("figure", "count", "p50", "p95", "max", title=f"business figures {first}..{last} (UTC days)")
    figures.add_row(*_row("time to post (approval → posted)", overall))
    figures.add_row(*_row("invoice lag (period end → invoice)", lag))
    if sync.rejected is None:
        rate = f"unknown ({sync.posted} posted; this store has no posting-exception table)"
    elif sync.rate is None:
        rate = "unknown (nothing was posted, rejected or refused)"
    else:
        rate = f"{sync.rate:.1%} ({sync.posted} posted, {sync.rejected} rejected, {sync.failed} failed)"
    out.print(figures)
    out.print(f"sync success rate: {rate}", highlight=False)
    if per_day:
        days = table("posted on", "entries", "p50", "p95", "max", title="time to post per day")
        for day, distribution in per_day.items():
            days.add_row(day.isoformat(), *_row("", distribution)[1:])
        out.print(days)
