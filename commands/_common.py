"""What every command module shares with ``cli.py``: consoles, tables, settings, a Temporal client."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from temporalio.client import Client

from commands._errors import USER_ERRORS, UserError, err, friendly
from stack.client import connect
from stack.settings import Settings, load_settings

__all__ = [
    "USER_ERRORS",
    "UserError",
    "err",
    "friendly",
    "out",
    "settings",
    "table",
    "temporal",
    "workflow_url",
]

out = Console()


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
    try:
        return await connect(config)
    except RuntimeError as exc:
        raise UserError(
            f"cannot reach Temporal at {config.temporal.address} ({exc}): start the stack with `psflow dev up`"
        ) from None


def workflow_url(config: Settings, workflow_id: str, run_id: str | None = None) -> str:
    """The Web UI page of a workflow run."""
    base = f"{config.temporal.ui_url}/namespaces/{config.temporal.namespace}/workflows/{workflow_id}"
    return f"{base}/{run_id}/history" if run_id else base
