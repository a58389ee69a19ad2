"""Taking a webhook request in: the refusal every check raises, headers that must be there, a bounded body."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

from starlette.requests import Request

__all__ = ["Refusal", "read_body", "reading", "required_header", "shown"]

log = logging.getLogger("psflow.gateway")

_CONTENT_LENGTH = re.compile(r"[0-9]{1,19}")


class Refusal(Exception):
    """A request the gateway turns away: the HTTP status, a short error code and a message for the sender.

    Attributes:
        headers: Extra response headers (``Retry-After`` on a 503).
    """

    def __init__(self, status: int, error: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.headers = headers or {}


def shown(value: str, limit: int = 40) -> str:
    """``value`` quoted for a one-line message: cut at ``limit`` characters, with its length when cut."""
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}… ({len(value)} characters)"


@contextmanager
def reading(source: str) -> Iterator[None]:
    """Turn any failure while reading a request (before anything is claimed or started) into a 400.

    Every known way a request can be wrong has its own check and message; this is the net under
    them. What it catches is still the request's doing, since reading touches neither the store nor
    Temporal, but also a check the gateway lacks, so it is logged with its traceback.
    """
    try:
        yield
    except Refusal:
        raise
    except Exception as exc:
        log.exception("gateway could not read a %s request", source)
        raise Refusal(
            400, "bad_request", f"the request could not be read ({type(exc).__name__}); nothing was started"
        ) from None


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
    if declared and not _CONTENT_LENGTH.fullmatch(declared):
        raise Refusal(400, "bad_request", f"Content-Length {shown(declared)} is not a number of bytes")
    if declared and int(declared) > limit:
        raise Refusal(413, "too_large", f"body of {int(declared)} bytes exceeds the gateway's limit of {limit}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise Refusal(413, "too_large", f"body exceeds the gateway's limit of {limit} bytes")
    return bytes(body)
