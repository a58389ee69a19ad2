"""The one table that turns a connector's classified error into Temporal retry behaviour.

Connectors retry only cheap transients in-process; everything they give up on arrives here and
becomes an ``ApplicationError`` whose ``type`` workflows and retry policies can name. Retries are
layered, never doubled: Temporal retries what is retryable, with the server's Retry-After as
``next_retry_delay``, and never retries what a person must fix.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import ParamSpec, TypeVar

from pydantic import ValidationError
from temporalio.exceptions import ApplicationError

from connectors._core import ConnectorError, Outcome

P = ParamSpec("P")
R = TypeVar("R")

# outcome → (retryable, ApplicationError.type)
POLICY: dict[Outcome, tuple[bool, str]] = {
    Outcome.TRANSIENT: (True, "TransientError"),
    Outcome.RATE_LIMITED: (True, "RateLimited"),
    Outcome.AUTH: (False, "AuthError"),
    Outcome.NOT_FOUND: (False, "NotFound"),
    Outcome.BUSINESS: (False, "BusinessRuleViolation"),
    Outcome.PERMANENT: (False, "PermanentError"),
}

INVALID_DATA = "InvalidData"
"""A record that breaks a canonical rule: a person must fix it at the source."""

NON_RETRYABLE_TYPES = [kind for retryable, kind in POLICY.values() if not retryable] + [INVALID_DATA]


def to_application_error(error: ConnectorError) -> ApplicationError:
    """The ApplicationError for a connector error, per the table above."""
    retryable, kind = POLICY.get(error.outcome, (False, "PermanentError"))
    delay = timedelta(seconds=error.retry_after) if retryable and error.retry_after else None
    return ApplicationError(
        str(error),
        {"system": error.system, "status": error.status, "code": error.code},
        type=kind,
        non_retryable=not retryable,
        next_retry_delay=delay,
    )


def invalid_data(what: str, error: ValidationError) -> ApplicationError:
    """A non-retryable error naming each broken field and value of a record read from a system."""
    problems = "; ".join(
        f"{'.'.join(str(part) for part in err['loc']) or 'record'}: {err['msg']} (got {err.get('input')!r})"
        for err in error.errors()
    )
    return ApplicationError(f"{what} is invalid: {problems}", type=INVALID_DATA, non_retryable=True)


def classified(method: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Decorate an activity so connector errors leave it as the table says."""

    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(*args, **kwargs)
        except ConnectorError as error:
            raise to_application_error(error) from error

    return wrapper
