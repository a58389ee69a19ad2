"""Taking a webhook request in: the refusal every check raises, headers that must be there, a bounded body."""

from __future__ import annotations

from starlette.requests import Request

__all__ = ["Refusal", "read_body", "required_header"]


class Refusal(Exception):
    """A request the gateway turns away: the HTTP status, a short error code and a message for the sender."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message


def required_header(request: Request, name: str) -> str:
    """The header's value; a missing or empty one is a 401, since every required header is part of the signature."""
    value = request.headers.get(name, "").strip()
    if not value:
        raise Refusal(401, "unauthorized", f"missing {name} header: the request is not signed")
    return value


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused with 413 as soon as it is known to exceed ``limit`` bytes.

    The declared ``Content-Length`` is checked before reading; the streamed size while reading, so a
    chunked body (which declares no length) is cut off at the limit instead of held in memory.
    """
    declared = request.headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > limit:
        raise Refusal(413, "too_large", f"body of {int(declared)} bytes exceeds the gateway's limit of {limit}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise Refusal(413, "too_large", f"body exceeds the gateway's limit of {limit} bytes")
    return bytes(body)
