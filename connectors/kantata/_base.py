"""The connector's foundation: the HTTP client, envelopes, paging, external references, lookups.

The public methods live in mixins (``_projects``, ``_people``, ``_time_expenses``) that share this
base; `KantataConnector` puts them together.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from canonical import Consultant
from connectors._core import (
    BaseConnector,
    BusinessError,
    NotFoundError,
    OAuth2ClientCredentials,
    Page,
    StaticBearerAuth,
    TransientError,
    cursor_to_int,
    page_cursor,
    paginate,
)
from connectors.kantata.errors import parse_error
from connectors.kantata.mapping import consultant_from_user, external_reference, referenced_id
from connectors.kantata.models import (
    Envelope,
    RawAccountMembership,
    RawCustomField,
    RawCustomFieldValue,
    RawExternalReference,
    RawNamed,
    RawUser,
    RawWorkspace,
)
from connectors.kantata.settings import KantataSettings

SYSTEM = "kantata"
USER_INCLUDES = "external_references,skills,custom_field_values,account_memberships"
"""What a users read side-loads for `KantataBase._consultants`."""


def _auth(settings: KantataSettings) -> httpx.Auth:
    if settings.access_token is not None:
        return StaticBearerAuth(settings.access_token)
    return OAuth2ClientCredentials(settings.token_url, settings.client_id, settings.client_secret)


class KantataBase(BaseConnector[KantataSettings]):
    """The client (see `BaseConnector`) and the helpers every group of public methods uses.

    Args:
        settings: Where the API is and how to authenticate.
        transport: The innermost transport (an in-process emulator in tests).
    """

    def __init__(self, settings: KantataSettings, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(SYSTEM, settings, transport=transport, auth=_auth(settings), parse_error=parse_error)
        self._custom_fields: dict[tuple[str, str], str] = {}
        self._roles: dict[str, str] = {}
        self._skills: dict[str, str] = {}
        self._project_ids: dict[str, str] = {}
        self._task_ids: dict[str, str] = {}

    # -- requests ------------------------------------------------------------------------------

    async def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Envelope:
        return Envelope.model_validate(await self.client.get_json(path, params=params))

    async def _post(self, path: str, body: Mapping[str, Any], params: Mapping[str, Any] | None = None) -> Envelope:
        return Envelope.model_validate(await self.client.post_json(path, body, params=params))

    async def _put(self, path: str, body: Mapping[str, Any]) -> Envelope:
        return Envelope.model_validate(await self.client.put_json(path, body))

    async def _workspace(self, workspace_id: str) -> RawWorkspace:
        """One workspace by Kantata id, archived ones included.

        Raises:
            NotFoundError: It does not exist or the token cannot see it.
        """
        envelope = await self._get("/workspaces.json", {"only": workspace_id, "archived": "include"})
        found = envelope.primary("workspaces", RawWorkspace)
        if not found:
            raise NotFoundError(SYSTEM, f"workspace {workspace_id} does not exist or is not visible", status=404)
        return found[0]

    async def _page(self, path: str, params: Mapping[str, Any], cursor: str | None, per_page: int) -> Envelope:
        number = cursor_to_int(cursor, default=1)
        if number < 1:
            raise ValueError(f"Kantata pages start at 1, got cursor {cursor!r}")
        return await self._get(path, {**params, "page": number, "per_page": per_page})

    @staticmethod
    def _next_cursor(envelope: Envelope) -> str | None:
        return page_cursor(envelope.meta.page_number, page_count=envelope.meta.page_count)

    async def _envelopes(self, path: str, params: Mapping[str, Any]) -> AsyncIterator[Envelope]:
        """Every page of a listing, first to last."""

        async def fetch(cursor: str | None) -> Page[Envelope]:
            envelope = await self._page(path, params, cursor, self.settings.page_size)
            return Page([envelope], self._next_cursor(envelope))

        async for envelope in paginate(fetch):
            yield envelope

    # -- external references --------------------------------------------------------------------

    def _reference(self, model: str, ref: str) -> dict[str, str]:
        return external_reference(self.settings.service_name, model, ref)

    async def _references(
        self,
        subject_type: str,
        *,
        model: str | None = None,
        ref: str | None = None,
        subject_id: str | None = None,
        include: str | None = None,
    ) -> Envelope:
        params = {"subject_type": subject_type, "service_name": self.settings.service_name, "order": "created_at:asc"}
        optional = {"service_model": model, "service_model_ref": ref, "subject_id": subject_id, "include": include}
        return await self._get("/external_references.json", {**params, **{k: v for k, v in optional.items() if v}})

    async def _find_subject(self, subject_type: str, model: str, ref: str) -> tuple[str | None, Envelope]:
        """The oldest object of a type referencing ``ref`` (and the response, which side-loads it)."""
        envelope = await self._references(subject_type, model=model, ref=ref, include="subject")
        found = envelope.primary("external_references", RawExternalReference)
        return (found[0].subject_id if found else None), envelope

    async def _reference_of(self, subject_type: str, subject_id: str, model: str) -> str | None:
        """The canonical id an object's psflow external reference holds, if any."""
        envelope = await self._references(subject_type, subject_id=subject_id)
        refs = envelope.primary("external_references", RawExternalReference)
        return next((r.service_model_ref for r in refs if r.service_model == model), None)

    def _referenced(self, envelope: Envelope, reference_ids: list[str], model: str) -> str | None:
        """The canonical id among an object's side-loaded external references, if psflow wrote one."""
        refs = envelope.side_loaded("external_references", RawExternalReference)
        own = (refs[i] for i in reference_ids if i in refs)
        return referenced_id(own, service_name=self.settings.service_name, model=model)

    @staticmethod
    def _field_value(envelope: Envelope, value_ids: list[str], field_id: str | None) -> str | None:
        """An object's side-loaded value of one custom field."""
        values = envelope.side_loaded("custom_field_values", RawCustomFieldValue)
        for value_id in value_ids:
            value = values.get(value_id)
            if value is not None and value.custom_field_id == field_id and value.value is not None:
                return str(value.value)
        return None

    async def _set_reference(self, subject_type: str, subject_id: str, model: str, ref: str) -> None:
        payload = {"subject_type": subject_type, "subject_id": subject_id, **self._reference(model, ref)}
        await self._post("/external_references/create_or_update.json", {"external_reference": payload})

    async def _create_once(self, subject_type: str, model: str, ref: str, path: str, body: Mapping[str, Any]) -> str:
        """Create an object that references ``ref``, unless a create already went through.

        Kantata has no idempotency key. When the create's answer is lost (timeout, dropped
        connection, 5xx after commit) the reference is looked up once more before giving up, so
        a create that did happen is found instead of repeated.
        """
        try:
            envelope = await self._post(path, body)
        except TransientError:
            found, _ = await self._find_subject(subject_type, model, ref)
            if found is None:
                raise
            return found
        return envelope.results[0].id

    # -- custom fields and roles -----------------------------------------------------------------

    async def _custom_field_id(self, name: str, subject_type: str, *, create: bool) -> str | None:
        key = (subject_type, name)
        if key not in self._custom_fields:
            async for envelope in self._envelopes("/custom_fields.json", {"subject_types": subject_type}):
                for field in envelope.primary("custom_fields", RawCustomField):
                    self._custom_fields[(field.subject_type or subject_type, field.name)] = field.id
        if key not in self._custom_fields and create:
            body = {"custom_field": {"name": name, "subject_type": subject_type, "type": "string"}}
            self._custom_fields[key] = (await self._post("/custom_fields.json", body)).results[0].id
        return self._custom_fields.get(key)

    async def _custom_values(self, subject_type: str, subject_id: str) -> list[RawCustomFieldValue]:
        params = {"subject_type": subject_type, "with_subject_id": subject_id}
        return (await self._get("/custom_field_values.json", params)).primary(
            "custom_field_values", RawCustomFieldValue
        )

    async def _ensure_custom_value(self, subject_type: str, subject_id: str, field: str, value: str | None) -> None:
        """Make the object's custom field hold ``value`` (None leaves an unset field unset)."""
        field_id = await self._custom_field_id(field, subject_type, create=value is not None)
        if field_id is None:
            return
        values = await self._custom_values(subject_type, subject_id)
        existing = next((v for v in values if v.custom_field_id == field_id), None)
        if existing is None and value is not None:
            await self._post_custom_value(subject_type, subject_id, field_id, value)
        elif existing is not None and existing.value != value:
            await self._put(f"/custom_field_values/{existing.id}.json", {"custom_field_value": {"value": value}})

    async def _add_custom_value(self, subject_type: str, subject_id: str, field: str, value: str) -> None:
        """Give an object the caller knows to hold no value of the field yet (it has just created it) one."""
        field_id = await self._custom_field_id(field, subject_type, create=True)
        assert field_id is not None  # created when missing
        await self._post_custom_value(subject_type, subject_id, field_id, value)

    async def _post_custom_value(self, subject_type: str, subject_id: str, field_id: str, value: str) -> None:
        body = {"subject_type": subject_type, "subject_id": subject_id, "custom_field_id": field_id, "value": value}
        await self._post("/custom_field_values.json", {"custom_field_value": body})

    async def _named(self, path: str, key: str, cache: dict[str, str], *, reload: bool = False) -> dict[str, str]:
        """Name → id of every account object at ``path`` (roles, skills), read once per connector."""
        if not cache or reload:
            async for envelope in self._envelopes(path, {}):
                cache.update({r.name: r.id for r in envelope.primary(key, RawNamed) if r.name})
        return cache

    async def _create_named(self, path: str, key: str, singular: str, name: str, cache: dict[str, str]) -> str:
        """Create an account object by name; if another process just did, use that one."""
        try:
            return (await self._post(path, {singular: {"name": name}})).results[0].id
        except BusinessError:
            found = (await self._named(path, key, cache, reload=True)).get(name)
            if found is None:
                raise
            return found

    async def _consultants(self, envelope: Envelope) -> list[Consultant]:
        """The envelope's users (read with `USER_INCLUDES`) as consultants: Employee reference, role, cost
        centre, skills, and ``active`` False once a membership is disabled."""
        field_id = await self._custom_field_id(self.settings.cost_centre_field, "User", create=False)
        roles = await self._role_names()
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

    async def _role_names(self) -> dict[str, str]:
        """Account roles, id → name."""
        return {id_: name for name, id_ in (await self._named("/roles.json", "roles", self._roles)).items()}

    async def _role_id(self, name: str) -> str:
        """The id of the account role called ``name``, created when the account has none."""
        roles = await self._named("/roles.json", "roles", self._roles)
        if name not in roles:
            roles[name] = await self._create_named("/roles.json", "roles", "role", name, roles)
        return roles[name]
