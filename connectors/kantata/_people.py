"""Users: what resource sync reads and writes (HR is the source of truth, matched by email)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from canonical import Consultant
from connectors._core import TransientError
from connectors.kantata._base import KantataBase
from connectors.kantata.mapping import consultant_from_user, user_payload
from connectors.kantata.models import Envelope, RawNamed, RawSkillMembership, RawUser

_LIST_INCLUDES = "external_references,skills,custom_field_values"
_UPSERT_INCLUDES = "external_references,skill_memberships"


class PeopleMethods(KantataBase):
    """Users, their cost centre (a custom field), skills and account role."""

    async def list_users(self) -> list[Consultant]:
        """Every active user on the account as a consultant (id: email address), all pages."""
        field_id = await self._custom_field_id(self.settings.cost_centre_field, "User", create=False)
        roles = await self._role_names()
        consultants: list[Consultant] = []
        params = {"on_my_account": "true", "include": _LIST_INCLUDES}
        async for envelope in self._envelopes("/users.json", params):
            skills = envelope.side_loaded("skills", RawNamed)
            for user in envelope.primary("users", RawUser):
                consultants.append(
                    consultant_from_user(
                        user,
                        employee_id=self._referenced(envelope, user.external_reference_ids, "Employee"),
                        role=roles.get(user.role_id) if user.role_id else None,
                        cost_centre=self._field_value(envelope, user.custom_field_value_ids, field_id),
                        skills=[skills[s].name or "" for s in user.skill_ids if s in skills and skills[s].name],
                    )
                )
        return consultants

    async def upsert_user(self, consultant: Consultant) -> str:
        """Create or update the consultant's user, matched by email; return the user id.

        Writes the name, email, title (``headline``) and account role, the employee id (as an
        external reference), the cost centre (custom field) and the skills (adding and removing
        skill memberships so they match HR).
        """
        role_id = await self._role_id(consultant.role) if consultant.role else None
        payload = user_payload(consultant, role_id=role_id)
        envelope = await self._user_by_email(consultant.email, include=_UPSERT_INCLUDES)
        users = envelope.primary("users", RawUser)
        memberships: dict[str, RawSkillMembership] = {}
        if not users:
            reference = self._reference("Employee", consultant.employee_id)
            user_id = await self._create_user(consultant.email, {"user": {**payload, "external_reference": reference}})
        else:
            user = users[0]
            user_id = user.id
            changes = {
                name: value
                for name, value in payload.items()
                if str(getattr(user, name, None) or "").lower() != str(value or "").lower()
            }
            if changes:
                await self._put(f"/users/{user_id}.json", {"user": changes})
            if self._referenced(envelope, user.external_reference_ids, "Employee") != consultant.employee_id:
                await self._set_reference("User", user_id, "Employee", consultant.employee_id)
            found = envelope.side_loaded("skill_memberships", RawSkillMembership).values()
            memberships = {m.skill_id: m for m in found if m.user_id == user_id}
        await self._ensure_custom_value("User", user_id, self.settings.cost_centre_field, consultant.cost_centre)
        await self._sync_skills(user_id, consultant.skills, memberships)
        return user_id

    async def _user_by_email(self, email: str, *, include: str | None = None) -> Envelope:
        params = {"on_my_account": "true", "by_email_address": email}
        return await self._get("/users.json", {**params, "include": include} if include else params)

    async def _create_user(self, email: str, body: Mapping[str, object]) -> str:
        # Users have no idempotency key either: after a lost answer, the email tells.
        try:
            return (await self._post("/users.json", body)).results[0].id
        except TransientError:
            found = (await self._user_by_email(email)).primary("users", RawUser)
            if not found:
                raise
            return found[0].id

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
