"""What a CRM opportunity (deal) id looks like, checked once for every way a deal enters psflow.

An opportunity id becomes part of a workflow id (``engagement-provisioning:{crm}:{id}``), so the
gateway, the CLI and the trigger all pass it through `opportunity_id` first: a value that is not an
id of that CRM is refused before anything starts, and the spellings of one record converge on one
form (and so on one run).

- Salesforce: 15 case-sensitive or 18 case-safe alphanumeric characters with the Opportunity key
  prefix ``006``. The canonical form is the 18-character one, the form the API and change events
  use; the last three characters encode which of the first fifteen are upper case, so an 18-character
  id typed in the wrong case is restored and one whose suffix does not fit is refused.
- HubSpot: a positive integer (a 64-bit long), in ASCII digits without leading zeros.
"""

from __future__ import annotations

import re
import string
from typing import Literal

__all__ = ["HUBSPOT_MAX_ID", "InvalidRecordId", "opportunity_id"]

Crm = Literal["salesforce", "hubspot"]

HUBSPOT_MAX_ID = 2**63 - 1
"""HubSpot object ids are Java longs."""

_SALESFORCE_ID = re.compile(r"[0-9A-Za-z]{15}(?:[0-9A-Za-z]{3})?")
_HUBSPOT_ID = re.compile(r"[1-9][0-9]{0,18}")
_OPPORTUNITY_PREFIX = "006"
_SUFFIX = string.ascii_uppercase + "012345"
_SHOWN = 40


class InvalidRecordId(ValueError):
    """A value that is not an opportunity id of its CRM.

    Attributes:
        crm: The CRM the id was meant for.
        value: The offending value, as given.
        reason: What an id of that CRM looks like, without the value (safe to log and to answer senders).
    """

    def __init__(self, crm: str, value: str, reason: str) -> None:
        self.crm = crm
        self.value = value
        self.reason = reason
        super().__init__(f"{crm} opportunity id {_shown(value)} is not valid: {reason}")


def _shown(value: str) -> str:
    if len(value) <= _SHOWN:
        return repr(value)
    return f"{value[:_SHOWN]!r}… ({len(value)} characters)"


def _checksum(id15: str) -> str:
    return "".join(
        _SUFFIX[sum(1 << i for i, char in enumerate(id15[start : start + 5]) if char.isupper())] for start in (0, 5, 10)
    )


def _salesforce(value: str) -> str:
    if not _SALESFORCE_ID.fullmatch(value):
        raise InvalidRecordId(
            "salesforce", value, "a Salesforce id is 15 or 18 letters and digits (e.g. 0068d00000000AbAAA)"
        )
    if len(value) == 15:
        head = value
    else:
        suffix = value[15:].upper()
        if any(char not in _SUFFIX for char in suffix):
            raise InvalidRecordId("salesforce", value, "its last 3 characters are not a Salesforce id checksum")
        cased = []
        for start, code in zip((0, 5, 10), suffix, strict=True):
            bits = _SUFFIX.index(code)
            for i, char in enumerate(value[start : start + 5]):
                upper = bool(bits >> i & 1)
                if upper and not char.isalpha():
                    raise InvalidRecordId(
                        "salesforce", value, "its last 3 characters do not match the first 15 (checksum)"
                    )
                cased.append(char.upper() if upper else char.lower())
        head = "".join(cased)
    if not head.startswith(_OPPORTUNITY_PREFIX):
        raise InvalidRecordId(
            "salesforce", value, f"an Opportunity id starts with {_OPPORTUNITY_PREFIX} (is it another record's id?)"
        )
    return head + _checksum(head)


def _hubspot(value: str) -> str:
    if not _HUBSPOT_ID.fullmatch(value) or int(value) > HUBSPOT_MAX_ID:
        raise InvalidRecordId(
            "hubspot", value, "a HubSpot deal id is a positive whole number of at most 19 digits (e.g. 8123)"
        )
    return value


def opportunity_id(crm: Crm, value: str) -> str:
    """The canonical form of an opportunity (deal) id of ``crm``.

    Args:
        crm: ``"salesforce"`` or ``"hubspot"``.
        value: The id as received, exactly: surrounding spaces are not trimmed.

    Returns:
        Salesforce: the 18-character id (a 15-character one gains its checksum, an 18-character one
        its case). HubSpot: the value itself.

    Raises:
        InvalidRecordId: ``value`` is not an opportunity id of ``crm``, or ``crm`` is not a CRM.
    """
    if crm == "salesforce":
        return _salesforce(value)
    if crm == "hubspot":
        return _hubspot(value)
    raise InvalidRecordId(crm, value, "the CRM is salesforce or hubspot")
