"""Kantata rate card set versions: effective dates, publishing, cloning, and how time entries get their rate.

Each rule of research note apis-round2 §1 ("Set versions", "How a time entry gets its rate", "What
an emulator must get right" 1-3) has a test here; the flat cards of the demo firm keep pricing as before.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from sandbox.app import create_app

from .conftest import TEST_TODAY

API = "/kantata/api/v1"
TOKEN = {"Authorization": "Bearer psflow-demo-kantata-token"}
TODAY = TEST_TODAY.isoformat()
NEXT_MONTH = (TEST_TODAY + timedelta(days=30)).isoformat()
LAST_MONTH = (TEST_TODAY - timedelta(days=30)).isoformat()


@pytest.fixture
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    app = create_app(tmp_path_factory.mktemp("rates") / "s.db", seed="demo", today=TEST_TODAY, faults={})
    yield app
    app.state.db.close()


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox", headers=TOKEN) as client:
        yield client


async def _one(response: httpx.Response, key: str) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    return dict(body[key][body["results"][0]["id"]])


class Account:
    """A custom set with one USD card, a role, and a workspace on that card."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def setup(self) -> None:
        self.set_id = (
            await _one(
                await self.http.post(f"{API}/rate_card_sets", json={"rate_card_set": {"title": "Acme"}}),
                "rate_card_sets",
            )
        )["id"]
        first = await self.version(LAST_MONTH)
        card = {"rate_card": {"title": "Acme USD", "currency": "USD", "rate_card_set_id": self.set_id}}
        self.card_id = (await _one(await self.http.post(f"{API}/rate_cards", json=card), "rate_cards"))["id"]
        self.role_id = (
            await _one(await self.http.post(f"{API}/roles", json={"role": {"name": "Rates tester"}}), "roles")
        )["id"]
        await self.row(first, 10000)
        assert (await self.http.put(f"{API}/rate_card_set_versions/{first}/publish")).json() == {"activated": True}
        self.first = first
        workspace = {
            "workspace": {"title": "Acme", "creator_role": "maven", "currency": "USD", "rate_card_id": self.card_id}
        }
        self.workspace_id = (await _one(await self.http.post(f"{API}/workspaces", json=workspace), "workspaces"))["id"]

    async def version(self, day: str | None, clone_id: str | None = None) -> str:
        body: dict[str, Any] = {"rate_card_set_id": self.set_id}
        if day is not None:
            body["effective_date"] = day
        params = {"clone_id": clone_id} if clone_id else {}
        response = await self.http.post(
            f"{API}/rate_card_set_versions", json={"rate_card_set_version": body}, params=params
        )
        return str((await _one(response, "rate_card_set_versions"))["id"])

    async def row(self, version_id: str, cents: int) -> httpx.Response:
        body = {"rate_card_table_row": {"rates": [{"currency": "USD", "rate": cents}]}}
        return await self.http.put(
            f"{API}/rate_card_set_versions/{version_id}/rate_card_table_rows/{self.role_id}", json=body
        )

    async def entry(self, day: str, **extra: Any) -> int:
        body = {
            "workspace_id": self.workspace_id,
            "date_performed": day,
            "time_in_minutes": 60,
            "role_id": self.role_id,
        }
        return int(
            (
                await _one(
                    await self.http.post(f"{API}/time_entries", json={"time_entry": {**body, **extra}}), "time_entries"
                )
            )["rate_in_cents"]
        )


@pytest.fixture
async def account(http: httpx.AsyncClient) -> Account:
    account = Account(http)
    await account.setup()
    return account


async def test_time_entries_are_priced_from_the_version_in_force_on_their_date(account: Account) -> None:
    raise_from = (TEST_TODAY + timedelta(days=3)).isoformat()
    before = await account.entry(TODAY)
    later = await account.version(raise_from, clone_id=account.first)
    assert (await account.row(later, 12500)).status_code == 200
    unpublished = await account.entry(raise_from)
    await account.http.put(f"{API}/rate_card_set_versions/{later}/publish")
    assert (before, unpublished) == (10000, 10000)
    assert await account.entry(raise_from) == 12500
    assert await account.entry(TODAY) == 10000
    # Before a set's first version, the first prices (history logged before the cards).
    assert await account.entry("2001-01-01") == 10000
    assert await account.entry(raise_from, rate_in_cents=9900) == 9900  # an explicit rate wins


async def test_publishing_never_reprices_existing_entries(account: Account) -> None:
    response = await account.http.post(
        f"{API}/time_entries",
        json={
            "time_entry": {
                "workspace_id": account.workspace_id,
                "date_performed": NEXT_MONTH,
                "time_in_minutes": 30,
                "role_id": account.role_id,
            }
        },
    )
    entry_id = response.json()["results"][0]["id"]
    later = await account.version(TODAY, clone_id=account.first)
    await account.row(later, 15000)
    await account.http.put(f"{API}/rate_card_set_versions/{later}/publish")
    again = await account.http.get(f"{API}/time_entries/{entry_id}")
    assert again.json()["time_entries"][entry_id]["rate_in_cents"] == 10000


async def test_a_role_without_a_rate_gets_the_default_rate(account: Account, http: httpx.AsyncClient) -> None:
    versions = await http.get(f"{API}/rate_card_versions", params={"rate_card_id": account.card_id})
    card_version = next(iter(versions.json()["rate_card_versions"]))
    # Published and in force, but default_rate is a card version field Kantata lets change (research §1).
    response = await http.put(
        f"{API}/rate_card_versions/{card_version}", json={"rate_card_version": {"default_rate": 8000}}
    )
    assert response.status_code == 200, response.text
    other = (await _one(await http.post(f"{API}/roles", json={"role": {"name": "Unpriced"}}), "roles"))["id"]
    assert await account.entry(TODAY, role_id=other) == 8000


async def test_the_effective_date_defaults_to_today_and_two_versions_cannot_share_one(account: Account) -> None:
    version = await account.version(None)
    shown = await account.http.get(f"{API}/rate_card_set_versions/{version}")
    assert shown.json()["rate_card_set_versions"][version]["effective_date"] == TODAY
    body = {"rate_card_set_version": {"rate_card_set_id": account.set_id, "effective_date": TODAY}}
    clash = await account.http.post(f"{API}/rate_card_set_versions", json=body)
    assert clash.status_code == 422 and "already has a version effective" in clash.text
    moved = await account.http.put(
        f"{API}/rate_card_set_versions/{version}", json={"rate_card_set_version": {"effective_date": LAST_MONTH}}
    )
    assert moved.status_code == 422 and "already has a version effective" in moved.text


async def test_publishing_is_irreversible_and_freezes_a_version_in_force(account: Account) -> None:
    path = f"{API}/rate_card_set_versions/{account.first}"
    assert (await account.http.put(f"{path}/publish")).json() == {"activated": True}
    assert (await account.http.get(path)).json()["rate_card_set_versions"][account.first]["active"] is True
    moved = await account.http.put(path, json={"rate_card_set_version": {"effective_date": NEXT_MONTH}})
    assert moved.status_code == 422 and "can no longer change" in moved.text
    assert (await account.row(account.first, 1)).status_code == 422
    assert (await account.http.delete(path)).status_code == 422


async def test_a_future_version_may_still_move_and_be_deleted(account: Account) -> None:
    future = await account.version(NEXT_MONTH, clone_id=account.first)
    await account.http.put(f"{API}/rate_card_set_versions/{future}/publish")
    later = (TEST_TODAY + timedelta(days=40)).isoformat()
    moved = await account.http.put(
        f"{API}/rate_card_set_versions/{future}", json={"rate_card_set_version": {"effective_date": later}}
    )
    assert moved.status_code == 200 and moved.json()["rate_card_set_versions"][future]["effective_date"] == later
    assert (await account.http.delete(f"{API}/rate_card_set_versions/{future}")).status_code == 204
    assert (await account.http.get(f"{API}/rate_card_set_versions/{future}")).status_code == 404
    left = await account.http.get(f"{API}/rate_card_versions", params={"rate_card_set_version_id": future})
    assert left.json()["count"] == 0


async def test_clone_copies_card_versions_and_role_rates(account: Account) -> None:
    clone = await account.version(NEXT_MONTH, clone_id=account.first)
    roles = await account.http.get(
        f"{API}/rate_card_versions", params={"rate_card_set_version_id": clone, "include": "rate_card_roles"}
    )
    assert [r["rate"] for r in roles.json()["rate_card_roles"].values()] == [10000]
    empty = await account.version((TEST_TODAY + timedelta(days=50)).isoformat())
    nothing = await account.http.get(
        f"{API}/rate_card_versions", params={"rate_card_set_version_id": empty, "include": "rate_card_roles"}
    )
    assert [v["rate_card_role_ids"] for v in nothing.json()["rate_card_versions"].values()] == [[]]


async def test_filters_sort_and_include_gated_foreign_keys(account: Account) -> None:
    future = await account.version(NEXT_MONTH, clone_id=account.first)
    await account.http.put(f"{API}/rate_card_set_versions/{future}/publish")
    params = {"rate_card_set_id": account.set_id, "order": "created_at:asc"}
    listed = (await account.http.get(f"{API}/rate_card_set_versions", params=params)).json()
    assert [r["id"] for r in listed["results"]] == [account.first, future]
    assert "rate_card_set_id" not in listed["rate_card_set_versions"][future]
    on_today = {**params, "effective_on_date": TODAY, "include": "rate_card_set"}
    in_force = (await account.http.get(f"{API}/rate_card_set_versions", params=on_today)).json()
    assert [r["id"] for r in in_force["results"]] == [account.first]
    assert in_force["rate_card_set_versions"][account.first]["rate_card_set_id"] == account.set_id
    assert account.set_id in in_force["rate_card_sets"]
    bad = await account.http.get(f"{API}/rate_card_set_versions", params={"order": "effective_date:asc"})
    assert bad.status_code == 400


async def test_card_versions_cannot_be_created_directly(http: httpx.AsyncClient) -> None:
    response = await http.post(f"{API}/rate_card_versions", json={"rate_card_version": {"default_rate": 1}})
    assert response.status_code == 422 and "cannot be created directly" in response.text


async def test_the_flat_cards_of_the_demo_firm_are_the_default_sets_first_version(http: httpx.AsyncClient) -> None:
    sets = (await http.get(f"{API}/rate_card_sets")).json()
    (default,) = [s for s in sets["rate_card_sets"].values() if s["account_default"]]
    versions = (await http.get(f"{API}/rate_card_set_versions", params={"rate_card_set_id": default["id"]})).json()
    assert [v["active"] for v in versions["rate_card_set_versions"].values()] == [True]
    cards = (await http.get(f"{API}/rate_cards", params={"rate_card_set_id": default["id"]})).json()
    assert {c["currency"] for c in cards["rate_cards"].values()} == {"USD", "GBP", "EUR"}
    flat = (await http.get(f"{API}/rate_card_roles", params={"rate_card_id": next(iter(cards["rate_cards"]))})).json()
    assert flat["count"] > 0
    day = await http.post("/_admin/kantata/time_entries", json={"date": TODAY, "approval": "approved"})
    entry_id = day.json()["ids"][0]
    entry = (await http.get(f"{API}/time_entries/{entry_id}")).json()["time_entries"][entry_id]
    assert entry["rate_in_cents"] > 0
