"""A user's skills and cost centre (research apis-round2 §1 "Skills, users, custom fields").

- ``POST /skills {name, max_level (1 or 5)}``: at most 5,000 an account; `ensure_skill` creates
  a missing one with ``max_level`` 5.
- ``POST /skill_memberships {skill_id, user_id, level 1 to 5}``; a PUT changes only ``level``.
- The cost centre is a ``User`` custom field: ``POST /custom_field_values`` upserts (the value is
  replaced and gets a new id), so `set_cost_centre` never reads first; `set_cost_centres` sends up
  to 100 values a request (research note apis-round2 §1, "Skills, users, custom fields").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from connectors.kantata._base import KantataBase
from connectors.kantata.models import RawSkillMembership

CUSTOM_VALUES_PER_REQUEST = 100
"""Kantata's bulk limit for ``POST /custom_field_values``."""


class ProfileMethods(KantataBase):
    """Skills, skill levels and the cost centre of users."""

    async def ensure_skill(self, name: str) -> str:
        """The id of the account skill called ``name``, created (max level 5) when missing."""
        return (await self._skill_ids([name]))[name]

    async def set_skill(self, user_id: str, skill_id: str, level: int) -> str:
        """Give the user the skill at ``level`` (1 up to the skill's max level); the membership id.

        An existing membership only has its level changed (the one field Kantata's PUT changes).
        """
        found = await self._get("/skill_memberships.json", {"user_id": user_id, "skill_id": skill_id})
        memberships = found.primary("skill_memberships", RawSkillMembership)
        if memberships:
            if memberships[0].level != level:
                await self._put(f"/skill_memberships/{memberships[0].id}.json", {"skill_membership": {"level": level}})
            return memberships[0].id
        body = {"skill_membership": {"user_id": user_id, "skill_id": skill_id, "level": level}}
        return (await self._post("/skill_memberships.json", body)).results[0].id

    async def set_cost_centre(self, user_id: str, value: str) -> None:
        """Make the user's cost-centre custom field hold ``value`` (one upserting POST)."""
        field_id = await self._custom_field_id(self.settings.cost_centre_field, "User", create=True)
        assert field_id is not None  # created when missing
        await self._post_custom_value("User", user_id, field_id, value)

    async def set_cost_centres(self, values: Mapping[str, str]) -> None:
        """`set_cost_centre` for many users (user id → value): upserting POSTs of 100 values each.

        Kantata's bulk write is all or nothing: a refused request raises, and none of its values is set.
        """
        field_id = await self._custom_field_id(self.settings.cost_centre_field, "User", create=True)
        assert field_id is not None  # created when missing
        listed = list(values.items())
        for start in range(0, len(listed), CUSTOM_VALUES_PER_REQUEST):
            chunk = listed[start : start + CUSTOM_VALUES_PER_REQUEST]
            body = [
                {"subject_type": "User", "subject_id": user_id, "custom_field_id": field_id, "value": value}
                for user_id, value in chunk
            ]
            await self._post("/custom_field_values.json", {"custom_field_values": body})

    async def _skill_ids(self, names: Iterable[str]) -> dict[str, str]:
        """Skill name → id for ``names``, creating the account skills that are missing."""
        known = await self._named("/skills.json", "skills", self._skills)
        for name in names:
            if name not in known:
                known[name] = await self._create_named("/skills.json", "skills", "skill", name, known)
        return {name: known[name] for name in names}

    async def _sync_skills(
        self, user_id: str, skills: Iterable[str], memberships: Mapping[str, RawSkillMembership]
    ) -> None:
        wanted = set((await self._skill_ids(skills)).values())
        for skill_id in sorted(wanted - memberships.keys()):
            await self._post(
                "/skill_memberships.json", {"skill_membership": {"user_id": user_id, "skill_id": skill_id}}
            )
        for skill_id, membership in sorted(memberships.items()):
            if skill_id not in wanted:
                await self.client.delete(f"/skill_memberships/{membership.id}.json", allow={404})
