"""Contract amendment activities: read a contract's baseline, apply an amendment to the PSA and the ERP.

The baseline is what provisioning made of the contract's engagement (``{crm}:{opportunity}``): the
Kantata workspace and NetSuite job it recorded in the store (or, for runs recorded before the store
was kept, found again by external id), the currency, dates, budget, roles and rates. The pure rules
(`amendment_problems`) check an amendment against it; the contract workflow runs them in its update
validator, so a bad amendment is refused before anything is written, even to history.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import date
from typing import Protocol

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities._errors import classified
from activities._heartbeat import heartbeating
from canonical import CanonicalModel, ContractAmendment, Money, Project, RateSchedule, RoleRate
from connectors.netsuite.models import JobRecord
from store import Store

UNKNOWN_CONTRACT = "UnknownContract"
"""The contract's engagement was never provisioned: there is nothing to amend."""
AMENDMENT_REJECTED = "AmendmentRejected"
"""An amendment that breaks a rule of the contract: a person must correct it at the source."""


class ContractPsa(Protocol):
    """What the amendment flow needs of the PSA (Kantata)."""

    async def find_project_by_external_id(self, project_id: str) -> str | None: ...

    async def get_project(self, workspace_id: str) -> Project: ...

    async def rate_schedule(self, workspace_id: str) -> RateSchedule | None: ...

    async def amend_workspace(self, workspace_id: str, *, budget: Money | None, end_date: date | None) -> None: ...

    async def add_roles(self, workspace_id: str, roles: Sequence[str]) -> list[str]: ...

    async def add_rate_version(self, workspace_id: str, effective_date: date, rates: Sequence[RoleRate]) -> str: ...


class ContractErp(Protocol):
    """What the amendment flow needs of the ERP (NetSuite)."""

    async def get_job(self, external_id: str) -> JobRecord | None: ...

    async def amend_job(
        self,
        job_id: str,
        *,
        end_date: date | None,
        contract_value: Money | None,
        rates: Sequence[RoleRate] = (),
        effective_date: date | None = None,
    ) -> None: ...


class ContractBaseline(CanonicalModel):
    """The contract as provisioned, amended by every version received since (what new versions are checked against)."""

    engagement_id: str
    psa_project_id: str
    currency: str
    start_date: date
    end_date: date
    budget: Money
    roles: tuple[str, ...] = ()

    def amended(self, amendment: ContractAmendment) -> ContractBaseline:
        """The baseline once ``amendment`` is part of the contract."""
        changes: dict[str, object] = {}
        if amendment.end_date is not None:
            changes["end_date"] = amendment.end_date
        if amendment.budget is not None:
            changes["budget"] = amendment.budget
        if amendment.added_roles:
            changes["roles"] = tuple(sorted({*self.roles, *(rate.role for rate in amendment.added_roles)}))
        return self.model_copy(update=changes)


class ContractRef(CanonicalModel):
    """A contract's engagement, whose baseline the flow reads."""

    contract_id: str
    engagement_id: str


class ApplyAmendment(CanonicalModel):
    """One amendment for one target, with the contract it applies to."""

    baseline: ContractBaseline
    amendment: ContractAmendment


class TargetApplied(CanonicalModel):
    """What a target made of an amendment: its record's id there and what changed."""

    system_id: str
    detail: str


def amendment_problems(amendment: ContractAmendment, contract: ContractBaseline) -> list[str]:
    """Why ``amendment`` cannot apply to ``contract`` (empty when it can), each naming the offending value."""
    problems = []
    label = f"v{amendment.version}"
    if amendment.engagement_id != contract.engagement_id:
        problems.append(
            f"{label} is for engagement {amendment.engagement_id}, but contract {amendment.contract_id} "
            f"is engagement {contract.engagement_id}"
        )
    if amendment.end_date is not None and amendment.end_date < contract.start_date:
        problems.append(f"{label} ends the contract on {amendment.end_date}, before its start {contract.start_date}")
    if amendment.budget is not None and amendment.budget.amount < 0:
        problems.append(f"{label} sets a negative budget {amendment.budget}")
    money = [rate.hourly_rate for rate in (*amendment.rate_changes, *amendment.added_roles)]
    money += [amendment.budget] if amendment.budget is not None else []
    currencies = sorted({m.currency for m in money} - {contract.currency})
    if currencies:
        problems.append(
            f"{label} is in {', '.join(currencies)} but the contract is in {contract.currency}: "
            "a currency change needs a new contract"
        )
    unknown = sorted(rate.role for rate in amendment.rate_changes if rate.role not in contract.roles)
    if unknown:
        problems.append(
            f"{label} changes the rate of role(s) {unknown} the contract does not have "
            f"(it has {list(contract.roles)}): add them with added_roles"
        )
    existing = sorted(rate.role for rate in amendment.added_roles if rate.role in contract.roles)
    if existing:
        problems.append(f"{label} adds role(s) {existing} the contract already has: change their rate instead")
    return problems


def rejected(message: str) -> ApplicationError:
    """The non-retryable error a bad amendment ends in."""
    return ApplicationError(message, type=AMENDMENT_REJECTED, non_retryable=True)


class AmendmentActivities:
    """Reads a contract's baseline and writes its amendments to the PSA and the ERP, each write idempotent."""

    def __init__(self, psa: ContractPsa, erp: ContractErp, store: Store) -> None:
        self._psa = psa
        self._erp = erp
        self._store = store

    @activity.defn(name="psa.read_contract")
    @classified
    @heartbeating
    async def read_contract(self, ref: ContractRef) -> ContractBaseline:
        """The contract's engagement as the PSA holds it; UnknownContract when it was never provisioned."""
        engagement = ref.engagement_id
        workspace_id = await asyncio.to_thread(self._store.system_id, "project", engagement, "kantata")
        if workspace_id is None:
            workspace_id = await self._psa.find_project_by_external_id(engagement)
        if workspace_id is None:
            raise ApplicationError(
                f"contract {ref.contract_id} names engagement {engagement}, which has no PSA project: "
                f"provision it first (`psflow engagement provision`), then submit the amendment again",
                type=UNKNOWN_CONTRACT,
                non_retryable=True,
            )
        project = await self._psa.get_project(workspace_id)
        roles = {task.role for task in project.tasks if task.role}
        schedule = await self._psa.rate_schedule(workspace_id)
        if schedule is not None:
            roles |= {rate.role for version in schedule.versions for rate in version.rates}
        return ContractBaseline(
            engagement_id=engagement,
            psa_project_id=workspace_id,
            currency=project.budget.currency,
            start_date=project.start_date,
            end_date=project.end_date,
            budget=project.budget,
            roles=tuple(sorted(roles)),
        )

    @activity.defn(name="psa.apply_amendment")
    @classified
    @heartbeating
    async def apply_to_psa(self, request: ApplyAmendment) -> TargetApplied:
        """Budget and end date on the workspace, new roles, and a rate card version from the effective date."""
        amendment, workspace_id = request.amendment, request.baseline.psa_project_id
        done = []
        if amendment.budget is not None or amendment.end_date is not None:
            await self._psa.amend_workspace(workspace_id, budget=amendment.budget, end_date=amendment.end_date)
            done.append("workspace")
        if amendment.added_roles:
            await self._psa.add_roles(workspace_id, [rate.role for rate in amendment.added_roles])
            done.append(f"roles {', '.join(rate.role for rate in amendment.added_roles)}")
        rates = (*amendment.rate_changes, *amendment.added_roles)
        if rates:
            version_id = await self._psa.add_rate_version(workspace_id, amendment.effective_date, rates)
            done.append(f"rate version {version_id} from {amendment.effective_date}")
        return TargetApplied(system_id=workspace_id, detail="; ".join(done))

    @activity.defn(name="erp.apply_amendment")
    @classified
    @heartbeating
    async def apply_to_erp(self, request: ApplyAmendment) -> TargetApplied:
        """End date, contract value and rates on the engagement's ERP job."""
        amendment, engagement = request.amendment, request.baseline.engagement_id
        job_id = await asyncio.to_thread(self._store.system_id, "project", engagement, "netsuite")
        if job_id is None:
            job = await self._erp.get_job(engagement)
            if job is None:
                raise ApplicationError(
                    f"NetSuite has no job for engagement {engagement}: provision it, then "
                    f"`psflow amendment retry {amendment.contract_id} --target erp`",
                    type="NotFound",
                    non_retryable=True,
                )
            job_id = job.internal_id
            await asyncio.to_thread(self._store.map_id, "project", engagement, "netsuite", job_id)
        rates = (*amendment.rate_changes, *amendment.added_roles)
        await self._erp.amend_job(
            job_id,
            end_date=amendment.end_date,
            contract_value=amendment.budget,
            rates=rates,
            effective_date=amendment.effective_date if rates else None,
        )
        changed = [
            *(["end date"] if amendment.end_date else []),
            *(["contract value"] if amendment.budget else []),
            *([f"rates from {amendment.effective_date}"] if rates else []),
        ]
        return TargetApplied(system_id=job_id, detail=", ".join(changed))
