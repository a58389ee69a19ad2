"""Reads the resource sync's identity matching needs (research apis-round2 §1 "Skills, users, custom fields").

Matching a worker the sync does not know yet looks for a PSA user by the HR employee id psflow
keeps as an ``Employee`` external reference (``GET /external_references`` filtered by model and
ref), then by email, and must see EVERY match, not the first: two users answering to one email is
a conflict for a person, never a silent pick. A known worker's user is read by id (``only``).
"""

from __future__ import annotations

from collections.abc import Iterable

from canonical import Consultant
from connectors.kantata._base import KantataBase
from connectors.kantata.mapping import consultant_from_user
from connectors.kantata.models import Envelope, RawAccountMembership, RawExternalReference, RawNamed, RawUser

_INCLUDES = "external_references,skills,custom_field_values,account_memberships"
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
        params = {"on_my_account": "true", "by_email_address": email.strip(), "include": _INCLUDES}
        return await self._consultants(await self._get("/users.json", params))

    async def users_by_ids(self, user_ids: Iterable[str]) -> list[Consultant]:
        """These users as consultants (see `users_page`), in the order Kantata lists them; unknown ids are absent."""
        ids = list(user_ids)
        found: list[Consultant] = []
        for start in range(0, len(ids), _IDS_PER_READ):
            chunk = ids[start : start + _IDS_PER_READ]
            params = {"only": ",".join(chunk), "include": _INCLUDES, "per_page": _IDS_PER_READ}
            found += await self._consultants(await self._get("/users.json", params))
        return found

    async def skill_names(self) -> set[str]:
        """The names of the account's skills, read afresh."""
        return set(await self._named("/skills.json", "skills", self._skills, reload=True))

    async def _consultants(self, envelope: Envelope) -> list[Consultant]:
        field_id = await self._custom_field_id(self.settings.cost_centre_field, "User", create=False)
        roles = {id_: name for name, id_ in (await self._named("/roles.json", "roles", self._roles)).items()}
        skills = envelope.side_loaded("skills", RawNamed)
        memberships = envelope.side_loaded("account_memberships", RawAccountMembership)
        return [
            consultant_from_user(
                user,
                employee_id=self._referenced(envelope, user.external_reference_ids, "Employee"),
                role=roles.get(user.role_id) if user.role_id else None,
                cost_centre=self._field_value(envelope, user.custom_field_value_ids, field_id),
                skills=[skills[s].name or "" for s in user.skill_ids if s in skills and skills[s].name],
                active=not any(memberships[m].disabled for m in user.account_membership_ids if m in memberships),
            )
            for user in envelope.primary("users", RawUser)
        ]
