"""How the CLI fails: one ``error:`` line on stderr and a non-zero exit, never a traceback or a usage box.

Three kinds of failure reach the user, and all three end the same way:

- a usage error click finds while parsing (unknown option, bad value, missing argument): exit 2,
  with the command whose ``--help`` explains it;
- a problem the user can fix, raised by a command (`UserError`, bad settings, the stack not up, a
  file that cannot be written): exit 1;
- anything else, a fault of psflow's own: exit 1, the exception's type and message, and
  ``PSFLOW_DEBUG=1`` to see the traceback.
"""

from __future__ import annotations

import functools
import importlib
import os
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from stack.local.devstack import StackError
from stack.local.temporal_cli import TemporalCliError
from stack.settings import SettingsError

__all__ = ["USER_ERRORS", "OneLineErrors", "UserError", "err", "fail", "friendly", "one_line"]

err = Console(stderr=True, soft_wrap=True)

# Typer 0.2x parses with its own copy of click (typer._click), older releases with click itself; in both
# the module that defines typer.BadParameter holds the exceptions the parser raises.
_parser_errors: Any = importlib.import_module(typer.BadParameter.__module__)
_ClickException: type[Exception] = _parser_errors.ClickException
_UsageError: type[Exception] = _parser_errors.UsageError


class _NeverRaised(Exception):
    """Stands in for NoArgsIsHelpError where click predates it (and printed the help itself)."""


_NoArgsIsHelpError: type[Exception] = getattr(_parser_errors, "NoArgsIsHelpError", _NeverRaised)
F = TypeVar("F", bound=Callable[..., Any])
DEBUG_ENV = "PSFLOW_DEBUG"


class UserError(Exception):
    """A problem the user can fix; shown as one line on stderr, exit code 1."""


USER_ERRORS: tuple[type[Exception], ...] = (SettingsError, StackError, TemporalCliError, UserError)


def one_line(error: BaseException | str) -> str:
    """An error's message on one line: pydantic's per-field errors joined, any other line breaks folded."""
    if isinstance(error, ValidationError):
        parts = []
        for problem in error.errors(include_url=False, include_input=False):
            where = ".".join(str(part) for part in problem["loc"])
            parts.append(f"{where}: {problem['msg']}" if where else problem["msg"])
        return "; ".join(parts)
    return " ".join(str(error).split())


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``error: <message>`` as one line on stderr and exit with ``code``."""
    err.print(f"[red]error:[/red] {escape(one_line(message))}", highlight=False)
    raise typer.Exit(code)


def friendly(command: F) -> F:
    """Turn the errors a user can fix into one line on stderr and exit code 1, without a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except USER_ERRORS as exc:
            fail(one_line(exc))

    return wrapper  # type: ignore[return-value]


class OneLineErrors(TyperGroup):
    """The root command: runs the CLI without click's standalone handling and ends every failure in one line."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            code = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except _NoArgsIsHelpError as exc:
            # Not an error but a request for the menu: the command's help on stdout, as typer gives it.
            help_request: Any = exc
            typer.echo(help_request.format_message())
            code = help_request.exit_code
        except _UsageError as exc:
            usage: Any = exc
            code = _shown(f"{usage.format_message()}{_help_hint(usage.ctx)}", usage.exit_code)
        except _ClickException as exc:
            failure: Any = exc
            code = _shown(failure.format_message(), failure.exit_code)
        except typer.Exit as exc:
            code = exc.exit_code
        except typer.Abort:
            code = _shown("aborted", 1)
        except USER_ERRORS as exc:
            code = _shown(one_line(exc), 1)
        except OSError as exc:  # a file or directory named on the command line or in the settings
            where = f": {exc.filename}" if exc.filename else ""
            code = _shown(f"{exc.strerror or exc}{where}", 1)
        except Exception as exc:
            if os.environ.get(DEBUG_ENV):
                raise
            unexpected = f"{type(exc).__name__}: {one_line(exc)}" if str(exc) else type(exc).__name__
            code = _shown(f"{unexpected} (psflow failed unexpectedly; {DEBUG_ENV}=1 shows the traceback)", 1)
        if not standalone_mode:
            return code
        raise SystemExit(code if isinstance(code, int) else 0)


def _shown(message: str, code: int) -> int:
    err.print(f"[red]error:[/red] {escape(one_line(message))}", highlight=False)
    return code


def _help_hint(ctx: Any) -> str:
    return f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
