"""Resource sync: users read as consultants, and upserted from HR by email."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
from fastapi import FastAPI

from canonical import Consultant
from connectors.kantata import KantataConnector
from sandbox.seed import DemoFirm
from tests.kantata.conftest import MakeConnector

Admin = Callable[..., Awaitable[httpx.Response]]
API = "/kantata/api/v1"

NEWCOMER = Consultant(
    id="workday:W-2001",
    employee_id="E-2001",
    name="Noor Haddad",
    email="noor.haddad@psflow-demo.example",
    title="Consultant",
    role="Consultant",
    cost_centre="CC-TEC-UK",
    skills=("Python", "Data engineering"),
)


async def test_list_users_reads_every_page(make_connector: MakeConnector, shared_app: FastAPI, firm: DemoFirm) -> None:
    connector = make_connector(shared_app, page_size=7)
    consultants = await connector.list_users()
    assert len(consultants) == len(firm.consultants) == len({c.id for c in consultants})
    for consultant in consultants:
        expected = firm.consultant(consultant.email)
        assert (consultant.id, consultant.employee_id, consultant.name) == (
            expected.email,
            expected.employee_id,
            expected.name,
        )
        assert (consultant.title, consultant.role, consultant.cost_centre) == (
            expected.title,
            expected.grade,
            expected.cost_centre,
        )
        assert consultant.skills == tuple(sorted(expected.skills))


async def test_upsert_creates_once_then_updates(kantata: KantataConnector) -> None:
    user_id = await kantata.upsert_user(NEWCOMER)
    assert await kantata.upsert_user(NEWCOMER) == user_id
    promoted = NEWCOMER.model_copy(
        update={
            "title": "Senior Consultant",
            "role": "Senior Consultant",
            "cost_centre": "CC-TEC-US",
            "skills": ("Python",),
        }
    )
    assert await kantata.upsert_user(promoted) == user_id
    (read,) = [c for c in await kantata.list_users() if c.email == NEWCOMER.email]
    assert read.model_copy(update={"source": None}) == promoted.model_copy(update={"id": NEWCOMER.email})


async def test_existing_user_is_matched_by_email_whatever_its_case(kantata: KantataConnector, firm: DemoFirm) -> None:
    seeded = firm.consultants[3]
    hr = Consultant(
        id="workday:x",
        employee_id=seeded.employee_id,
        name=seeded.name,
        email=seeded.email.upper(),
        title="Practice Lead",
        role=seeded.grade,
        cost_centre=seeded.cost_centre,
        skills=(*seeded.skills, "Negotiation"),
    )
    before = await kantata.list_users()
    user_id = await kantata.upsert_user(hr)
    after = {c.email: c for c in await kantata.list_users()}
    assert len(after) == len(before)
    assert after[seeded.email].title == "Practice Lead" and "Negotiation" in after[seeded.email].skills
    source = after[seeded.email].source
    assert source is not None and source.id == user_id


async def test_upsert_after_commit_then_fail_invites_once(
    kantata: KantataConnector, api: httpx.AsyncClient, admin: Admin
) -> None:
    fault = {"commit_then_fail": 1.0, "path_regex": r"/account_invitations(\.json)?$", "times": 1}
    await admin("PUT", "/_admin/faults/kantata", json=fault)
    user_id = await kantata.upsert_user(NEWCOMER)
    assert await kantata.upsert_user(NEWCOMER) == user_id
    found = (await api.get(f"{API}/users.json", params={"by_email_address": NEWCOMER.email})).json()
    assert found["count"] == 1


async def test_a_user_invited_in_kantata_gets_the_employee_reference(
    kantata: KantataConnector, api: httpx.AsyncClient
) -> None:
    body = {"account_invitation": {"full_name": NEWCOMER.name, "email_address": NEWCOMER.email}}
    invited = (await api.post(f"{API}/account_invitations.json", json=body)).json()["account_invitations"]
    created = next(iter(invited.values()))["user_id"]
    assert await kantata.upsert_user(NEWCOMER) == created
    (read,) = [c for c in await kantata.list_users() if c.email == NEWCOMER.email]
    assert read.employee_id == NEWCOMER.employee_id and read.title == NEWCOMER.title
