"""The contract workflow's rules on a real server, with the targets stood in by activities under the real names.

Ordering, deduplication, refusals, per-target failure and continue-as-new are the workflow's own logic:
these tests drive it through its public entry point (`stack.flows.submit_amendment`) and its query,
with targets that record what reached them and fail when told. The same flows against the emulators
are in test_amendments_e2e.py.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import pytest_asyncio
from temporalio import activity
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from activities.amendments import ApplyAmendment, ContractBaseline, ContractRef, TargetApplied
from activities.exceptions import RecordExceptions, ResolveExceptions
from activities.models import AnalyticsRows, OpportunityRef
from canonical import (
    BillingType,
    ContractAmendment,
    Customer,
    Engagement,
    LineItem,
    Money,
    RoleRate,
    SystemName,
    SystemRef,
)
from canonical.events import CloudEvent
from stack.flows import submit_amendment
from stack.settings import Settings
from tests.flows.test_amendments_replay import save_history
from workflows.amend_contract import AmendmentSubmission, ContractStatus, ContractWorkflow, RetryTarget

ENGAGEMENT = "salesforce:0068d00000000TEST"
BASELINE = ContractBaseline(
    engagement_id=ENGAGEMENT,
    psa_project_id="501",
    currency="USD",
    start_date=date(2026, 11, 1),
    end_date=date(2027, 1, 31),
    budget=Money.of("100000", "USD"),
    roles=("Consultant",),
)

SOLD = Engagement(
    id=ENGAGEMENT,
    name="ERP implementation",
    customer=Customer(id="salesforce:001TEST", name="Orchard Lane Hotels", currency="USD"),
    opportunity=SystemRef(system=SystemName.SALESFORCE, id="0068d00000000TEST"),
    billing_type=BillingType.TIME_AND_MATERIALS,
    currency="USD",
    budget=BASELINE.budget,
    start_date=BASELINE.start_date,
    end_date=BASELINE.end_date,
    line_items=tuple(
        LineItem(id=f"item-{role}", product_name=role, role=role, quantity=Decimal(10), unit_price=Money.of(150, "USD"))
        for role in ("Consultant", "Manager")
    ),
)
"""The deal as sold: the PSA names only one of its roles, the contract has both."""


@dataclass
class Targets:
    """What reached each stand-in target, in order; ``fail_erp`` makes the ERP refuse that many calls."""

    applied: dict[str, list[int]] = field(default_factory=lambda: {"psa": [], "erp": [], "events": []})
    fail_erp: int = 0
    baseline_reads: int = 0
    exceptions: list[str] = field(default_factory=list)
    """Business keys of the exceptions the contract opened (``-key``: resolved), in order."""

    def activities(self) -> dict[str, list[Any]]:
        @activity.defn(name="psa.read_contract")
        async def read_contract(ref: ContractRef) -> ContractBaseline:
            self.baseline_reads += 1
            if ref.engagement_id != ENGAGEMENT:
                raise ApplicationError(f"no PSA project for {ref.engagement_id}", type="UnknownContract",
                                       non_retryable=True)  # fmt: skip
            return BASELINE

        @activity.defn(name="crm.read_engagement")
        async def read_engagement(ref: OpportunityRef) -> Engagement:
            return SOLD

        @activity.defn(name="psa.apply_amendment")
        async def apply_to_psa(request: ApplyAmendment) -> TargetApplied:
            self.applied["psa"].append(request.amendment.version)
            return TargetApplied(system_id="501", detail="workspace")

        @activity.defn(name="erp.apply_amendment")
        async def apply_to_erp(request: ApplyAmendment) -> TargetApplied:
            if self.fail_erp:
                self.fail_erp -= 1
                raise ApplicationError("job 77 is locked for billing", type="BusinessRuleViolation", non_retryable=True)
            self.applied["erp"].append(request.amendment.version)
            return TargetApplied(system_id="77", detail="end date")

        @activity.defn(name="events.publish")
        async def publish(event: CloudEvent) -> None:
            if event.type == "com.psflow.project.amended":
                self.applied["events"].append(int(event.data["version"]))

        @activity.defn(name="events.push_rows")
        async def push_rows(rows: AnalyticsRows) -> None:
            return None

        @activity.defn(name="exceptions.record")
        async def record_exceptions(request: RecordExceptions) -> list[int]:
            self.exceptions += [occurrence.business_key for occurrence in request.occurrences]
            return list(range(len(request.occurrences)))

        @activity.defn(name="exceptions.resolve")
        async def resolve_exceptions(request: ResolveExceptions) -> int:
            self.exceptions += [f"-{key}" for key in request.business_keys]
            return len(request.business_keys)

        events = [publish, push_rows, record_exceptions, resolve_exceptions]
        registered = {"psa": [read_contract, apply_to_psa], "erp": [apply_to_erp], "events": events}
        return {**registered, "crm": [read_engagement]}


@pytest_asyncio.fixture
async def targets(temporal_client: Client, settings: Settings) -> AsyncIterator[Targets]:
    stand_in = Targets()
    workers = [Worker(temporal_client, task_queue=settings.task_queue("flows"), workflows=[ContractWorkflow])]
    workers += [
        Worker(temporal_client, task_queue=settings.task_queue(domain), activities=registered)
        for domain, registered in stand_in.activities().items()
    ]
    tasks = [asyncio.create_task(worker.run()) for worker in workers]
    yield stand_in
    await asyncio.gather(*(worker.shutdown() for worker in workers))
    await asyncio.gather(*tasks, return_exceptions=True)


def amendment(contract: str, version: int, **terms: Any) -> ContractAmendment:
    effective_date = terms.pop("effective_date", date(2026, 12, 1))
    terms = terms or {"budget": Money.of(100000 + 1000 * version, "USD")}
    return ContractAmendment(
        id=f"{contract}-v{version}",
        contract_id=contract,
        engagement_id=ENGAGEMENT,
        version=version,
        effective_date=effective_date,
        signed_at=datetime(2026, 11, 20, tzinfo=UTC),
        **terms,
    )


def submission(contract: str, version: int, **terms: Any) -> AmendmentSubmission:
    return AmendmentSubmission(
        crm="salesforce", contract_id=contract, amendment=amendment(contract, version, **terms), source="cli"
    )


async def status(client: Client, contract: str) -> ContractStatus:
    return await client.get_workflow_handle(f"contract:salesforce:{contract}").query(ContractWorkflow.status)


async def until(check: Any) -> None:
    """Poll ``check`` until it holds (at most 20 s)."""
    for _ in range(200):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not reached")


def new_contract() -> str:
    return f"800{uuid.uuid4().hex[:12]}"


async def record(client: Client, contract: str, name: str) -> None:
    """With ``PSFLOW_RECORD_HISTORIES=1``, keep the run's history for the replay test."""
    if os.environ.get("PSFLOW_RECORD_HISTORIES"):
        await save_history(client.get_workflow_handle(f"contract:salesforce:{contract}"), name)


async def test_a_version_that_arrives_early_waits_for_the_one_before_it(
    temporal_client: Client, settings: Settings, targets: Targets
) -> None:
    contract = new_contract()
    early = await submit_amendment(temporal_client, settings, submission(contract, 2), wait=True)
    assert early.outcome is not None and early.outcome.state == "waiting"
    seen = await status(temporal_client, contract)
    assert seen.waiting is not None and seen.waiting.startswith("waiting for v1 since ")
    assert "pending in Kantata (waiting for v1 since" in seen.lines[0]
    assert targets.applied == {"psa": [], "erp": [], "events": []}

    first = await submit_amendment(temporal_client, settings, submission(contract, 1), wait=True)
    assert first.outcome is not None and first.outcome.state == "applied", first.outcome
    await until(lambda: _applied_everywhere(temporal_client, contract, 2))
    assert targets.applied == {"psa": [1, 2], "erp": [1, 2], "events": [1, 2]}
    assert (await status(temporal_client, contract)).lines == [
        "v1 applied in Kantata, applied in NetSuite, applied in events",
        "v2 applied in Kantata, applied in NetSuite, applied in events",
    ]
    await record(temporal_client, contract, "out_of_order")


async def _applied_everywhere(client: Client, contract: str, versions: int) -> bool:
    seen = await status(client, contract)
    return len(seen.versions) == versions and all(
        t.state == "applied" for v in seen.versions for t in v.targets.values()
    )


async def test_a_redelivery_returns_the_first_answer_and_different_content_is_refused(
    temporal_client: Client, settings: Settings, targets: Targets
) -> None:
    contract = new_contract()
    first = await submit_amendment(temporal_client, settings, submission(contract, 1), wait=True)
    again = await submit_amendment(temporal_client, settings, submission(contract, 1), wait=True)
    assert first.outcome == again.outcome and first.update_id == again.update_id
    # The same content from another source (a different update id) is the same version: applied once.
    webhook = submission(contract, 1).model_copy(update={"source": "webhook", "event_id": "evt-9"})
    handle = temporal_client.get_workflow_handle(f"contract:salesforce:{contract}")
    assert (await handle.execute_update(ContractWorkflow.submit, webhook)).state == "applied"
    assert targets.applied["psa"] == [1]

    changed = submission(contract, 1, budget=Money.of("250000", "USD"))
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await submit_amendment(temporal_client, settings, changed, wait=True)
    assert "v1 of contract:salesforce:" in str(refused.value.cause)
    assert "with different content" in str(refused.value.cause) and "submit the change as v2" in str(
        refused.value.cause
    )
    history = await handle.fetch_history()
    accepted = [e for e in history.events if e.HasField("workflow_execution_update_accepted_event_attributes")]
    assert len(accepted) == 2, "the refusal (in the validator) wrote nothing to history"
    assert targets.applied["psa"] == [1]


@pytest.mark.parametrize(
    ("terms", "expected"),
    [
        ({"end_date": date(2026, 10, 1), "effective_date": date(2026, 9, 1)}, "before its start 2026-11-01"),
        ({"budget": Money.of("120000", "EUR")}, "is in EUR but the contract is in USD"),
        ({"rate_changes": (RoleRate(role="Architect", hourly_rate=Money.of("200", "USD")),)}, "['Architect']"),
        ({"added_roles": (RoleRate(role="Manager", hourly_rate=Money.of("200", "USD")),)}, "already has"),
    ],
    ids=["end-before-start", "currency-change", "unknown-role", "role-already-there"],
)
async def test_a_bad_amendment_is_refused_and_changes_nothing(
    temporal_client: Client, settings: Settings, targets: Targets, terms: dict[str, Any], expected: str
) -> None:
    contract = new_contract()
    await submit_amendment(temporal_client, settings, submission(contract, 1), wait=True)
    bad = submission(contract, 2, **terms)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await submit_amendment(temporal_client, settings, bad, wait=True)
    assert expected in str(refused.value.cause)
    seen = await status(temporal_client, contract)
    assert [v.version for v in seen.versions] == [1]
    assert targets.applied["psa"] == [1]


async def test_an_unknown_contract_is_refused(temporal_client: Client, settings: Settings, targets: Targets) -> None:
    contract = new_contract()
    stray = submission(contract, 1)
    stray.amendment = stray.amendment.model_copy(update={"engagement_id": "salesforce:006NOPE"})  # type: ignore[union-attr]
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await submit_amendment(temporal_client, settings, stray, wait=True)
    assert "no PSA project for salesforce:006NOPE" in str(refused.value.cause)
    assert (await status(temporal_client, contract)).versions == []


async def test_a_target_that_fails_for_good_holds_back_only_its_own_later_versions(
    temporal_client: Client, settings: Settings, targets: Targets
) -> None:
    contract = new_contract()
    targets.fail_erp = 1
    first = await submit_amendment(temporal_client, settings, submission(contract, 1), wait=True)
    assert first.outcome is not None and first.outcome.state == "failed"
    assert first.outcome.targets["erp"].reason == "job 77 is locked for billing"
    second = await submit_amendment(temporal_client, settings, submission(contract, 2), wait=True)
    assert second.outcome is not None and second.outcome.state == "blocked"
    assert targets.applied == {"psa": [1, 2], "erp": [], "events": [1, 2]}
    seen = await status(temporal_client, contract)
    assert seen.lines == [
        "v1 applied in Kantata, failed in NetSuite (job 77 is locked for billing), applied in events",
        "v2 applied in Kantata, pending in NetSuite (blocked by v1, failed there), applied in events",
    ]

    handle = temporal_client.get_workflow_handle(f"contract:salesforce:{contract}")
    assert await handle.execute_update(ContractWorkflow.retry, RetryTarget(target="erp")) == "retrying v1 in NetSuite"
    await until(lambda: _applied_everywhere(temporal_client, contract, 2))
    assert targets.applied["erp"] == [1, 2]
    # One exception, the failed target's, opened when it failed and resolved when the retry applied it.
    assert targets.exceptions == [f"salesforce:{contract}:v1:erp", f"-salesforce:{contract}:v1:erp"]
    with pytest.raises(WorkflowUpdateFailedError, match=r"update failed"):
        await handle.execute_update(ContractWorkflow.retry, RetryTarget(target="erp"))
    # contract_failed_then_retried.json is the run from before the exceptions patch: kept, not re-recorded.
    await record(temporal_client, contract, "failed_then_retried_exceptions")


async def test_deduplication_survives_continue_as_new(
    temporal_client: Client, settings: Settings, targets: Targets
) -> None:
    contract = new_contract()
    for version in (1, 2):
        await submit_amendment(temporal_client, settings, submission(contract, version), wait=True,
                               max_versions_per_run=2)  # fmt: skip
    handle = temporal_client.get_workflow_handle(f"contract:salesforce:{contract}")

    async def continued() -> bool:
        described = await handle.describe()
        return described.run_id != described.raw_description.workflow_execution_info.first_run_id

    await until(continued)
    assert await _applied_everywhere(temporal_client, contract, 2)
    # In the new run Temporal no longer knows the update ids: the workflow's own state dedupes.
    again = await submit_amendment(temporal_client, settings, submission(contract, 1), wait=True)
    assert again.outcome is not None and again.outcome.state == "applied"
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await submit_amendment(temporal_client, settings, submission(contract, 2, budget=Money.of(Decimal(1), "USD")),
                               wait=True)  # fmt: skip
    assert "with different content" in str(refused.value.cause)
    assert targets.applied["psa"] == [1, 2]
    assert targets.baseline_reads == 1


async def test_a_missing_version_opens_an_exception_after_the_wait_and_keeps_waiting(
    temporal_client: Client, settings: Settings, targets: Targets
) -> None:
    contract = new_contract()
    await submit_amendment(temporal_client, settings, submission(contract, 2), wait=True,
                           gap_wait=timedelta(seconds=1))  # fmt: skip

    async def opened() -> bool:
        return bool((await status(temporal_client, contract)).exceptions)

    await until(opened)
    seen = await status(temporal_client, contract)
    assert seen.exceptions[0].startswith("v1 has not arrived; later versions wait for it since ")
    assert targets.applied["events"] == []
    await submit_amendment(temporal_client, settings, submission(contract, 1), wait=True)
    await until(lambda: _applied_everywhere(temporal_client, contract, 2))
    assert (await status(temporal_client, contract)).exceptions == []
    await record(temporal_client, contract, "missing_version")


async def test_a_signalled_delivery_applies_like_an_update_and_a_refusal_is_kept_in_the_status(
    temporal_client: Client, settings: Settings, targets: Targets
) -> None:
    contract = new_contract()
    await submit_amendment(temporal_client, settings, submission(contract, 1), wait=True)
    handle = temporal_client.get_workflow_handle(f"contract:salesforce:{contract}")
    await handle.signal(ContractWorkflow.delivered, submission(contract, 2).model_copy(update={"source": "poll"}))
    await until(lambda: _applied_everywhere(temporal_client, contract, 2))
    await handle.signal(ContractWorkflow.delivered, submission(contract, 2, budget=Money.of("5", "USD")))
    await handle.signal(ContractWorkflow.delivered, submission(contract, 3, budget=Money.of("9", "EUR")))

    async def refused_twice() -> bool:
        return len((await status(temporal_client, contract)).rejections) == 2

    await until(refused_twice)
    first, second = (await status(temporal_client, contract)).rejections
    assert "v2 of contract:salesforce:" in first and "with different content" in first
    assert "v3 is in EUR but the contract is in USD" in second
    assert targets.applied["psa"] == [1, 2]
