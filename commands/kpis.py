"""``psflow kpis``: the business figures dashboards show, read from the store.

``--as-of`` pins "now" (and so the default window and the exceptions' ages), for reports of a past
day and for tests, which never read the clock.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

import typer

from commands._common import UserError, friendly, instant, open_store, out, settings, table
from store.figures import (
    AGE_BUCKETS,
    Distribution,
    OpenExceptions,
    invoice_lag,
    open_exceptions,
    sync_success_rate,
    time_to_post,
    time_to_resolve,
)

DEFAULT_DAYS = 30

app = typer.Typer(
    help="Business figures: time to post, invoice lag, sync success rate, exceptions.", invoke_without_command=True
)


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
    as_of: Annotated[
        str | None,
        typer.Option(help="Now, for the figures: YYYY-MM-DD (its midnight UTC) or an ISO instant (default: now)."),
    ] = None,
) -> None:
    """Time to post, invoice lag, sync success rate, open exceptions by age, and time to resolve exceptions."""
    now = instant(as_of).astimezone(UTC)
    today = now.date()
    last = _day(end, "--to", today)
    first = _day(start, "--from", last - timedelta(days=DEFAULT_DAYS))
    if last < first:
        raise UserError(f"--to {last} is before --from {first}: swap them")
    config = settings()
    with open_store(config) as store:
        overall, per_day = time_to_post(store, first, last)
        lag = invoice_lag(store, first, last)
        sync = sync_success_rate(store, first, last)
        still_open = open_exceptions(store, now)
        resolving = time_to_resolve(store, first, last)

    figures = table("figure", "count", "p50", "p95", "max", title=f"business figures {first}..{last} (UTC days)")
    figures.add_row(*_row("time to post (approval → posted)", overall))
    figures.add_row(*_row("invoice lag (period end → invoice)", lag))
    if sync.rejected is None:
        rate = f"unknown ({sync.posted} posted; this store has no exception table)"
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
    _print_exceptions(still_open, resolving, now, first, last)


def _print_exceptions(
    still_open: list[OpenExceptions], resolving: dict[str, Distribution], now: datetime, first: date, last: date
) -> None:
    if not still_open:
        out.print(f"open exceptions at {now:%Y-%m-%d %H:%M} UTC: none", highlight=False)
    else:
        buckets = [name for name, _ in AGE_BUCKETS]
        aged = table(
            "flow",
            "kind",
            "open",
            *buckets,
            "oldest",
            "escalated",
            title=f"open exceptions at {now:%Y-%m-%d %H:%M} UTC",
        )
        for group in still_open:
            aged.add_row(
                group.flow,
                group.kind,
                str(group.count),
                *(str(count) for count in group.by_age),
                duration(group.oldest),
                str(group.escalated),
            )
        total = [sum(group.by_age[index] for group in still_open) for index in range(len(AGE_BUCKETS))]
        oldest = max(group.oldest for group in still_open)
        escalated = sum(group.escalated for group in still_open)
        aged.add_row("all", "", str(sum(total)), *(str(count) for count in total), duration(oldest), str(escalated))
        out.print(aged)
    if not resolving:
        out.print(f"exceptions resolved {first}..{last}: none", highlight=False)
        return
    resolved = table("flow", "resolved", "p50", "p95", "max", title=f"time to resolve, {first}..{last}")
    for flow, distribution in resolving.items():
        resolved.add_row(*_row(flow, distribution))
    out.print(resolved)
