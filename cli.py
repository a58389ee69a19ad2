"""``psflow``: the command line for operators and integration engineers.

Sub-commands per noun: ``dev`` (the local stack), ``worker``, ``schema``, ``db``, ``demo``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from commands import demo as demo_command
from commands import engagement as engagement_commands
from commands import setup as setup_command
from commands._common import err, friendly, out, settings
from commands._common import table as table_
from commands._errors import OneLineErrors, fail
from commands.amendment import app as amendment_app
from commands.codec_server import app as codec_server_app
from commands.exceptions import app as exceptions_app
from commands.gateway import app as gateway_app
from commands.invoice import app as invoice_app
from commands.kpis import app as kpis_app
from commands.posting import app as posting_app
from commands.reconcile import app as reconcile_app
from commands.resources import app as resources_app
from commands.schedule import app as schedule_app
from stack.local.devstack import StackError

app = typer.Typer(help="psflow: pipeline → delivery → cash, on Temporal.", no_args_is_help=True, cls=OneLineErrors)
dev_app = typer.Typer(help="The local stack: Temporal dev server, SaaS sandbox, worker.", no_args_is_help=True)
schema_app = typer.Typer(help="Canonical model JSON Schemas.", no_args_is_help=True)
db_app = typer.Typer(help="The psflow store (id map, posting ledger, audit trail).", no_args_is_help=True)
app.add_typer(dev_app, name="dev")
app.add_typer(schema_app, name="schema")
app.add_typer(db_app, name="db")
sandbox_app = typer.Typer(help="The emulated SaaS systems (Salesforce, HubSpot, Kantata, Workday, NetSuite, sink).")
app.add_typer(sandbox_app, name="sandbox", no_args_is_help=True)
app.add_typer(engagement_commands.app, name="engagement")
app.add_typer(gateway_app, name="gateway")
app.add_typer(codec_server_app, name="codec-server")
app.add_typer(invoice_app, name="invoice", no_args_is_help=True)
app.add_typer(kpis_app, name="kpis")
app.add_typer(schedule_app, name="schedule")
app.add_typer(posting_app, name="posting")
app.add_typer(exceptions_app, name="exceptions")
app.add_typer(amendment_app, name="amendment")
app.add_typer(reconcile_app, name="reconcile")
app.add_typer(resources_app, name="resources")


@dev_app.command("up")
@friendly
def dev_up(
    telemetry: Annotated[
        bool | None,
        typer.Option(
            "--telemetry/--no-telemetry",
            help="Also run Jaeger (traces) and Prometheus (metrics, the alert rules) and point the worker, gateway"
            " and codec server at them; --no-telemetry stops them. Default: as the last `up` left it.",
            show_default=False,
        ),
    ] = None,
    cluster: Annotated[
        bool | None,
        typer.Option(
            "--cluster/--no-cluster",
            help="Run a real Temporal cluster (server on PostgreSQL, 8 history shards, the Web UI) instead of the"
            " dev server, at the same address; --no-cluster goes back to the dev server. Default: as the last"
            " `up` left it. See docs/cluster.md.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Start the local stack in the background (a second `up` starts only what is not running, and restarts
    what runs with other settings)."""
    from stack.local import devstack

    statuses = devstack.up(
        settings(),
        progress=lambda msg: err.print(f"[dim]{msg}[/dim]", highlight=False),
        telemetry=telemetry,
        cluster=cluster,
    )
    _print_status(statuses)


@dev_app.command("down")
@friendly
def dev_down() -> None:
    """Stop what `psflow dev up` started, and nothing else."""
    from stack.local import devstack

    devstack.down(settings(), progress=lambda msg: out.print(msg, highlight=False))


@dev_app.command("status")
@friendly
def dev_status() -> None:
    """Show which services of the local stack run, with their URLs."""
    from stack.local import devstack

    _print_status(devstack.status(settings()))


def _print_status(statuses: list[Any]) -> None:
    table = table_("service", "state", "pid", "where", "log")
    for status in statuses:
        state = "[green]running[/green]" if status.running else "[red]stopped[/red]"
        table.add_row(status.name, state, str(status.pid or "-"), status.url, str(status.log))
    out.print(table)


@sandbox_app.command("up")
@friendly
def sandbox_up(
    seed: Annotated[str, typer.Option(help="Demo data to load into an empty sandbox ('demo').")] = "demo",
) -> None:
    """Start the sandbox in the background (part of `psflow dev up` too); data persists across restarts."""
    from stack.local import devstack

    if seed != "demo":
        raise typer.BadParameter(f"unknown seed {seed!r}; the only seed is 'demo'", param_hint="--seed")
    devstack.up(settings(), progress=lambda msg: err.print(f"[dim]{msg}[/dim]", highlight=False), only={"sandbox"})
    sandbox_status()


@sandbox_app.command("status")
@friendly
def sandbox_status() -> None:
    """List each emulated system's base URL and record counts."""
    status = _sandbox_call("GET", "/_admin/status")
    table = table_("system", "base URL", "records", title=f"sandbox ({status.get('db')})")
    for name, system in sorted(status["systems"].items()):
        counts = ", ".join(f"{kind} {count}" for kind, count in system["counts"].items())
        table.add_row(name, system["base_url"], counts or "-")
    out.print(table)


@sandbox_app.command("reset")
@friendly
def sandbox_reset(
    seed: Annotated[bool, typer.Option("--seed/--empty", help="Reload the demo firm after wiping.")] = True,
) -> None:
    """Wipe every emulated system's data (and reload the demo firm unless --empty)."""
    _sandbox_call("POST", "/_admin/reset", params={"seed": "demo"} if seed else {})
    sandbox_status()


def _sandbox_call(method: str, path: str, **kwargs: Any) -> Any:
    import httpx

    url = settings().sandbox_url
    try:
        response = httpx.request(method, f"{url}{path}", timeout=60, **kwargs)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise StackError(f"the sandbox at {url} did not answer ({exc}): start it with `psflow sandbox up`") from exc
    return response.json()


@app.command("worker")
@friendly
def worker_command(
    queues: Annotated[
        str | None,
        typer.Option(
            "--queues",
            help="Comma-separated queues to poll: flows (workflows), crm, psa, hr, erp, events. Default: all.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the worker in the foreground (Ctrl-C or SIGTERM stops it gracefully)."""
    import worker

    raise typer.Exit(worker.main([] if queues is None else ["--queues", queues]))


@schema_app.command("export")
@friendly
def schema_export(
    directory: Annotated[Path, typer.Option(help="Where to write one JSON Schema per entity.")] = Path("docs/schemas"),
    check: Annotated[bool, typer.Option("--check", help="Only report stale files; exit 1 if any.")] = False,
) -> None:
    """Write the canonical entities' JSON Schemas (or check the checked-in ones are current)."""
    from canonical import schema

    if check:
        stale = schema.stale(directory)
        if stale:
            fail(f"stale schemas in {directory}: {', '.join(stale)} — run `psflow schema export`")
        out.print(f"{len(schema.ENTITIES)} schemas in {directory} are current")
        return
    for path in schema.export(directory):
        out.print(f"wrote {path}")


@db_app.command("upgrade")
@friendly
def db_upgrade() -> None:
    """Create the store's schema, or migrate it to the newest revision (safe to repeat)."""
    from store import Store

    store = Store(settings().store_url)
    for report in store.upgrade():
        out.print(report, highlight=False, soft_wrap=True)
    out.print(f"store schema is current at {store.engine.url.render_as_string(hide_password=True)}")


app.command("demo")(demo_command.demo)
app.command("setup")(setup_command.setup)


def main() -> None:
    """Console-script entry point."""
    from stack.telemetry import exit_process

    code = 0
    try:
        app()
    except SystemExit as done:  # the root command (OneLineErrors) ends every run this way
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    exit_process(code)


if __name__ == "__main__":
    main()
