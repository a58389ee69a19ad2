"""TBA signing at the transport, so every attempt carries its own nonce.

NetSuite refuses a TBA nonce it has seen before. `OAuth1HmacSha256` as an ``httpx.Auth`` signs a
request once, above the retry layer, so an in-process retry would resend a spent nonce and get
401 ``INVALID_LOGIN``. Signing innermost — below `RetryTransport` — signs each attempt afresh.
"""

from __future__ import annotations

import httpx

from connectors._core import OAuth1HmacSha256


class SigningTransport(httpx.AsyncBaseTransport):
    """Adds a fresh TBA ``Authorization`` header to each request it sends.

    Args:
        inner: The transport that sends the request.
        signer: The TBA credentials.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport, signer: OAuth1HmacSha256) -> None:
        self._inner = inner
        self._signer = signer

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Sign and send."""
        request.headers["Authorization"] = self._signer.authorization_for(request)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        """Close the inner transport."""
        await self._inner.aclose()
