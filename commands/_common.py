"""What every command module shares with ``cli.py``: consoles, tables, settings, a Temporal client."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from temporalio.client import Client

from commands._errors import USER_ERRORS, UserError, err, friendly
from stack.client import connect
from stack.settings import Settings, load_settings

if TYPE_CHECKING:
    from store import Store

__all__ = [
    "USER_ERRORS",
    "UserError",
    "check_project",
    "err",
    "friendly",
    "instant",
    "open_store",
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


def instant(value: str | None, option: str = "--as-of") -> datetime:
    """An instant given as ``YYYY-MM-DD[THH:MM[+HH:MM]]`` (UTC when it names no offset); None: now."""
    if value is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise UserError(f"{option} {value!r} is not an instant: write YYYY-MM-DD or YYYY-MM-DDTHH:MM[+HH:MM]") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


@contextmanager
def open_store(config: Settings) -> Iterator[Store]:
    """The configured store for one command's reads; a UserError if it has no schema yet."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from store import Store

    store = Store(config.store_url)
    try:
        yield store
    except (OperationalError, ProgrammingError):
        raise UserError(
            f"the store at {config.store_url} has no schema yet: run `psflow db upgrade` or start the worker"
        ) from None
    finally:
        store.engine.dispose()


def check_project(config: Settings, project_id: str) -> None:
    """A UserError unless psflow knows the project (posted work for it, or provisioned it)."""
    from store.invoicing import known_project

    with open_store(config) as store:
        known = known_project(store, project_id)
    if not known:
        raise UserError(
            f"unknown project {project_id!r}: psflow has posted nothing for it and did not provision it "
            "(project ids look like PRJ-0001 or salesforce:006...)"
        )
