"""Users: what resource sync reads and writes (HR is the source of truth, matched by email).

Research note apis-round2 §1 ("Skills, users, custom fields"): Kantata has no user-create
endpoint. A user comes to exist only through ``POST /account_invitations`` (its own rate limit,
at most 50 a request), and a leaver's ``account_membership`` is disabled
(``PUT /account_memberships/{id}/disable``), never deleted, so their history stays.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypeVar

from canonical import Consultant
from connectors._core import BusinessError, Page, TransientError
from connectors.kantata._base import SYSTEM, USER_INCLUDES
from connectors.kantata._profile import ProfileMethods
from connectors.kantata.mapping import user_payload
from connectors.kantata.models import Envelope, RawAccountMembership, RawSkillMembership, RawUser

INVITATIONS_PER_REQUEST = 50
"""Kantata's bulk limit for ``POST /account_invitations``."""
_EMAILS_PER_LOOKUP = 200
T = TypeVar("T")


def _chunks(items: Iterable[T], size: int) -> list[list[T]]:
    listed = list(items)
    return [listed[start : start + size] for start in range(0, len(listed), size)]


_UPSERT_INCLUDES = "external_references,skill_memberships"


class PeopleMethods(ProfileMethods):
    """Users: invited, read (active or disabled), updated from HR, disabled when they leave."""

    async def users_page(self, cursor: str | None = None) -> Page[Consultant]:
        """One page of the account's users as consultants (id: the email), disabled ones included.

        Each carries its email, the HR employee id when psflow wrote one (an ``Employee``
        external reference; Kantata keeps no HR id of its own), its title, role, cost centre,
        skills, and ``active`` False once its membership is disabled.
        """
        params = {"on_my_account": "true", "include": USER_INCLUDES}
        envelope = await self._page("/users.json", params, cursor, self.settings.page_size)
        consultants = await self._consultants(envelope)
        return Page(consultants, self._next_cursor(envelope))

    async def list_users(self) -> list[Consultant]:
        """Every user on the account as a consultant (see `users_page`), all pages."""
        consultants: list[Consultant] = []
        cursor: str | None = None
        while True:
            page = await self.users_page(cursor)
            consultants += page.items
            if page.next_cursor is None:
                return consultants
            cursor = page.next_cursor

    async def invite_user(self, consultant: Consultant) -> str:
        """The consultant's user id, inviting them to the account when no user has their email.

        Idempotent by email (compared case-insensitively): an existing user, active or disabled,
        is returned and never invited a second time. An invitation whose answer was lost (or
        that another process sent first) is found by email afterwards. The new user carries the
        HR employee id as an ``Employee`` external reference.
        """
        existing = await self._user_id_by_email(consultant.email)
        if existing is not None:
            return existing
        invitation: dict[str, object] = {"email_address": consultant.email, "full_name": consultant.name}
        if consultant.role:
            invitation["default_role_id"] = await self._role_id(consultant.role)
        try:
            await self._post("/account_invitations.json", {"account_invitation": invitation})
        except (TransientError, BusinessError):
            if await self._user_id_by_email(consultant.email) is None:
                raise
        user_id = await self._user_id_by_email(consultant.email)
        if user_id is None:
            raise TransientError(SYSTEM, f"the invitation of {consultant.email} has no user yet")
        await self._set_reference("User", user_id, "Employee", consultant.employee_id)
        return user_id

    async def invite_users(self, consultants: Sequence[Consultant]) -> dict[str, str]:
        """`invite_user` for many: lower-cased email → user id, inviting 50 a request.

        Users already on the account (looked up 200 emails a request) are not invited again. A
        bulk invitation is all or nothing in Kantata; when one fails (a lost answer, or an email
        another process invited meanwhile) its consultants are invited one by one instead.
        """
        wanted = {c.email.lower(): c for c in consultants}
        found = await self._user_ids_by_emails(wanted)
        missing = [c for email, c in wanted.items() if email not in found]
        for chunk in _chunks(missing, INVITATIONS_PER_REQUEST):
            body = {"account_invitations": [{"email_address": c.email, "full_name": c.name} for c in chunk]}
            try:
                await self._post("/account_invitations.json", body)
            except (TransientError, BusinessError):
                found |= {c.email.lower(): await self.invite_user(c) for c in chunk}
                continue
            invited = await self._user_ids_by_emails(c.email.lower() for c in chunk)
            for consultant in chunk:
                user_id = invited[consultant.email.lower()]
                await self._set_reference("User", user_id, "Employee", consultant.employee_id)
                found[consultant.email.lower()] = user_id
        return found

    async def disable_user(self, user_id: str) -> None:
        """Disable the user's account membership (a leaver); a disabled one is left as it is.

        Nothing is deleted: the user, their time, expenses and time off stay for reporting.
        """
        envelope = await self._get("/account_memberships.json", {"user_id": user_id})
        for membership in envelope.primary("account_memberships", RawAccountMembership):
            if not membership.disabled:
                await self._put(f"/account_memberships/{membership.id}/disable.json", {})

    async def upsert_user(self, consultant: Consultant, *, cost_centre_set: bool = False) -> str:
        """Invite or update the consultant's user, matched by email; return the user id.

        Writes the name, email, title (``headline``) and account role, the employee id (as an
        external reference), the cost centre (custom field; not read nor written when
        ``cost_centre_set``: the caller already wrote it, e.g. with `set_cost_centres`) and the
        skills (adding and removing skill memberships so they match HR). A missing user is invited
        (`invite_user`), never created directly.
        """
        role_id = await self._role_id(consultant.role) if consultant.role else None
        payload = user_payload(consultant, role_id=role_id)
        envelope = await self._user_by_email(consultant.email, include=_UPSERT_INCLUDES)
        users = envelope.primary("users", RawUser)
        if not users:
            await self.invite_user(consultant)
            envelope = await self._user_by_email(consultant.email, include=_UPSERT_INCLUDES)
            users = envelope.primary("users", RawUser)
        user = users[0]
        changes = {
            name: value
            for name, value in payload.items()
            if str(getattr(user, name, None) or "").lower() != str(value or "").lower()
        }
        if changes:
            await self._put(f"/users/{user.id}.json", {"user": changes})
        if self._referenced(envelope, user.external_reference_ids, "Employee") != consultant.employee_id:
            await self._set_reference("User", user.id, "Employee", consultant.employee_id)
        found = envelope.side_loaded("skill_memberships", RawSkillMembership).values()
        memberships = {m.skill_id: m for m in found if m.user_id == user.id}
        if not cost_centre_set:
            await self._ensure_custom_value("User", user.id, self.settings.cost_centre_field, consultant.cost_centre)
        await self._sync_skills(user.id, consultant.skills, memberships)
        return user.id

    async def _user_by_email(self, email: str, *, include: str | None = None) -> Envelope:
        params = {"on_my_account": "true", "by_email_address": email}
        return await self._get("/users.json", {**params, "include": include} if include else params)

    async def _user_ids_by_emails(self, emails: Iterable[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for chunk in _chunks(emails, _EMAILS_PER_LOOKUP):
            params = {"on_my_account": "true", "by_email_addresses": ",".join(chunk), "per_page": _EMAILS_PER_LOOKUP}
            for user in (await self._get("/users.json", params)).primary("users", RawUser):
                found[user.email_address.strip().lower()] = user.id
        return found

    async def _user_id_by_email(self, email: str) -> str | None:
        found = (await self._user_by_email(email)).primary("users", RawUser)
        return found[0].id if found else None
