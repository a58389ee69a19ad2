"""Query and paging helpers shared by the list routes: repeated/comma lists, opaque cursors."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from fastapi import Request

from sandbox.systems.hubspot._errors import HubSpotError

__all__ = ["decode_cursor", "encode_cursor", "page_link", "split"]


def split(values: list[str] | None) -> list[str]:
    """Query values given repeated and/or comma-separated (``properties=a,b&properties=c``)."""
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]


def encode_cursor(offset: int) -> str:
    """An opaque ``after`` cursor, shaped like HubSpot's (base64)."""
    return base64.b64encode(f"{offset}\n".encode()).decode()


def decode_cursor(after: str | None) -> int:
    """The offset in an ``after`` cursor (0 for none).

    Raises:
        HubSpotError: 400 for a cursor this API did not hand out.
    """
    if not after:
        return 0
    try:
        text = base64.b64decode(after, validate=True).decode().strip()
    except (binascii.Error, UnicodeDecodeError):
        text = ""
    if not text.isdigit():
        raise HubSpotError(400, "VALIDATION_ERROR", f"after={after!r} is not a paging cursor from a previous page")
    return int(text)


def page_link(request: Request, after: str) -> dict[str, Any]:
    """The ``paging`` block pointing at the next page."""
    return {"next": {"after": after, "link": str(request.url.include_query_params(after=after))}}
