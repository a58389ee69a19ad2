"""`BaseConnector`: the lifecycle every connector shares — one `RestClient` from its settings, closed once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

import httpx

from connectors._core._budget import RateBudget
from connectors._core._classify import ErrorParser, Rule, default_error_parser
from connectors._core._client import RestClient
from connectors._core._settings import ConnectorSettings

__all__ = ["BaseConnector"]

S = TypeVar("S", bound=ConnectorSettings)


class BaseConnector(Generic[S]):
    """One system's connector: its settings and the one `RestClient` every request goes through.

    A connector passes only what differs per system (auth, error parser, classification rules);
    the rate budget, retry bounds and timeout come from its settings, and the transport is the one
    the caller injects (an in-process emulator in tests, a real one by default). Use a connector as
    an async context manager, or call `aclose` when done.

    Args:
        system: The system label every error and log line carries, e.g. ``"netsuite"``.
        settings: Where the system is and how to reach it.
        transport: The innermost transport; a real `httpx.AsyncHTTPTransport` when None.
        auth: How requests authenticate, if they do.
        base_url: The API root, when it is not ``settings.base_url``.
        headers: Headers sent on every request.
        parse_error: Reads the system's error body into (code, message).
        rules: The system's exceptions to the classification table.
        rate_limits: Limits the connector fixes on the settings' rate budget (e.g. HubSpot's window).
    """

    def __init__(
        self,
        system: str,
        settings: S,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        auth: httpx.Auth | None = None,
        base_url: str | None = None,
        headers: Mapping[str, str] | None = None,
        parse_error: ErrorParser = default_error_parser,
        rules: Sequence[Rule] = (),
        rate_limits: Mapping[str, Any] | None = None,
    ) -> None:
        self.settings = settings
        self.client = RestClient(
            system,
            base_url=base_url or settings.base_url,
            auth=auth,
            transport=transport,
            budget=settings.rate_budget(system, **(rate_limits or {})),
            retry=settings.retry_config(),
            timeout=settings.timeout_s,
            headers=headers,
            parse_error=parse_error,
            rules=rules,
        )

    @property
    def budget(self) -> RateBudget | None:
        """The process-wide budget this connector's requests draw from (None: no limit configured)."""
        return self.client.budget

    async def aclose(self) -> None:
        """Close the HTTP client and its transports."""
        await self.client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.aclose()
