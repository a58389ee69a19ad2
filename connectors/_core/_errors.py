"""The one exception family every connector raises.

```
ConnectorError            outcome decides what the caller (the activity layer) does next
 ├── TransientError       retry with backoff: 5xx, 408, timeouts, dropped connections
 ├── RateLimitedError     retry after `retry_after` seconds: 429, quota codes
 ├── AuthError            credentials or permissions are wrong: fix configuration
 ├── NotFoundError        the record does not exist (404, 410)
 ├── BusinessError        the target refused the data: validation, conflicts (400, 409, 412, 422)
 └── PermanentError       anything else that will fail again the same way
```
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from connectors._core._redact import redact

if TYPE_CHECKING:
    from connectors._core._classify import Classification

__all__ = [
    "RETRYABLE_OUTCOMES",
    "AuthError",
    "BusinessError",
    "ConnectorError",
    "NotFoundError",
    "Outcome",
    "PermanentError",
    "RateLimitedError",
    "TransientError",
    "error_for",
]


class Outcome(StrEnum):
    """What a response or failure means for the caller."""

    SUCCESS = "success"
    TRANSIENT = "transient"
    RATE_LIMITED = "rate_limited"
    AUTH = "auth"
    NOT_FOUND = "not_found"
    BUSINESS = "business"
    PERMANENT = "permanent"


RETRYABLE_OUTCOMES = frozenset({Outcome.TRANSIENT, Outcome.RATE_LIMITED})
"""Outcomes where the same call, tried again later, can succeed."""


class ConnectorError(Exception):
    """A failed call to a SaaS system, classified by its `outcome`.

    The message and URL are redacted when the error is built, so the error can be logged, put in an
    `ApplicationError` or shown to an operator without leaking credentials.

    Args:
        system: The system label, e.g. ``"netsuite"``.
        message: What the system (or the transport) said went wrong.
        outcome: Only for `ConnectorError` itself; each subclass fixes its own outcome.
        status: The HTTP status, if a response arrived.
        code: The system's error code (``"INVALID_SESSION_ID"``, ``"USER_ERROR"`` …), if any.
        retry_after: Seconds the system asked us to wait, if it said.
        details: The parsed error body (or other structured context) for callers that need more.
        method: The HTTP method of the failed request.
        url: The URL of the failed request.
    """

    default_outcome: ClassVar[Outcome] = Outcome.PERMANENT

    def __init__(
        self,
        system: str,
        message: str = "",
        *,
        outcome: Outcome | None = None,
        status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
        details: Any = None,
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        if isinstance(message, Outcome):
            raise TypeError("pass the outcome as outcome=..., the second positional argument is the message")
        if outcome is not None and type(self) is not ConnectorError and outcome is not self.default_outcome:
            raise ValueError(f"{type(self).__name__} always has outcome {self.default_outcome}, not {outcome}")
        self.system = system
        self.outcome: Outcome = outcome if outcome is not None else self.default_outcome
        self.status = status
        self.code = code
        self.message = redact(message)
        self.retry_after = retry_after
        self.details = details
        self.method = method
        self.url = redact(url) if url is not None else None
        super().__init__(self._render())

    @property
    def retryable(self) -> bool:
        """Whether trying the same call again later can succeed."""
        return self.outcome in RETRYABLE_OUTCOMES

    def _render(self) -> str:
        head = self.system
        if self.status is not None:
            head += f": HTTP {self.status}"
        if self.code:
            head += f" {self.code}" if self.status is not None else f": {self.code}"
        context = [str(self.outcome)]
        if self.method and self.url:
            context.append(f"{self.method} {self.url}")
        if self.retry_after is not None:
            context.append(f"retry after {self.retry_after:g}s")
        message = self.message or "no message"
        return redact(f"{head}: {message} [{'; '.join(context)}]")

    def __str__(self) -> str:
        return self._render()

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only arguments defeat Exception's default pickling (it replays self.args).
        state = {
            "system": self.system,
            "message": self.message,
            "status": self.status,
            "code": self.code,
            "retry_after": self.retry_after,
            "details": self.details,
            "method": self.method,
            "url": self.url,
        }
        if type(self) is ConnectorError:
            state["outcome"] = self.outcome
        return (_rebuild, (type(self), state))


def _rebuild(cls: type[ConnectorError], state: dict[str, Any]) -> ConnectorError:
    return cls(**state)


class TransientError(ConnectorError):
    """The system (or the network to it) failed in a way that usually clears: retry with backoff."""

    default_outcome = Outcome.TRANSIENT


class RateLimitedError(ConnectorError):
    """The system throttled us; wait `retry_after` seconds (or back off) before the next call."""

    default_outcome = Outcome.RATE_LIMITED


class AuthError(ConnectorError):
    """Credentials are invalid, expired beyond refresh, or lack a permission: fix the configuration."""

    default_outcome = Outcome.AUTH


class NotFoundError(ConnectorError):
    """The addressed record does not exist (or no longer exists)."""

    default_outcome = Outcome.NOT_FOUND


class BusinessError(ConnectorError):
    """The system understood the request and refused the data: validation, conflict, precondition."""

    default_outcome = Outcome.BUSINESS


class PermanentError(ConnectorError):
    """A failure that repeating the same call will not fix."""

    default_outcome = Outcome.PERMANENT


_ERROR_CLASSES: dict[Outcome, type[ConnectorError]] = {
    Outcome.TRANSIENT: TransientError,
    Outcome.RATE_LIMITED: RateLimitedError,
    Outcome.AUTH: AuthError,
    Outcome.NOT_FOUND: NotFoundError,
    Outcome.BUSINESS: BusinessError,
    Outcome.PERMANENT: PermanentError,
}


def error_for(
    system: str,
    classification: Classification,
    *,
    details: Any = None,
    method: str | None = None,
    url: str | None = None,
) -> ConnectorError:
    """Build the `ConnectorError` subclass that matches a classified response.

    Args:
        system: The system label.
        classification: The result of `classify` for the failed response.
        details: Structured context to carry along (usually the parsed error body).
        method: The HTTP method of the failed request.
        url: The URL of the failed request.

    Returns:
        A `TransientError`, `RateLimitedError`, `AuthError`, `NotFoundError`, `BusinessError` or
        `PermanentError`.

    Raises:
        ValueError: If the classification is a success: there is no error to build.
    """
    if classification.outcome is Outcome.SUCCESS:
        raise ValueError(f"{system}: HTTP {classification.status} is a success, not an error")
    cls = _ERROR_CLASSES[classification.outcome]
    return cls(
        system,
        classification.message,
        status=classification.status,
        code=classification.code,
        retry_after=classification.retry_after,
        details=details,
        method=method,
        url=url,
    )
