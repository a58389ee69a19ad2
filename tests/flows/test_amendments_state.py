"""The contract's pure rules (no server): which version each target applies next, and how a version reads."""

from __future__ import annotations

from datetime import UTC, date, datetime

from canonical import ContractAmendment, Money, RoleRate
from workflows._contract_state import ContractState, TargetStatus, VersionRecord, content_hash

AT = datetime(2026, 12, 4, 10, 12, tzinfo=UTC)


def amendment(version: int, amount: str = "1000", **changes: object) -> ContractAmendment:
    return ContractAmendment(
        id=f"a{version}",
        contract_id="800A",
        engagement_id="salesforce:006A",
        version=version,
        effective_date=date(2026, 12, 1),
        signed_at=AT,
        budget=Money.of(amount, "USD"),
        **changes,  # type: ignore[arg-type]
    )


def state(*versions: int) -> ContractState:
    return ContractState(
        versions={
            v: VersionRecord(
                version=v,
                amendment_id=f"a{v}",
                content_hash=content_hash(amendment(v)),
                effective_date=date(2026, 12, 1),
                received_at=AT,
                source="cli",
                summary="",
                amendment=amendment(v),
            )
            for v in versions
        }
    )


def test_a_later_version_waits_for_the_missing_one_in_every_target() -> None:
    held = state(1, 3)
    held.versions[1].targets = {t: TargetStatus(state="applied") for t in ("psa", "erp", "events")}
    assert held.gap() == (2, AT)
    assert held.next_in("psa") is None
    assert held.outcome("800A", 3).state == "waiting"
    assert held.line(held.versions[3]).startswith("v3 pending in Kantata (waiting for v2 since 2026-12-04 10:12 UTC)")
    assert held.flow_state() == "waiting"


def test_a_failed_target_holds_back_only_its_own_later_versions() -> None:
    held = state(1, 2)
    held.versions[1].targets["erp"] = TargetStatus(state="failed", reason="locked")
    held.versions[1].targets["psa"] = TargetStatus(state="applied")
    assert held.next_in("erp") is None
    assert held.next_in("psa") is held.versions[2]
    assert held.blocked("erp", 2) and not held.blocked("psa", 2)
    assert held.outcome("800A", 2).state == "pending"  # Kantata and events still move


def test_the_content_hash_ignores_who_sent_a_version_and_when() -> None:
    first = amendment(1)
    again = first.model_copy(update={"id": "cli:800A:v1", "signed_at": datetime(2027, 1, 1, tzinfo=UTC), "reason": "x"})
    assert content_hash(first) == content_hash(again)
    assert content_hash(first) != content_hash(amendment(1, "1001"))
    assert content_hash(first) == content_hash(amendment(1, "1000.00")), "amounts count by value"
    a, b = (RoleRate(role=r, hourly_rate=Money.of("150", "USD")) for r in ("Consultant", "Manager"))
    assert content_hash(amendment(1, rate_changes=(a, b))) == content_hash(amendment(1, rate_changes=(b, a)))
