"""The connector's people methods through the emulator (research apis-round2 §1): invitations,
leavers, users pages, skills, cost centre and time off per user-day."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from decimal import Decimal

import httpx
from fastapi import FastAPI

from canonical import Consultant
from connectors.kantata import KantataConnector
from sandbox.seed import DemoFirm
from tests.kantata.conftest import CountingTransport, MakeConnector, settings_for

Admin = Callable[..., Awaitable[httpx.Response]]
API = "/kantata/api/v1"
MONDAY, TUESDAY, WEDNESDAY = date(2026, 6, 15), date(2026, 6, 16), date(2026, 6, 17)

HIRE = Consultant(
    id="bamboohr:501",
    employee_id="E-3001",
    name="Ada Okafor",
    email="ada.okafor@psflow-demo.example",
    role="Consultant",
    cost_centre="CC-TEC-UK",
)


async def test_invite_user_invites_once_then_returns_the_user(app: FastAPI, api: httpx.AsyncClient) -> None:
    transport = CountingTransport(app)
    async with KantataConnector(settings_for(), transport=transport) as kantata:
        user_id = await kantata.invite_user(HIRE)
        again = await kantata.invite_user(HIRE.model_copy(update={"email": HIRE.email.upper()}))
    assert again == user_id
    assert [s for s in transport.sent if s.startswith("POST /account_invitations")] == [
        "POST /account_invitations.json"
    ]
    assert not [s for s in transport.sent if s.startswith("POST /users")]
    refs = await api.get(f"{API}/external_references.json", params={"subject_type": "User", "subject_id": user_id})
    assert [r["service_model_ref"] for r in refs.json()["external_references"].values()] == [HIRE.employee_id]


async def test_invite_user_returns_a_seeded_user_without_inviting(
    app: FastAPI, firm: DemoFirm, api: httpx.AsyncClient
) -> None:
    seeded = firm.consultants[0]
    transport = CountingTransport(app)
    async with KantataConnector(settings_for(), transport=transport) as kantata:
        hr = HIRE.model_copy(update={"email": seeded.email, "employee_id": seeded.employee_id, "name": seeded.name})
        user_id = await kantata.invite_user(hr)
    found = (await api.get(f"{API}/users.json", params={"by_email_address": seeded.email})).json()
    assert found["results"][0]["id"] == user_id
    assert not [s for s in transport.sent if s.startswith("POST /account_invitations")]


async def test_invite_after_commit_then_fail_finds_the_user(kantata: KantataConnector, admin: Admin) -> None:
    fault = {"commit_then_fail": 1.0, "path_regex": r"/account_invitations(\.json)?$", "times": 1}
    await admin("PUT", "/_admin/faults/kantata", json=fault)
    user_id = await kantata.invite_user(HIRE)
    assert await kantata.invite_user(HIRE) == user_id


async def test_disable_user_keeps_the_user_listed_as_inactive(make_connector: MakeConnector, firm: DemoFirm) -> None:
    kantata = make_connector(page_size=7)
    before = await kantata.list_users()
    leaver = next(c for c in before if c.email == firm.consultants[2].email)
    assert leaver.source is not None and all(c.active for c in before)
    await kantata.disable_user(leaver.source.id)
    await kantata.disable_user(leaver.source.id)
    after = {c.email: c for c in await kantata.list_users()}
    assert len(after) == len(before)
    assert not after[leaver.email].active
    assert [c.email for c in after.values() if not c.active] == [leaver.email]


async def test_users_page_pages_with_a_cursor(make_connector: MakeConnector, firm: DemoFirm) -> None:
    kantata = make_connector(page_size=5)
    first = await kantata.users_page()
    assert len(first.items) == 5 and first.next_cursor is not None
    second = await kantata.users_page(first.next_cursor)
    assert {c.email for c in first.items}.isdisjoint(c.email for c in second.items)
    assert first.items[0].employee_id == firm.consultant(first.items[0].email).employee_id


async def test_skills_and_cost_centre(kantata: KantataConnector, api: httpx.AsyncClient) -> None:
    user_id = await kantata.invite_user(HIRE)
    skill_id = await kantata.ensure_skill("Kubernetes")
    assert await kantata.ensure_skill("Kubernetes") == skill_id
    membership = await kantata.set_skill(user_id, skill_id, 2)
    assert await kantata.set_skill(user_id, skill_id, 4) == membership
    await kantata.set_cost_centre(user_id, "CC-TEC-UK")
    await kantata.set_cost_centre(user_id, "CC-TEC-US")
    (read,) = [c for c in await kantata.list_users() if c.email == HIRE.email]
    assert read.skills == ("Kubernetes",) and read.cost_centre == "CC-TEC-US"
    levels = (await api.get(f"{API}/skill_memberships.json", params={"user_id": user_id})).json()
    assert [m["level"] for m in levels["skill_memberships"].values()] == [4]


async def test_set_time_off_writes_what_hr_says_not_a_merge(kantata: KantataConnector) -> None:
    user_id = await kantata.invite_user(HIRE)
    first = await kantata.set_time_off(user_id, MONDAY, Decimal(4))
    again = await kantata.set_time_off(user_id, MONDAY, Decimal(4))
    assert (again.id, again.hours) == (first.id, Decimal(4))
    lower = await kantata.set_time_off(user_id, MONDAY, Decimal(2))
    assert (lower.id, lower.hours) == (first.id, Decimal(2))
    capped = await kantata.set_time_off(user_id, TUESDAY, Decimal(10))
    assert capped.hours == Decimal(8)
    assert await kantata.clear_time_off(user_id, MONDAY)
    assert not await kantata.clear_time_off(user_id, MONDAY)
    page = await kantata.time_off_page(user_ids=[user_id])
    assert [(e.requested_date, e.hours) for e in page.items] == [(TUESDAY, Decimal(8))]


async def test_time_off_page_filters_and_pages(make_connector: MakeConnector) -> None:
    kantata = make_connector(page_size=2)
    one = await kantata.invite_user(HIRE)
    two = await kantata.invite_user(HIRE.model_copy(update={"email": "b@psflow-demo.example", "employee_id": "E-2"}))
    for user in (one, two):
        for day in (MONDAY, TUESDAY, WEDNESDAY):
            await kantata.set_time_off(user, day, Decimal(8))
    seen: list[tuple[str, date]] = []
    cursor: str | None = None
    while True:
        page = await kantata.time_off_page(cursor, user_ids=[one, two], start=TUESDAY, end=WEDNESDAY)
        seen += [(e.user_id, e.requested_date) for e in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert sorted(seen) == sorted((u, d) for u in (one, two) for d in (TUESDAY, WEDNESDAY))
    only_one = await kantata.time_off_page(user_ids=[one], start=WEDNESDAY)
    assert [(e.user_id, e.requested_date) for e in only_one.items] == [(one, WEDNESDAY)]


async def test_invite_users_bulk_invites_50_a_request_and_skips_existing(app: FastAPI, firm: DemoFirm) -> None:
    hires = [
        HIRE.model_copy(update={"email": f"hire.{n}@psflow-demo.example", "employee_id": f"E-{n}", "name": f"Hire {n}"})
        for n in range(120)
    ]
    seeded = firm.consultants[0]
    existing = HIRE.model_copy(update={"email": seeded.email.upper(), "employee_id": seeded.employee_id})
    transport = CountingTransport(app)
    async with KantataConnector(settings_for(), transport=transport) as kantata:
        ids = await kantata.invite_users([*hires, existing])
        again = await kantata.invite_users(hires)
        listed = {c.email: c for c in await kantata.list_users()}
    assert len(ids) == 121 and {e: ids[e] for e in again} == again
    assert [s for s in transport.sent if s.startswith("POST /account_invitations")] == [
        "POST /account_invitations.json"
    ] * 3
    assert listed["hire.7@psflow-demo.example"].employee_id == "E-7"


async def test_invite_users_falls_back_to_one_by_one_when_a_bulk_answer_is_lost(
    kantata: KantataConnector, admin: Admin
) -> None:
    hires = [HIRE.model_copy(update={"email": f"h{n}@psflow-demo.example", "employee_id": f"E-{n}"}) for n in range(3)]
    fault = {"commit_then_fail": 1.0, "path_regex": r"/account_invitations(\\.json)?$", "times": 1}
    await admin("PUT", "/_admin/faults/kantata", json=fault)
    ids = await kantata.invite_users(hires)
    assert sorted(ids) == sorted(h.email for h in hires)
    assert await kantata.invite_users(hires) == ids
