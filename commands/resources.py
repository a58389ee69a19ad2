"""``psflow resources``: the HR → PSA resource sync on demand, who is free for staffing, and one person's record."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from canonical.calendar import firm_day
from commands._common import UserError, err, friendly, open_store, out, settings, table, temporal, workflow_url
from stack.settings import Settings

if TYPE_CHECKING:
    from store.resources import Availability, ResourceRow
    from store.tables import ExceptionRecord
    from workflows.sync_resources import ResourceSyncProgress, ResourceSyncResult

app = typer.Typer(
    help="Resources: HR's people, leavers and time off in the PSA; who is free between two days.",
    no_args_is_help=True,
)

AsOfOption = Annotated[
    str | None,
    typer.Option("--as-of", help="Act as of this day, YYYY-MM-DD (default: today in the firm's time zone)."),
]
FullOption = Annotated[
    bool, typer.Option("--full", help="Read every worker, not only HR's changes since the last sync.")
]
MAX_DAYS = 366
"""The longest range `availability` sums (a year)."""
CENT = Decimal("0.01")
COUNT_WORDS = (
    ("invited", "invited"),
    ("linked", "linked"),
    ("updated", "updated"),
    ("unchanged", "unchanged"),
    ("disabled", "disabled"),
    ("allocations_removed", "allocations cut"),
    ("conflicts", "conflicts"),
    ("invalid", "invalid"),
    ("exceptions", "other exceptions"),
)
"""`ApplyResult.counts` keys in the order shown, and their words; the first five are what was done."""


def day_of(value: str | None, option: str) -> date | None:
    """A day given as YYYY-MM-DD, or a UserError naming the option and the value."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UserError(f"{option} {value!r} is not a day: write it as YYYY-MM-DD") from None


def firm_today(config: Settings, as_of: str | None) -> date:
    """``--as-of``, or today in the firm's time zone."""
    given = day_of(as_of, "--as-of")
    if given is not None:
        return given
    try:
        return firm_day(datetime.now(UTC), config.firm_time_zone)
    except ValueError as exc:
        raise UserError(f"PSFLOW_FIRM_TIME_ZONE: {exc}") from None


def checked_range(first: str | None, last: str | None, today: date) -> tuple[date, date]:
    """``--from`` (default today) to ``--to`` (default a week from --from, inclusive), in order and at most a year."""
    start = day_of(first, "--from") or today
    end = day_of(last, "--to") or start + timedelta(days=6)
    if end < start:
        raise UserError(f"--to {end} is before --from {start}: give the earlier day first")
    if (end - start).days + 1 > MAX_DAYS:
        raise UserError(f"--from {start} --to {end} spans more than {MAX_DAYS} days: ask for a year at most")
    return start, end


def checked_entity(config: Settings, entity: str | None) -> str | None:
    """A legal entity named in ``hr_systems``, or a UserError listing them."""
    if entity is not None and entity not in config.hr_systems:
        raise UserError(
            f"--entity {entity!r} is not a legal entity in the settings' hr_systems; they are: "
            f"{', '.join(sorted(config.hr_systems))}"
        )
    return entity


@dataclass(frozen=True)
class Free:
    """One person's hours over the range: capacity, less time off and what the PSA has them booked on."""

    worker_id: str
    name: str | None
    email: str | None
    psa_user_id: str | None
    cost_centre: str | None
    skills: tuple[str, ...]
    capacity_hours: Decimal
    time_off_hours: Decimal
    allocated_hours: Decimal
    free_hours: Decimal


def who_is_free(rows: list[Availability], allocated: dict[str, Decimal]) -> list[Free]:
    """The store's availability less the PSA's bookings, most free hours first (then by name and worker id).

    Free hours never go below zero: someone booked over their capacity is simply not free.
    """
    found = []
    for row in rows:
        booked = allocated.get(row.psa_user_id, Decimal(0)) if row.psa_user_id else Decimal(0)
        found.append(
            Free(
                worker_id=row.worker_id,
                name=row.name,
                email=row.email,
                psa_user_id=row.psa_user_id,
                cost_centre=row.cost_centre,
                skills=tuple(row.skills),
                capacity_hours=row.capacity_hours,
                time_off_hours=row.time_off_hours,
                allocated_hours=booked,
                free_hours=max(row.free_hours - booked, Decimal(0)),
            )
        )
    return sorted(found, key=lambda free: (-free.free_hours, free.name or "", free.worker_id))


def hours(value: Decimal) -> str:
    """Hours as people read them: ``37.5``, ``40``, ``0``."""
    text = f"{value.quantize(CENT):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


async def _allocated(config: Settings, start: date, end: date, user_ids: list[str]) -> dict[str, Decimal]:
    from connectors._core import ConnectorError
    from stack.connectors import Connectors

    if not user_ids:
        return {}
    connectors = Connectors.build(config)
    try:
        return await connectors.kantata.allocated_hours(start, end, user_ids)
    except ConnectorError as exc:
        raise UserError(
            f"cannot read the PSA's allocations at {connectors.kantata.settings.base_url} ({exc}): "
            "is the sandbox up (`psflow dev status`) or PSFLOW_KANTATA_BASE_URL right?"
        ) from None
    finally:
        await connectors.aclose()


@app.command("availability")
@friendly
def availability(
    first: Annotated[str | None, typer.Option("--from", help="First day, YYYY-MM-DD (default: today).")] = None,
    last: Annotated[
        str | None, typer.Option("--to", help="Last day, YYYY-MM-DD, included (default: a week from --from).")
    ] = None,
    skill: Annotated[str | None, typer.Option("--skill", help="Only people with this skill (any case).")] = None,
    cost_centre: Annotated[str | None, typer.Option("--cost-centre", help="Only this cost centre.")] = None,
    entity: Annotated[
        str | None, typer.Option("--entity", help="Only this legal entity (a key of the hr_systems setting).")
    ] = None,
    as_of: AsOfOption = None,
    fmt: Annotated[
        Literal["table", "json"], typer.Option("--format", help="A table, or JSON for scripts and staffing tools.")
    ] = "table",
) -> None:
    """Who is free from --from to --to: weekday capacity, less time off and PSA bookings, most free first."""
    from store.resources import availability as employed

    config = settings()
    start, end = checked_range(first, last, firm_today(config, as_of))
    legal_entity = checked_entity(config, entity)
    with open_store(config) as store:
        rows = employed(store, start, end, skill=skill, cost_centre=cost_centre, legal_entity=legal_entity)
    user_ids = sorted({row.psa_user_id for row in rows if row.psa_user_id})
    free = who_is_free(rows, asyncio.run(_allocated(config, start, end, user_ids)))
    if fmt == "json":
        print(json.dumps({"from": start.isoformat(), "to": end.isoformat(), "people": [_json(f) for f in free]}))
        return
    if not free:
        filters = ", ".join(
            f"{name} {value!r}"
            for name, value in (("skill", skill), ("cost centre", cost_centre), ("entity", entity))
            if value
        )
        out.print(
            f"nobody employed from {start} to {end}" + (f" with {filters}" if filters else "") + "; "
            "people appear once `psflow resources sync` has read them from HR",
            highlight=False,
        )
        return
    shown = table(
        "worker", "name", "cost centre", "skills", "capacity h", "time off h", "booked h", "free h",
        title=f"availability {start} to {end}",
    )  # fmt: skip
    for person in free:
        shown.add_row(
            person.worker_id,
            person.name or person.email or "-",
            person.cost_centre or "-",
            ", ".join(person.skills) or "-",
            hours(person.capacity_hours),
            hours(person.time_off_hours),
            hours(person.allocated_hours),
            hours(person.free_hours),
        )
    out.print(shown)


def _json(person: Free) -> dict[str, Any]:
    amounts = ("capacity_hours", "time_off_hours", "allocated_hours", "free_hours")
    values: dict[str, Any] = {
        name: getattr(person, name) for name in ("worker_id", "name", "email", "psa_user_id", "cost_centre")
    }
    return values | {"skills": list(person.skills)} | {name: hours(getattr(person, name)) for name in amounts}


def _progress_line(progress: ResourceSyncProgress) -> str:
    counts = ", ".join(f"{key} {value}" for key, value in sorted(progress.counts.items()) if value)
    where = f" ({progress.source})" if progress.source else ""
    time_off = f"; time off set {progress.time_off_set}, cleared {progress.time_off_cleared}"
    return f"syncing resources: {progress.step}{where} — {counts or 'reading'}{time_off}"


def print_result(result: ResourceSyncResult) -> None:
    """Per source (one column each) what the sync read and did, then one line of totals.

    One row per count, so the table fits a terminal however many counts there are; a count that is
    zero for every source is left out.
    """
    sources = result.sources
    shown = table(
        "",
        *(f"{s.source.legal_entity} ({s.source.hr_system}{', full sweep' if s.full else ''})" for s in sources),
        title="resource sync",
    )
    rows = [
        ("read", [s.read for s in sources]),
        *((words, [s.counts.get(key, 0) for s in sources]) for key, words in COUNT_WORDS),
        ("time off days set", [s.time_off_set for s in sources]),
        ("time off days cleared", [s.time_off_cleared for s in sources]),
        ("availability events", [s.events for s in sources]),
    ]
    for words, values in rows:
        if words == "read" or any(values):
            shown.add_row(words, *(str(value) for value in values))
    shown.add_row("HR mark", *(f"{s.mark:%Y-%m-%d %H:%M:%S}" if s.mark else "-" for s in sources))
    out.print(shown)
    problems = sum(result.total(key) for key, _ in COUNT_WORDS[-3:])
    problems += sum(source.time_off_overlaps for source in result.sources)
    totals = ", ".join(f"{result.total(key)} {words}" for key, words in COUNT_WORDS[:5] if result.total(key))
    out.print(
        f"resources synced: {totals or 'nothing changed'}; time off {result.time_off_set} day(s) set, "
        f"{result.time_off_cleared} cleared; {result.events} availability event(s)"
        + (f"; {problems} exception(s): see `psflow exceptions list --flow resources`" if problems else ""),
        highlight=False,
    )


@app.command("sync")
@friendly
def sync(
    full: FullOption = False,
    no_wait: Annotated[bool, typer.Option("--no-wait", help="Start it and return; follow it in the Web UI.")] = False,
    as_of: AsOfOption = None,
) -> None:
    """Sync HR's workers, leavers and time off into the PSA now (or report the sync already running)."""
    config = settings()
    today = day_of(as_of, "--as-of")

    async def go() -> None:
        from temporalio.client import WorkflowFailureError, WorkflowQueryFailedError
        from temporalio.exceptions import FailureError
        from temporalio.service import RPCError

        from stack.flows import start_resource_sync
        from workflows.sync_resources import ResourceSyncWorkflow

        client = await temporal(config)
        options: dict[str, Any] = {} if today is None else {"today": today}
        handle, started = await start_resource_sync(config, client, full=full, **options)
        url = workflow_url(config, handle.id, handle.first_execution_run_id or handle.run_id)
        if not started:
            out.print(
                f"a resource sync is already running: {handle.id} ({url}); it was not started again",
                highlight=False,
                soft_wrap=True,
            )
            return
        out.print(f"syncing resources{' (full sweep)' if full else ''}: {url}", highlight=False, soft_wrap=True)
        if no_wait:
            return
        result = asyncio.ensure_future(handle.result())
        with err.status("syncing resources… (nothing moving? start a worker: `psflow worker`)") as status:
            while not result.done():
                await asyncio.wait([result], timeout=1)
                try:
                    progress = await handle.query(ResourceSyncWorkflow.progress, rpc_timeout=timedelta(seconds=2))
                except (WorkflowQueryFailedError, RPCError):
                    continue
                status.update(_progress_line(progress))
        try:
            print_result(await result)
        except WorkflowFailureError as failure:
            cause = failure.cause.message if isinstance(failure.cause, FailureError) else str(failure)
            raise UserError(f"the resource sync {handle.id} failed: {cause}") from None

    asyncio.run(go())


@dataclass(frozen=True)
class Shown:
    """One person as psflow knows them: the resource row, its ids in other systems, time off, open exceptions."""

    row: ResourceRow
    ids: dict[str, str]
    time_off: dict[date, Decimal]
    exceptions: list[ExceptionRecord]


def _shown(config: Settings, who: str, start: date, end: date) -> list[Shown]:
    from sqlmodel import col, or_, select

    from store import exceptions as exc
    from store.resources import ResourceRow, applied_time_off
    from store.tables import ExceptionRecord

    wanted = ResourceRow.email == who.strip().lower() if "@" in who else ResourceRow.worker_id == who.strip()
    found = []
    with open_store(config) as store:
        with store.session() as session:
            rows = list(session.exec(select(ResourceRow).where(wanted).order_by(col(ResourceRow.worker_id))).all())
        for row in rows:
            # A time-off overlap's key is ``<worker id>:<day>``.
            own = or_(
                ExceptionRecord.business_key == row.worker_id,
                col(ExceptionRecord.business_key).startswith(f"{row.worker_id}:"),
            )
            with store.session() as session:
                open_ones = session.exec(
                    select(ExceptionRecord)
                    .where(ExceptionRecord.flow == "resources", own, col(ExceptionRecord.state).in_(exc.ACTIVE))
                    .order_by(col(ExceptionRecord.id))
                ).all()
            ids = store.ids_of("worker", row.worker_id)
            found.append(Shown(row, ids, applied_time_off(store, row.worker_id, start, end), list(open_ones)))
    return found


@app.command("show")
@friendly
def show(
    who: Annotated[str, typer.Argument(help="A worker id (bamboohr:17, workday:<WID>) or an email address.")],
    as_of: AsOfOption = None,
) -> None:
    """One person: what HR said last, their ids in the PSA and ERP, time off applied ahead, open exceptions."""
    config = settings()
    today = firm_today(config, as_of)
    end = today + timedelta(days=config.resource_time_off_days_ahead)
    found = _shown(config, who, today, end)
    if not found:
        raise UserError(
            f"no resource {who!r}: psflow knows a person once `psflow resources sync` has read them from HR "
            "(give a worker id such as bamboohr:17, or an email)"
        )
    for shown in found:
        row = shown.row
        last = row.termination_date
        state = "active" if last is None else f"left, last day {last}" if last < today else f"last day {last}"
        if row.disabled_at is not None:
            state += f", disabled in the PSA {row.disabled_at:%Y-%m-%d}"
        details = table("field", "value", title=f"{row.worker_id} — {row.name or row.email} ({state})")
        hours_a_week = hours(Decimal(row.standard_hours_per_week)) if row.standard_hours_per_week is not None else "-"
        for field, value in (
            ("legal entity", f"{row.legal_entity} ({row.hr_system})"),
            ("employee id", row.employee_id),
            ("email", row.email),
            ("title / role", " / ".join(v for v in (row.title, row.role) if v) or None),
            ("cost centre", row.cost_centre),
            ("skills", ", ".join(row.skills) or None),
            ("manager", row.manager_id),
            ("hours a week", hours_a_week),
            ("hired / last day", f"{row.hire_date or '-'} / {row.termination_date or '-'}"),
            ("ids", ", ".join(f"{system} {ident}" for system, ident in sorted(shown.ids.items())) or row.psa_user_id),
            ("time off applied", ", ".join(f"{day} {hours(h)} h" for day, h in sorted(shown.time_off.items())) or None),
            ("synced", f"{row.updated_at:%Y-%m-%d %H:%M} UTC"),
        ):
            details.add_row(field, value or "-")
        out.print(details)
        for record in shown.exceptions:
            out.print(f"  open exception {record.id} {record.kind}: {record.message}", highlight=False, soft_wrap=True)
