"""``psflow exceptions``: what a flow could not do, why, who is on it, and what to do about it.

Every flow records its exceptions in one model (`store.exceptions`; docs/exceptions.md): posting
(a PSA record not posted), provisioning, invoicing, amendments, reconciliation. An exception is open
until psflow resolves it itself (the record posts later, the flow succeeds for that key) or a person
acknowledges, assigns, resolves or ignores it here; `retry` re-runs the failed item, with edits.
"""

from __future__ import annotations

import asyncio
import getpass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from commands import _exception_views as views
from commands._common import UserError, err, friendly, instant, out, settings, temporal

if TYPE_CHECKING:
    from stack._exception_retry import RetryOutcome
    from stack.settings import Settings
    from store import Store
    from store.tables import ExceptionRecord

app = typer.Typer(
    help="Exceptions of every flow: list, show, acknowledge, assign, resolve, ignore, retry.", no_args_is_help=True
)

Flow = Literal["posting", "provisioning", "invoicing", "reconciliation", "amendment", "resources"]
State = Literal["open", "acknowledged", "resolved", "ignored", "active", "all"]
Action = Literal["acknowledge", "assign", "resolve", "ignore"]
NOTE_LENGTH = 500
_DONE = {"acknowledge": "acknowledged", "assign": "assigned", "resolve": "resolved", "ignore": "ignored"}

ExceptionId = Annotated[
    int, typer.Argument(min=1, max=2**63 - 1, help="The exception's id (from `psflow exceptions list`).")
]
Actor = Annotated[
    str | None,
    typer.Option(help="Who does it, kept in the history (default: your user name).", envvar="PSFLOW_ACTOR"),
]
Note = Annotated[str | None, typer.Option(help="Why, kept with the exception and in its history.")]


def _store() -> Store:
    from store import Store

    store = Store(settings().store_url)
    store.upgrade()
    return store


def _actor(actor: str | None) -> str:
    if actor is not None:
        if not actor.strip():
            raise UserError("--actor is empty: name who does it, or leave it out to use your user name")
        return actor.strip()
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in the environment nor the password database
        raise UserError("cannot tell who you are: name yourself with --actor NAME") from None


def _states(state: State) -> tuple[str, ...] | None:
    from store import exceptions as exc

    if state == "all":
        return None
    return tuple(exc.ACTIVE) if state == "active" else (state,)


@app.command("list")
@friendly
def list_exceptions(
    state: Annotated[
        State,
        typer.Option(
            "--state",
            "--status",
            help="Which: active (open or acknowledged), open, acknowledged, resolved, ignored, all.",
        ),
    ] = "active",
    flow: Annotated[Flow | None, typer.Option(help="Only this flow's.")] = None,
    kind: Annotated[str | None, typer.Option(help="Only this kind (time_entry, engagement, invoice, ...).")] = None,
    system: Annotated[str | None, typer.Option(help="Only those about this system (netsuite, kantata, ...).")] = None,
    owner: Annotated[str | None, typer.Option(help="Only those assigned to this person.")] = None,
    escalated: Annotated[bool, typer.Option("--escalated", help="Only escalated ones (level 1 or more).")] = False,
    day: Annotated[
        datetime | None, typer.Option("--date", formats=["%Y-%m-%d"], help="Only this business date.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=5000, help="Show at most this many.")] = 200,
    after: Annotated[int | None, typer.Option(min=0, help="Start after this id (the next page).")] = None,
    output: Annotated[
        Literal["table", "tsv"], typer.Option("--format", help="A table, or tab-separated lines for scripts.")
    ] = "table",
    as_of: Annotated[str | None, typer.Option(help="Measure ages to this instant (default: now).")] = None,
) -> None:
    """List exceptions in id order (active ones by default), a page at a time: `--after ID` shows the next."""
    from store import exceptions as exc

    moment = instant(as_of)
    store = _store()
    try:
        found = exc.find(
            store,
            states=_states(state),
            flow=flow,
            kind=kind,
            system=system,
            owner=owner,
            escalated=True if escalated else None,
            business_date=day.date() if day else None,
            after_id=after,
            limit=limit + 1,  # one more tells whether there is a next page
        )
    finally:
        store.engine.dispose()
    rows, more = found[:limit], len(found) > limit
    if output == "tsv":
        for line in views.list_tsv(rows, moment):
            typer.echo(line)
    elif not rows:
        filters = [f"{name} {value}" for name, value in _filters(flow, kind, system, owner, day, after)]
        which = "" if state == "all" else f"{state} "
        out.print(f"no {which}exceptions{' (' + ', '.join(filters) + ')' if filters else ''}", highlight=False)
    else:
        out.print(views.list_table(rows, moment, title=f"{state} exceptions"))
    if more:
        # stderr, so that `--format tsv` output stays one header and one line per exception
        err.print(f"more: add --after {rows[-1].id} for the next page", highlight=False)


def _filters(
    flow: str | None, kind: str | None, system: str | None, owner: str | None, day: datetime | None, after: int | None
) -> list[tuple[str, str]]:
    named = {"flow": flow, "kind": kind, "system": system, "owner": owner, "dated": day and f"{day:%Y-%m-%d}"}
    if after is not None:
        named["after id"] = str(after)
    return [(name, value) for name, value in named.items() if value]


def _get(store: Store, exception_id: int) -> ExceptionRecord:
    from store import exceptions as exc

    try:
        return exc.get(store, exception_id)
    except LookupError as error:
        raise UserError(f"{error}: see the ids with `psflow exceptions list --state all`") from None


@app.command("show")
@friendly
def show(
    exception_id: ExceptionId,
    as_of: Annotated[str | None, typer.Option(help="Measure its age to this instant (default: now).")] = None,
) -> None:
    """One exception in full: its fields, offending values, records, what a retry may edit, and its history."""
    from store import exceptions as exc

    moment = instant(as_of)
    store = _store()
    try:
        row = _get(store, exception_id)
        events = exc.history(store, exception_id)
    finally:
        store.engine.dispose()
    out.print(views.details(row, moment))
    for part in (
        views.values_table(row),
        views.records_table(row),
        views.retry_table(row),
        views.history_table(events),
    ):
        out.print(part, highlight=False)


def _act(exception_id: int, action: Action, actor: str | None, note: str | None, owner: str | None = None) -> None:
    from store import exceptions as exc

    who = _actor(actor)
    if note is not None and len(note) > NOTE_LENGTH:
        raise UserError(f"--note is {len(note)} characters long: keep it to {NOTE_LENGTH}")
    store = _store()
    try:
        _get(store, exception_id)
        row = exc.act(store, exception_id, action, actor=who, note=note, owner=owner)
    except ValueError as error:
        raise UserError(str(error)) from None
    finally:
        store.engine.dispose()
    whose = f", owner {row.owner}" if row.owner else ""
    out.print(f"{_DONE[action]} exception {row.id} ({views.describe(row)}): now {row.state}{whose}", highlight=False)


@app.command("ack")
@friendly
def acknowledge(exception_id: ExceptionId, note: Note = None, actor: Actor = None) -> None:
    """Acknowledge an exception: someone has seen it; it stays active until resolved or ignored."""
    _act(exception_id, "acknowledge", actor, note)


@app.command("assign")
@friendly
def assign(
    exception_id: ExceptionId,
    to: Annotated[str, typer.Option("--to", help="The person who takes it on.")],
    note: Note = None,
    actor: Actor = None,
) -> None:
    """Give an active exception to a person, in whatever state it is: `list --owner NAME` shows theirs."""
    if not to.strip():
        raise UserError("--to is empty: name the person who takes it on")
    _act(exception_id, "assign", actor, note, owner=to.strip())


@app.command("resolve")
@friendly
def resolve(exception_id: ExceptionId, note: Note = None, actor: Actor = None) -> None:
    """Mark an exception resolved by hand (fixed outside psflow); a later failure of the same key reopens it."""
    _act(exception_id, "resolve", actor, note)


@app.command("ignore")
@friendly
def ignore(exception_id: ExceptionId, note: Note = "ignored with psflow", actor: Actor = None) -> None:
    """Ignore an exception: its item stays as it is and the exception leaves the active list for good."""
    _act(exception_id, "ignore", actor, note)


def parse_edits(assignments: list[str]) -> dict[str, str]:
    """``--set field=value`` options as a dict; a one-line error for a missing ``=``, no field, or a field twice."""
    edits: dict[str, str] = {}
    for assignment in assignments:
        field, sign, value = assignment.partition("=")
        field = field.strip()
        if not sign:
            raise UserError(f"--set {assignment!r} has no '=': write --set field=value")
        if not field:
            raise UserError(f"--set {assignment!r} names no field: write --set field=value")
        if field in edits:
            raise UserError(f"--set {field} is given twice: give each field once")
        edits[field] = value
    return edits


@app.command("retry")
@friendly
def retry(
    exception_id: ExceptionId,
    assignments: Annotated[
        list[str] | None,
        typer.Option("--set", metavar="FIELD=VALUE", help="Change a field of the retried input (repeatable)."),
    ] = None,
    actor: Actor = None,
) -> None:
    """Re-run the failed item of an active exception through its flow, with edits: `show ID` lists the fields."""
    edits = parse_edits(assignments or [])
    who = _actor(actor)
    outcome = asyncio.run(_retry(settings(), exception_id, edits, who))
    edited = ", ".join(f"{field}={value}" for field, value in edits.items()) or "no edits"
    out.print(f"retried exception {exception_id} ({edited})", highlight=False)
    for name, value in _outcome_fields(outcome):
        out.print(f"  {name}: {value}", highlight=False)


async def _retry(config: Settings, exception_id: int, edits: dict[str, str], actor: str) -> RetryOutcome:
    client = await temporal(config)
    from stack.flows import retry_exception

    try:
        return await retry_exception(client, config, exception_id, edits, actor=actor)
    except (LookupError, ValueError) as error:  # refused before anything started: the reason names the exception
        raise UserError(str(error)) from None


def _outcome_fields(outcome: RetryOutcome) -> list[tuple[str, str]]:
    """The retry's outcome, field by field, without what the first line already said (the id, the edits)."""
    values = outcome.model_dump(mode="json", exclude={"exception_id", "edits"})
    return [(name, str(value)) for name, value in views.flatten(values)]
