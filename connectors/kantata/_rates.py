"""Effective-dated bill rates: a project's rate card set versions as a `RateSchedule`, and rate amendments.

Research note apis-round2 §1 ("Rate card model", "Set versions", "How a time entry gets its rate")
and §7.1. A workspace points at one rate card; the card's set holds versions, each effective from
its date, with the role rates in force until the next. A published version in force can never
change, so a rate change is a new version: cloned from the one in force on its date, with the
changed roles' rates written, then published.

Rate card sets are account objects that many projects share (the demo firm has one card per
currency for every project). A contract amendment must change its own project's rates only, so
the first rate amendment of a workspace gives it a set and card of its own, cloned with every
published version of the shared card, and points the workspace at it; the shared set is never
written. The workspace's set carries an external reference (``WorkspaceRates`` → workspace id),
so a retry after a crash finds it instead of making another.

Every step can be retried: a set found by its reference is completed, not recreated; a version
left unpublished by a crash is filled in and published; a published version on the requested
date is the answer when it has the requested rates and a non-retryable error when it has others.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from pydantic import Field

from canonical import RateSchedule, RateVersion, RoleRate
from connectors._core import BusinessError, NotFoundError
from connectors.kantata._base import SYSTEM, KantataBase
from connectors.kantata._units import cents_from_money, money_from_cents
from connectors.kantata.models import Envelope, Id, Ids, RawRecord, RawWorkspace

_OWN_SET_MODEL = "WorkspaceRates"
"""The external reference model of a workspace's own rate card set (ref: the workspace id)."""
_VERSIONS = "/rate_card_versions.json"


class RawRateCard(RawRecord):
    """A rate card: one currency of a set."""

    title: str | None = None
    currency: str
    rate_card_set_id: Id | None = None


class RawSetVersion(RawRecord):
    """A rate card set version: its date, and whether it is published (``active``)."""

    effective_date: date
    active: bool = False
    rate_card_set_id: Id | None = None


class RawCardVersion(RawRecord):
    """A card's version inside a set version (foreign keys as included)."""

    default_rate: int = 0
    rate_card_set_version_id: Id | None = None
    rate_card_role_ids: Ids = Field(default_factory=list)


class RawRole(RawRecord):
    """A role's rate in one card version, in cents per hour."""

    role_id: Id
    rate: int


class _Version:
    """One set version of a card as read: its card version and role id → cents."""

    def __init__(self, set_version: RawSetVersion, card_version: RawCardVersion, rates: dict[str, int]) -> None:
        self.set_version = set_version
        self.card_version = card_version
        self.rates = rates

    @property
    def id(self) -> str:
        return self.set_version.id

    @property
    def day(self) -> date:
        return self.set_version.effective_date


class RateMethods(KantataBase):
    """Rate card set versions: reading a workspace's schedule, adding an amendment's version."""

    async def rate_schedule(self, workspace_id: str) -> RateSchedule | None:
        """The workspace's bill rates by effective date, or None when it has no card with role rates.

        Only published versions count. A version's ``default_rate`` (what roles without a rate of
        their own get) is not part of the schedule: posting falls back to the entry's own rate there.

        Raises:
            NotFoundError: No such workspace.
        """
        workspace = await self._workspace(workspace_id)
        if workspace.rate_card_id is None or workspace.currency is None:
            return None
        names = await self._role_names()
        versions = []
        for version in await self._card_versions(workspace.rate_card_id):
            if not version.set_version.active:
                continue
            if any(role_id not in names for role_id in version.rates):
                names = {
                    id_: n for n, id_ in (await self._named("/roles.json", "roles", self._roles, reload=True)).items()
                }
            rates = tuple(
                RoleRate(role=names[role_id], hourly_rate=money_from_cents(cents, workspace.currency))
                for role_id, cents in sorted(version.rates.items())
                if cents > 0 and role_id in names
            )
            if rates:
                versions.append(RateVersion(effective_date=version.day, rates=rates))
        return RateSchedule(currency=workspace.currency, versions=tuple(versions)) if versions else None

    async def workspace_of(self, project_id: str) -> str | None:
        """The workspace of a project known by its canonical id, or None.

        Found without a request when this connector has read the project's time (the listing
        resolves workspace ids to project ids), else by its external reference, else from a
        ``kantata:<id>`` project id.
        """
        workspace_id = next((w for w, p in self._project_ids.items() if p == project_id), None)
        if workspace_id is None:
            workspace_id, _ = await self._find_subject("Workspace", "Project", project_id)
        if workspace_id is None and project_id.startswith(f"{SYSTEM}:"):
            workspace_id = project_id.removeprefix(f"{SYSTEM}:")
        return workspace_id

    async def project_rate_schedule(self, project_id: str) -> RateSchedule | None:
        """`rate_schedule` of a project known by its canonical id (None when no workspace has it)."""
        workspace_id = await self.workspace_of(project_id)
        if workspace_id is None:
            return None
        try:
            return await self.rate_schedule(workspace_id)
        except NotFoundError:
            return None

    async def add_rate_version(self, workspace_id: str, effective_date: date, rates: Sequence[RoleRate]) -> str:
        """Publish the workspace's rates from ``effective_date``: a set version cloned from the one in force.

        The roles named get these rates (roles the card lacks are added, account roles created when
        missing); every other role keeps its rate. The first amendment gives the workspace a card of
        its own (see the module note), so no other project's rates change.

        Returns:
            The id of the published set version.

        Raises:
            NotFoundError: No such workspace.
            BusinessError: A rate is not in the workspace's currency, or a published version on that
                date has other rates for these roles (not retryable: the amendment conflicts with it).
        """
        if not rates:
            raise ValueError("a rate version needs at least one role rate")
        workspace = await self._workspace(workspace_id)
        currency = workspace.currency or rates[0].hourly_rate.currency
        wrong = [r for r in rates if r.hourly_rate.currency != currency]
        if wrong:
            raise BusinessError(
                SYSTEM,
                f"workspace {workspace_id} bills in {currency}; the rate for {wrong[0].role!r} is in "
                f"{wrong[0].hourly_rate.currency}: rates must be in the project's currency",
                code="rate_currency",
            )
        wanted = {await self._role_id(rate.role): cents_from_money(rate.hourly_rate) for rate in rates}
        card_id = await self._own_card(workspace, currency)
        versions = await self._card_versions(card_id)
        same_day = next((v for v in versions if v.day == effective_date), None)
        if same_day is not None and same_day.set_version.active:
            differing = {role: cents for role, cents in wanted.items() if same_day.rates.get(role) != cents}
            if differing:
                raise BusinessError(
                    SYSTEM,
                    f"workspace {workspace_id} already has rates published from {effective_date} (rate card set "
                    f"version {same_day.id}) that differ for roles {sorted(differing)}: a published version cannot "
                    "change; amend from another date",
                    code="rate_version_conflict",
                )
            return same_day.id
        if same_day is None:
            published = [v for v in versions if v.set_version.active]
            base = _in_force(published, effective_date)
            same_day = await self._new_version(card_id, effective_date, clone=base.id if base else None)
        await self._write_rates(same_day, wanted, currency)
        await self.client.request("PUT", f"/rate_card_set_versions/{same_day.id}/publish.json")
        return same_day.id

    # -- reading -----------------------------------------------------------------------------------

    async def _card_versions(self, card_id: str) -> list[_Version]:
        """Every version of a card with its set version and role rates, by effective date."""
        params = {"rate_card_id": card_id, "include": "rate_card_set_version,rate_card_roles", "per_page": 200}
        versions: list[_Version] = []
        async for envelope in self._envelopes(_VERSIONS, params):
            versions += _versions(envelope)
        return sorted(versions, key=lambda v: v.day)

    # -- the workspace's own card ------------------------------------------------------------------

    async def _own_card(self, workspace: RawWorkspace, currency: str) -> str:
        """The workspace's own card, made (cloned from its shared card, versions included) when missing."""
        set_id, _ = await self._find_subject("RateCardSet", _OWN_SET_MODEL, workspace.id)
        if set_id is not None:
            own = await self._card_of_set(set_id, currency)
            if own is not None and own == workspace.rate_card_id:
                return own
        else:
            body = {
                "title": f"{workspace.title} (contract rates)",
                "external_reference": self._reference(_OWN_SET_MODEL, workspace.id),
            }
            set_id = await self._create_once(
                "RateCardSet", _OWN_SET_MODEL, workspace.id, "/rate_card_sets.json", {"rate_card_set": body}
            )
            own = None
        if own is None:
            card = {"title": f"{workspace.title} {currency}", "currency": currency, "rate_card_set_id": set_id}
            own = (await self._post("/rate_cards.json", {"rate_card": card})).results[0].id
        if workspace.rate_card_id is not None:
            await self._copy_versions(workspace.rate_card_id, own, currency)
        await self._put(f"/workspaces/{workspace.id}.json", {"workspace": {"rate_card_id": own}})
        return own

    async def _card_of_set(self, set_id: str, currency: str) -> str | None:
        envelope = await self._get("/rate_cards.json", {"rate_card_set_id": set_id, "per_page": 200})
        return next((c.id for c in envelope.primary("rate_cards", RawRateCard) if c.currency == currency), None)

    async def _copy_versions(self, shared_card_id: str, own_card_id: str, currency: str) -> None:
        """Give the own card every published version of the shared one, same dates and rates (resumable)."""
        own = {v.day: v for v in await self._card_versions(own_card_id)}
        for source in await self._card_versions(shared_card_id):
            if not source.set_version.active:
                continue
            copy = own.get(source.day)
            if copy is not None and copy.set_version.active:
                continue
            copy = copy or await self._new_version(own_card_id, source.day, clone=None)
            if copy.card_version.default_rate != source.card_version.default_rate:
                body = {"rate_card_version": {"default_rate": source.card_version.default_rate}}
                await self._put(f"/rate_card_versions/{copy.card_version.id}.json", body)
            await self._write_rates(copy, source.rates, currency)
            await self.client.request("PUT", f"/rate_card_set_versions/{copy.id}/publish.json")

    # -- writing -----------------------------------------------------------------------------------

    async def _new_version(self, card_id: str, day: date, *, clone: str | None) -> _Version:
        """A new unpublished set version of the card's set (cloned from ``clone``), as the card's version."""
        card = await self._get(f"/rate_cards/{card_id}.json", {"include": "rate_card_set"})
        set_id = card.primary("rate_cards", RawRateCard)[0].rate_card_set_id
        body = {"rate_card_set_version": {"rate_card_set_id": set_id, "effective_date": day.isoformat()}}
        params = {"clone_id": clone} if clone is not None else {}
        created = await self._post("/rate_card_set_versions.json", body, params)
        version_id = created.results[0].id
        return next(v for v in await self._card_versions(card_id) if v.id == version_id)

    async def _write_rates(self, version: _Version, rates: dict[str, int], currency: str) -> None:
        """Write the roles' rates into an unpublished set version (only those that differ)."""
        for role_id, cents in sorted(rates.items()):
            if version.rates.get(role_id) == cents:
                continue
            body = {"rate_card_table_row": {"rates": [{"currency": currency, "rate": cents}]}}
            await self._put(f"/rate_card_set_versions/{version.id}/rate_card_table_rows/{role_id}.json", body)


def _versions(envelope: Envelope) -> list[_Version]:
    set_versions = envelope.side_loaded("rate_card_set_versions", RawSetVersion)
    roles = envelope.side_loaded("rate_card_roles", RawRole)
    found = []
    for card_version in envelope.primary("rate_card_versions", RawCardVersion):
        set_version = set_versions.get(card_version.rate_card_set_version_id or "")
        if set_version is None:
            continue
        rates = {roles[i].role_id: roles[i].rate for i in card_version.rate_card_role_ids if i in roles}
        found.append(_Version(set_version, card_version, rates))
    return found


def _in_force(published: list[_Version], day: date) -> _Version | None:
    """The version in force on ``day``: the latest dated on or before it, else the first (Kantata's pricing)."""
    before = [v for v in published if v.day <= day]
    return before[-1] if before else (published[0] if published else None)
