"""Salesforce record ids: a key prefix per sObject, then a counter, then the case-safe checksum.

Ids are 18 characters (``0068d00000000AbAAA``); the 15-character case-sensitive form is
accepted anywhere an id is, as in Salesforce.
"""

from __future__ import annotations

import string

from sandbox._db import SandboxDB
from sandbox.systems.salesforce._schema import NAME, SObject

__all__ = ["id18", "new_id", "normalise_id"]

_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_SUFFIX = string.ascii_uppercase + "012345"
_POD = "8d"


def id18(id15: str) -> str:
    """Append the case-safe checksum Salesforce adds to a 15-character id."""
    suffix = ""
    for start in (0, 5, 10):
        bits = sum(1 << i for i, ch in enumerate(id15[start : start + 5]) if ch.isupper())
        suffix += _SUFFIX[bits]
    return id15 + suffix


def normalise_id(value: str) -> str | None:
    """The 18-character form of a 15- or 18-character id, or None when ``value`` is no id."""
    if not value.isascii() or not value.isalnum() or len(value) not in (15, 18):
        return None
    full = id18(value[:15])
    if len(value) == 18 and value[15:].upper() != full[15:]:
        return None
    return full


def new_id(db: SandboxDB, sobject: SObject) -> str:
    """The next id of an sObject type: key prefix, pod, a base-62 counter and the checksum."""
    number = db.kv_incr(NAME, f"seq:{sobject.name}")
    digits = ""
    while number:
        number, rest = divmod(number, 62)
        digits = _BASE62[rest] + digits
    return id18(f"{sobject.prefix}{_POD}{digits.rjust(10, '0')}")
