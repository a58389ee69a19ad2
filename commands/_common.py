"""What every command module shares with ``cli.py``: consoles, tables, settings, a Temporal client."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from temporalio.client import Client

from stack.devstack import StackError
from stack.settings import Settings, SettingsError, load_settings
from stack.temporal_cli import TemporalCliError

out = Console()
err = Console(stderr=True, soft_wrap=True)
F = TypeVar("F", bound=Callable[..., Any])


class UserError(Exception):
    """A problem the user can fix; shown as one line on stderr, exit code 1."""


USER_ERRORS: tuple[type[Exception], ...] = (SettingsError, StackError, TemporalCliError, UserError)


def friendly(command: F) -> F:
    """Turn the errors a user can fix into one line on stderr and exit code 1, without a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except USER_ERRORS as exc:
            err.print(f"[red]error:[/red] {exc}", highlight=False)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def table(*headers: str, title: str | None = None) -> Table:
    """A rich table whose cells fold rather than truncate, so URLs and ids stay copyable."""
    result = Table(title=title)
    for header in headers:
        result.add_column(header, overflow="fold")
    return result


def settings() -> Settings:
    """The settings, read once per command."""
    return load_settings()


async def temporal(config: Settings) -> Client:
    """A client for the configured server, or a UserError saying how to start one."""
    import worker

    try:
        return await worker.connect(config)
    except RuntimeError as exc:
        raise UserError(
            f"cannot reach Temporal at {config.temporal.address} ({exc}): start the stack with `psflow dev up`"
        ) from None


def workflow_url(config: Settings, workflow_id: str, run_id: str | None = None) -> str:
    """The Web UI page of a workflow run."""
    base = f"{config.temporal.ui_url}/namespaces/{config.temporal.namespace}/workflows/{workflow_id}"
    return f"{base}/{run_id}/history" if run_id else base
