"""Reads the resource sync's identity matching needs (research apis-round2 §1 "Skills, users, custom fields").

Matching a worker the sync does not know yet looks for a PSA user by the HR employee id psflow
keeps as an ``Employee`` external reference (``GET /external_references`` filtered by model and
ref), then by email, and must see EVERY match, not the first: two users answering to one email is
a conflict for a person, never a silent pick. A known worker's user is read by id (``only``).
"""

from __future__ import annotations

from collections.abc import Iterable

from canonical import Consultant
from connectors.kantata._base import USER_INCLUDES, KantataBase
from connectors.kantata.models import RawExternalReference

_IDS_PER_READ = 200


class ResourceLookupMethods(KantataBase):
    """Users by HR employee id, by email (all matches) and by id, and the account's skill names."""

    async def users_by_employee_ref(self, employee_id: str) -> list[Consultant]:
        """The users whose ``Employee`` external reference is ``employee_id``, oldest reference first."""
        envelope = await self._references("User", model="Employee", ref=employee_id)
        refs = envelope.primary("external_references", RawExternalReference)
        return await self.users_by_ids(dict.fromkeys(r.subject_id for r in refs if r.subject_id))

    async def users_by_email(self, email: str) -> list[Consultant]:
        """Every user with this email (compared case-insensitively), disabled ones included."""
        params = {"on_my_account": "true", "by_email_address": email.strip(), "include": USER_INCLUDES}
        return await self._consultants(await self._get("/users.json", params))

    async def users_by_ids(self, user_ids: Iterable[str]) -> list[Consultant]:
        """These users as consultants (see `users_page`), in the order Kantata lists them; unknown ids are absent."""
        ids = list(user_ids)
        found: list[Consultant] = []
        for start in range(0, len(ids), _IDS_PER_READ):
            chunk = ids[start : start + _IDS_PER_READ]
            params = {"only": ",".join(chunk), "include": USER_INCLUDES, "per_page": _IDS_PER_READ}
            found += await self._consultants(await self._get("/users.json", params))
        return found

    async def skill_names(self) -> set[str]:
        """The names of the account's skills, read afresh."""
        return set(await self._named("/skills.json", "skills", self._skills, reload=True))
