"""The org's daily API usage, as every Salesforce response reports it in ``Sforce-Limit-Info``."""

from __future__ import annotations

import re

import httpx

__all__ = ["UsageRecorder", "parse_limit_info"]

_USAGE = re.compile(r"(?<![\w-])api-usage=(\d+)/(\d+)")


def parse_limit_info(header: str | None) -> tuple[int, int] | None:
    """``(used, allowed)`` from ``Sforce-Limit-Info: api-usage=18/5000; per-app-api-usage=...``."""
    match = _USAGE.search(header or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


class UsageRecorder(httpx.AsyncBaseTransport):
    """A transport that remembers the last ``Sforce-Limit-Info`` any response carried, errors included.

    Args:
        inner: The transport that sends the requests.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner
        self.last: tuple[int, int] | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send the request and note the usage its response reports."""
        response = await self._inner.handle_async_request(request)
        usage = parse_limit_info(response.headers.get("Sforce-Limit-Info"))
        if usage is not None:
            self.last = usage
        return response

    async def aclose(self) -> None:
        """Close the inner transport."""
        await self._inner.aclose()
