"""Effective-dated rates through the connector: a workspace's schedule, and rate amendments that touch only it."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from datetime import date
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI

from canonical import Money, RoleRate
from connectors._core import BusinessError, TransientError
from connectors.kantata import KantataConnector
from sandbox.seed import DemoFirm, Project
from sandbox.systems.kantata import DEMO_ACCESS_TOKEN
from tests.kantata.conftest import CountingTransport, settings_for

Admin = Callable[..., Awaitable[httpx.Response]]
API = "/kantata/api/v1"
FIRST = date(2000, 1, 1)  # the default set's first version, which holds the demo firm's flat cards


def _sharing(firm: DemoFirm) -> tuple[Project, Project]:
    """Two projects on the same (shared) rate card."""
    for project in firm.projects:
        other = next((p for p in firm.projects if p is not project and p.rate_card_id == project.rate_card_id), None)
        if other is not None:
            return project, other
    raise AssertionError("the demo firm has no two projects on one rate card")


async def _workspace(kantata: KantataConnector, project: Project) -> str:
    workspace_id = await kantata.find_project_by_external_id(project.code)
    assert workspace_id is not None
    return workspace_id


def _rate(project: Project, firm: DemoFirm, role: str, add: str = "0") -> RoleRate:
    base = firm.rate_card(project.rate_card_id).rate_for(role)
    return RoleRate(role=role, hourly_rate=Money(amount=base + Decimal(add), currency=project.currency))


async def test_a_seeded_workspace_reads_its_shared_card_as_one_version(
    kantata: KantataConnector, firm: DemoFirm
) -> None:
    project, _ = _sharing(firm)
    schedule = await kantata.rate_schedule(await _workspace(kantata, project))
    assert schedule is not None and schedule.currency == project.currency
    assert [v.effective_date for v in schedule.versions] == [FIRST]
    card = firm.rate_card(project.rate_card_id)
    assert {r.role: r.hourly_rate.amount for r in schedule.versions[0].rates} == {
        r.role: r.hourly_rate for r in card.rates
    }


async def test_an_amendment_versions_only_its_own_workspace(
    kantata: KantataConnector, api: httpx.AsyncClient, firm: DemoFirm
) -> None:
    project, neighbour = _sharing(firm)
    workspace_id, other_id = await _workspace(kantata, project), await _workspace(kantata, neighbour)
    role = firm.rate_card(project.rate_card_id).rates[0].role
    before_other = await kantata.rate_schedule(other_id)
    shared_card = (await api.get(f"{API}/workspaces/{workspace_id}.json")).json()["workspaces"][workspace_id][
        "rate_card_id"
    ]

    version_id = await kantata.add_rate_version(workspace_id, date(2026, 11, 16), [_rate(project, firm, role, "25")])

    schedule = await kantata.rate_schedule(workspace_id)
    assert schedule is not None and [v.effective_date for v in schedule.versions] == [FIRST, date(2026, 11, 16)]
    old, new = _rate(project, firm, role).hourly_rate, _rate(project, firm, role, "25").hourly_rate
    assert schedule.rate_on(role, date(2026, 11, 15)) == old and schedule.rate_on(role, date(2026, 11, 16)) == new
    other_role = firm.rate_card(project.rate_card_id).rates[1].role
    assert schedule.rate_on(other_role, date(2026, 11, 20)) == _rate(project, firm, other_role).hourly_rate
    assert await kantata.rate_schedule(other_id) == before_other
    workspace = (await api.get(f"{API}/workspaces/{workspace_id}.json")).json()["workspaces"][workspace_id]
    assert workspace["rate_card_id"] != shared_card
    shared = await api.get(f"{API}/rate_card_versions.json", params={"rate_card_id": shared_card})
    assert shared.json()["count"] == 1
    published = await api.get(f"{API}/rate_card_set_versions/{version_id}.json")
    assert published.json()["rate_card_set_versions"][version_id]["active"] is True


async def test_the_amendment_is_idempotent_and_a_different_one_on_its_date_is_refused(
    kantata: KantataConnector, api: httpx.AsyncClient, firm: DemoFirm
) -> None:
    project, _ = _sharing(firm)
    workspace_id = await _workspace(kantata, project)
    role = firm.rate_card(project.rate_card_id).rates[0].role
    day = date(2026, 11, 16)
    first = await kantata.add_rate_version(workspace_id, day, [_rate(project, firm, role, "25")])
    assert await kantata.add_rate_version(workspace_id, day, [_rate(project, firm, role, "25")]) == first
    sets = await api.get(f"{API}/rate_card_sets.json")
    assert sets.json()["count"] == 2  # the default set and this workspace's own
    with pytest.raises(BusinessError, match="already has rates published from 2026-11-16") as refused:
        await kantata.add_rate_version(workspace_id, day, [_rate(project, firm, role, "30")])
    assert not refused.value.retryable
    # A second amendment reuses the workspace's card and clones the version in force on its date.
    later = await kantata.add_rate_version(
        workspace_id, date(2026, 12, 1), [RoleRate(role="Rates auditor", hourly_rate=Money.of("99", project.currency))]
    )
    schedule = await kantata.rate_schedule(workspace_id)
    assert schedule is not None and later != first
    assert schedule.rate_on(role, date(2026, 12, 1)) == _rate(project, firm, role, "25").hourly_rate
    assert schedule.rate_on("Rates auditor", date(2026, 12, 1)) == Money.of("99", project.currency)
    assert schedule.rate_on("Rates auditor", date(2026, 11, 30)) is None
    assert (await api.get(f"{API}/rate_card_sets.json")).json()["count"] == 2


async def test_time_logged_after_the_amendment_is_priced_by_date(
    kantata: KantataConnector, api: httpx.AsyncClient, firm: DemoFirm
) -> None:
    project, _ = _sharing(firm)
    workspace_id = await _workspace(kantata, project)
    role = firm.rate_card(project.rate_card_id).rates[0].role
    await kantata.add_rate_version(workspace_id, date(2026, 11, 16), [_rate(project, firm, role, "25")])
    role_id = next(i for i, n in (await kantata._role_names()).items() if n == role)
    rates = []
    for day in ("2026-11-15", "2026-11-16"):
        body = {"workspace_id": workspace_id, "date_performed": day, "time_in_minutes": 60, "role_id": role_id}
        entry = (await api.post(f"{API}/time_entries.json", json={"time_entry": body})).json()
        rates.append(next(iter(entry["time_entries"].values()))["rate_in_cents"])
    old = int(_rate(project, firm, role).hourly_rate.amount * 100)
    assert rates == [old, old + 2500]


async def test_a_workspace_without_a_card_has_no_schedule_until_amended(
    kantata: KantataConnector, api: httpx.AsyncClient
) -> None:
    body = {"workspace": {"title": "No card", "creator_role": "maven", "currency": "EUR"}}
    workspace_id = (await api.post(f"{API}/workspaces.json", json=body)).json()["results"][0]["id"]
    assert await kantata.rate_schedule(workspace_id) is None
    await kantata.add_rate_version(
        workspace_id, date(2026, 11, 2), [RoleRate(role="Manager", hourly_rate=Money.of("180", "EUR"))]
    )
    schedule = await kantata.rate_schedule(workspace_id)
    assert schedule is not None and schedule.rate_on("Manager", date(2026, 11, 1)) is None
    assert schedule.rate_on("Manager", date(2026, 11, 2)) == Money.of("180", "EUR")
    with pytest.raises(BusinessError, match="bills in EUR"):
        await kantata.add_rate_version(
            workspace_id, date(2026, 11, 9), [RoleRate(role="Manager", hourly_rate=Money.of("1", "USD"))]
        )


async def test_a_lost_publish_answer_is_completed_by_the_retry(
    kantata: KantataConnector, api: httpx.AsyncClient, admin: Admin, firm: DemoFirm
) -> None:
    project, _ = _sharing(firm)
    workspace_id = await _workspace(kantata, project)
    role = firm.rate_card(project.rate_card_id).rates[0].role
    fault = {"commit_then_fail": 1.0, "commit_then_fail_mode": "500", "path_regex": r"/publish(\.json)?$", "times": 1}
    await admin("PUT", "/_admin/faults/kantata", json=fault)
    rates = [_rate(project, firm, role, "25")]
    with contextlib.suppress(TransientError):  # the connector's own retry budget may have absorbed it
        await kantata.add_rate_version(workspace_id, date(2026, 11, 16), rates)
    assert (await admin("GET", "/_admin/faults")).json()["counters"]["kantata"]["commit_then_fail"] == 1
    version_id = await kantata.add_rate_version(workspace_id, date(2026, 11, 16), rates)
    schedule = await kantata.rate_schedule(workspace_id)
    assert schedule is not None and [v.effective_date for v in schedule.versions] == [FIRST, date(2026, 11, 16)]
    assert (await api.get(f"{API}/rate_card_sets.json")).json()["count"] == 2
    assert await kantata.add_rate_version(workspace_id, date(2026, 11, 16), rates) == version_id


async def test_what_reading_a_schedule_and_amending_cost_in_requests(app: FastAPI, firm: DemoFirm) -> None:
    transport = CountingTransport(app)
    async with KantataConnector(settings_for(access_token=DEMO_ACCESS_TOKEN), transport=transport) as connector:
        project, _ = _sharing(firm)
        workspace_id = await _workspace(connector, project)
        role = firm.rate_card(project.rate_card_id).rates[0].role
        await connector._role_names()  # account roles are read once per connector
        transport.sent.clear()
        await connector.rate_schedule(workspace_id)
        assert transport.sent == ["GET /workspaces.json", "GET /rate_card_versions.json"]
        transport.sent.clear()
        await connector.add_rate_version(workspace_id, date(2026, 11, 16), [_rate(project, firm, role, "25")])
        first = list(transport.sent)
        transport.sent.clear()
        await connector.add_rate_version(workspace_id, date(2026, 12, 1), [_rate(project, firm, role, "30")])
        assert transport.sent == [
            "GET /workspaces.json",
            "GET /external_references.json",  # the workspace's own set
            "GET /rate_cards.json",
            "GET /rate_card_versions.json",
            "GET /rate_cards/" + transport.sent[4].rsplit("/", 1)[-1],
            "POST /rate_card_set_versions.json",
            "GET /rate_card_versions.json",
            f"PUT {transport.sent[7].split(' ', 1)[1]}",
            f"PUT {transport.sent[8].split(' ', 1)[1]}",
        ]
        assert transport.sent[7].endswith(".json") and "/rate_card_table_rows/" in transport.sent[7]
        assert transport.sent[8].endswith("/publish.json")
        # The first amendment also makes the workspace's own card and copies the shared version's role rates.
        copied = [r for r in first if "/rate_card_table_rows/" in r and "/rate_card_set_versions/2/" in r]
        assert len(copied) == len(firm.rate_card(project.rate_card_id).rates)
        assert len(first) == 17 + len(copied), first
