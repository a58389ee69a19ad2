"""Contract amendments in the PSA: a workspace's budget and end date, and tasks for roles the contract adds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import httpx
import pytest
from fastapi import FastAPI

from canonical import Money
from connectors._core import BusinessError, NotFoundError
from connectors.kantata import KantataConnector
from tests.kantata.conftest import CountingTransport, settings_for
from tests.kantata.test_projects import API, PROJECT


@pytest.fixture
async def counted(app: FastAPI) -> AsyncIterator[tuple[KantataConnector, CountingTransport]]:
    transport = CountingTransport(app)
    async with KantataConnector(settings_for(), transport=transport) as connector:
        yield connector, transport


def writes(transport: CountingTransport) -> list[str]:
    return [sent for sent in transport.sent if not sent.startswith("GET ")]


async def read_workspace(api: httpx.AsyncClient, workspace_id: str) -> dict[str, object]:
    body = (await api.get(f"{API}/workspaces/{workspace_id}.json")).json()
    return dict(body["workspaces"][workspace_id])


async def test_budget_and_end_date_are_written_once_in_the_documented_shape(
    counted: tuple[KantataConnector, CountingTransport], api: httpx.AsyncClient
) -> None:
    kantata, transport = counted
    workspace_id = await kantata.create_project(PROJECT, customer_name="Harbour Freight")
    transport.sent.clear()

    await kantata.amend_workspace(workspace_id, budget=Money.of("96500.00", "GBP"), end_date=date(2027, 2, 26))
    assert writes(transport) == [f"PUT /workspaces/{workspace_id}.json"]
    workspace = await read_workspace(api, workspace_id)
    assert workspace["price_in_cents"] == 9_650_000 and workspace["price"] == "£96,500"
    assert workspace["due_date"] == "2027-02-26" and workspace["budgeted"] is True

    transport.sent.clear()
    await kantata.amend_workspace(workspace_id, budget=Money.of("96500", "GBP"), end_date=date(2027, 2, 26))
    assert writes(transport) == [], "the same values again write nothing"
    project = await kantata.get_project(workspace_id)
    assert project.budget == Money.of("96500", "GBP") and project.end_date == date(2027, 2, 26)


async def test_one_field_at_a_time_leaves_the_other_as_it_was(
    kantata: KantataConnector, api: httpx.AsyncClient
) -> None:
    workspace_id = await kantata.create_project(PROJECT, customer_name="Harbour Freight")
    await kantata.amend_workspace(workspace_id, budget=None, end_date=date(2027, 1, 29))
    workspace = await read_workspace(api, workspace_id)
    assert workspace["due_date"] == "2027-01-29" and workspace["price_in_cents"] == 8_425_000

    await kantata.amend_workspace(workspace_id, budget=Money.of("100000", "GBP"), end_date=None)
    workspace = await read_workspace(api, workspace_id)
    assert workspace["due_date"] == "2027-01-29" and workspace["price_in_cents"] == 10_000_000


async def test_a_budget_with_cents_is_kept_in_whole_units(kantata: KantataConnector, api: httpx.AsyncClient) -> None:
    workspace_id = await kantata.create_project(PROJECT, customer_name="Harbour Freight")
    await kantata.amend_workspace(workspace_id, budget=Money.of("90000.50", "GBP"), end_date=None)
    assert (await read_workspace(api, workspace_id))["price_in_cents"] == 9_000_100


async def test_refused_amendments_name_the_field_and_change_nothing(
    counted: tuple[KantataConnector, CountingTransport], api: httpx.AsyncClient
) -> None:
    kantata, transport = counted
    workspace_id = await kantata.create_project(PROJECT, customer_name="Harbour Freight")
    before = await read_workspace(api, workspace_id)
    transport.sent.clear()

    with pytest.raises(BusinessError, match=r"price: workspace \d+ is budgeted in GBP") as currency:
        await kantata.amend_workspace(workspace_id, budget=Money.of("1000", "USD"), end_date=None)
    assert not currency.value.retryable and writes(transport) == []

    with pytest.raises(BusinessError, match="due_date: due_date 2026-06-30 must not be before") as early:
        await kantata.amend_workspace(workspace_id, budget=Money.of("1", "GBP"), end_date=date(2026, 6, 30))
    assert early.value.status == 422 and not early.value.retryable
    after = await read_workspace(api, workspace_id)
    kept = ("price_in_cents", "due_date")
    assert {k: after[k] for k in kept} == {k: before[k] for k in kept}

    with pytest.raises(NotFoundError):
        await kantata.amend_workspace("424242", budget=None, end_date=date(2027, 1, 1))


async def test_new_roles_get_one_task_each_found_again_by_reference(
    counted: tuple[KantataConnector, CountingTransport], api: httpx.AsyncClient
) -> None:
    kantata, transport = counted
    workspace_id = await kantata.create_project(PROJECT, customer_name="Harbour Freight")
    transport.sent.clear()

    story_ids = await kantata.add_roles(workspace_id, ["Data Engineer", "Solution Architect"])
    assert writes(transport).count("POST /stories.json") == 1
    stories = (await api.get(f"{API}/stories.json", params={"only": ",".join(story_ids)})).json()["stories"]
    assert [stories[i]["title"] for i in story_ids] == ["Data Engineer", "Solution Architect"]
    roles = (await api.get(f"{API}/roles.json", params={"per_page": 200})).json()["roles"]
    assert {"Data Engineer", "Solution Architect"} <= {r["name"] for r in roles.values()}

    transport.sent.clear()
    assert await kantata.add_roles(workspace_id, ["Solution Architect", "Data Engineer"]) == story_ids[::-1]
    assert writes(transport) == [], "roles added before are found by their external reference"
    tasks = (await kantata.get_project(workspace_id)).tasks
    assert [t.id for t in tasks][-2:] == [f"{PROJECT.id}:role:Data Engineer", f"{PROJECT.id}:role:Solution Architect"]
