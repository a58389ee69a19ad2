"""Provisioning and contract amendments: projects, tasks, budgets and rate cards."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI

from canonical import BillingType, Money, Project, ProjectStatus, RateCard, RoleRate, Task
from connectors._core import BusinessError, NotFoundError
from connectors.kantata import KantataConnector
from sandbox.seed import DemoFirm
from sandbox.systems.kantata import DEMO_ACCESS_TOKEN
from tests.kantata.conftest import CountingTransport, MakeConnector, settings_for

Admin = Callable[..., Awaitable[httpx.Response]]
API = "/kantata/api/v1"

PROJECT = Project(
    id="salesforce:006Xa0000001",
    code="PRJ-0100",
    name="Harbour Freight - Finance transformation",
    customer_id="C-0001",
    engagement_id="salesforce:006Xa0000001",
    billing_type=BillingType.FIXED_FEE,
    budget=Money.of("84250.00", "GBP"),
    start_date=date(2026, 7, 1),
    end_date=date(2026, 12, 18),
    tasks=(
        Task(
            id="salesforce:006Xa0000001:1",
            project_id="salesforce:006Xa0000001",
            name="Discovery",
            budget_hours=Decimal("40"),
        ),
        Task(
            id="salesforce:006Xa0000001:2",
            project_id="salesforce:006Xa0000001",
            name="Build",
            budget_hours=Decimal("120.5"),
        ),
    ),
)


async def workspaces_referencing(api: httpx.AsyncClient, project_id: str) -> list[str]:
    params = {"external_reference_service_model_ref": project_id, "archived": "include"}
    body = (await api.get(f"{API}/workspaces.json", params=params)).json()
    return [r["id"] for r in body["results"]]


async def test_seeded_project_reads_back_with_business_keys(reader: KantataConnector, firm: DemoFirm) -> None:
    expected = firm.projects[0]
    workspace_id = await reader.find_project_by_external_id(expected.code)
    assert workspace_id is not None
    project = await reader.get_project(workspace_id)
    assert (project.id, project.code, project.customer_id) == (expected.code, expected.code, expected.client_id)
    assert project.budget == Money.of(expected.budget, expected.currency)
    assert project.rate_card_id == expected.rate_card_id and project.status is ProjectStatus.ACTIVE
    assert [t.id for t in project.tasks] == [t.code for t in expected.tasks]
    assert [t.budget_hours for t in project.tasks] == [t.budget_hours for t in expected.tasks]


async def test_create_project_is_idempotent_and_reads_back(kantata: KantataConnector, api: httpx.AsyncClient) -> None:
    workspace_id = await kantata.create_project(PROJECT, customer_name="Harbour Freight")
    assert await kantata.create_project(PROJECT, customer_name="Harbour Freight") == workspace_id
    assert await workspaces_referencing(api, PROJECT.id) == [workspace_id]
    assert await kantata.find_project_by_external_id(PROJECT.id) == workspace_id
    project = await kantata.get_project(workspace_id)
    assert project.model_copy(update={"source": None, "engagement_id": PROJECT.engagement_id}) == PROJECT
    stories = (await api.get(f"{API}/stories.json", params={"workspace_id": workspace_id})).json()
    assert stories["count"] == 2


async def test_client_groups_are_found_or_created_by_customer_id(
    kantata: KantataConnector, api: httpx.AsyncClient, firm: DemoFirm
) -> None:
    workspace_id = await kantata.create_project(PROJECT, customer_name="not used: the group exists")
    body = (await api.get(f"{API}/workspaces/{workspace_id}.json", params={"include": "workspace_groups"})).json()
    (group,) = body["workspace_groups"].values()
    assert (group["name"], group["company"]) == (firm.client("C-0001").name, True)
    newcomer = PROJECT.model_copy(update={"id": "P-new", "customer_id": "hubspot:981", "tasks": ()})
    await kantata.create_project(newcomer, customer_name="Brand New Client")
    assert (
        await kantata.get_project(await kantata.create_project(newcomer, customer_name="x"))
    ).customer_id == "hubspot:981"
    groups = (await api.get(f"{API}/workspace_groups.json", params={"per_page": 200})).json()
    assert groups["count"] == len(firm.clients) + 1


@pytest.mark.parametrize("mode", ["500", "drop"])
async def test_create_project_after_commit_then_fail_leaves_one_workspace(
    kantata: KantataConnector, api: httpx.AsyncClient, admin: Admin, mode: str
) -> None:
    fault = {"commit_then_fail": 1.0, "commit_then_fail_mode": mode, "path_regex": r"/workspaces(\.json)?$", "times": 1}
    await admin("PUT", "/_admin/faults/kantata", json=fault)
    workspace_id = await kantata.create_project(PROJECT, customer_name="Harbour Freight")
    counters = (await admin("GET", "/_admin/faults")).json()["counters"]["kantata"]
    assert counters["commit_then_fail"] == 1
    assert await kantata.create_project(PROJECT, customer_name="Harbour Freight") == workspace_id
    assert await workspaces_referencing(api, PROJECT.id) == [workspace_id]


async def test_close_is_idempotent_and_reprovisioning_reopens(kantata: KantataConnector) -> None:
    workspace_id = await kantata.create_project(PROJECT, customer_name="Harbour Freight")
    await kantata.close_project(workspace_id)
    await kantata.close_project(workspace_id)
    await kantata.close_project("987654")
    assert (await kantata.get_project(workspace_id)).status is ProjectStatus.CLOSED
    assert await kantata.create_project(PROJECT, customer_name="Harbour Freight") == workspace_id
    assert (await kantata.get_project(workspace_id)).status is ProjectStatus.ACTIVE


async def test_create_tasks_is_idempotent(kantata: KantataConnector) -> None:
    task = Task(id="T-extra", project_id="PRJ-0001", name="Hypercare", budget_hours=Decimal("16"), billable=False)
    workspace_id = await kantata.find_project_by_external_id("PRJ-0001")
    assert workspace_id is not None
    story_ids = await kantata.create_tasks([task], workspace_id=workspace_id)
    assert await kantata.create_tasks([task], workspace_id=workspace_id) == story_ids
    tasks = (await kantata.get_project(workspace_id)).tasks
    assert [t for t in tasks if t.id == "T-extra"] == [task.model_copy(update={"project_id": "PRJ-0001"})]


@pytest.fixture
async def counted(app: FastAPI) -> AsyncIterator[tuple[KantataConnector, CountingTransport]]:
    """A connector (static token) whose requests are recorded, with the custom fields already read."""
    transport = CountingTransport(app)
    async with KantataConnector(settings_for(access_token=DEMO_ACCESS_TOKEN), transport=transport) as connector:
        await connector.create_project(
            PROJECT.model_copy(update={"id": "P-warm-up", "tasks": ()}), customer_name="Harbour Freight"
        )
        transport.sent.clear()
        yield connector, transport


async def test_a_new_project_costs_one_lookup_per_object_and_one_request_for_all_its_tasks(
    counted: tuple[KantataConnector, CountingTransport], api: httpx.AsyncClient
) -> None:
    connector, transport = counted
    project = PROJECT.model_copy(update={"rate_card_id": "RC-GBP"})
    workspace_id = await connector.create_project(project, customer_name="Harbour Freight")
    assert transport.sent == [
        "GET /external_references.json",  # the workspace, which an earlier attempt may have created
        "GET /external_references.json",  # the client's group
        "GET /external_references.json",  # the rate card
        "POST /workspaces.json",
        "POST /custom_field_values.json",  # the project code: a new workspace has none to read first
        "POST /stories.json",  # every task in one bulk create: a new workspace has none to look up
    ]
    stories = (await api.get(f"{API}/stories.json", params={"workspace_id": workspace_id})).json()
    assert stories["count"] == 2
    assert (await connector.get_project(workspace_id)).rate_card_id == "RC-GBP"


async def test_provisioning_again_reads_once_and_adds_only_the_tasks_that_are_missing(
    counted: tuple[KantataConnector, CountingTransport], api: httpx.AsyncClient
) -> None:
    connector, transport = counted
    workspace_id = await connector.create_project(PROJECT, customer_name="Harbour Freight")
    transport.sent.clear()
    assert await connector.create_project(PROJECT, customer_name="Harbour Freight") == workspace_id
    assert transport.sent == [
        "GET /external_references.json",
        "GET /custom_field_values.json",
        "GET /stories.json",
    ]
    extra = Task(id="salesforce:006Xa0000001:3", project_id=PROJECT.id, name="Hypercare")
    grown = PROJECT.model_copy(update={"tasks": (*PROJECT.tasks, extra)})
    transport.sent.clear()
    assert await connector.create_project(grown, customer_name="Harbour Freight") == workspace_id
    assert transport.sent[-1] == "POST /stories.json"
    project = await connector.get_project(workspace_id)
    assert [t.id for t in project.tasks] == [t.id for t in grown.tasks]


@pytest.mark.parametrize("mode", ["500", "drop"])
async def test_a_lost_answer_to_the_bulk_task_create_leaves_one_story_per_task(
    kantata: KantataConnector, api: httpx.AsyncClient, admin: Admin, mode: str
) -> None:
    fault = {"commit_then_fail": 1.0, "commit_then_fail_mode": mode, "path_regex": r"/stories(\.json)?$", "times": 1}
    await admin("PUT", "/_admin/faults/kantata", json=fault)
    workspace_id = await kantata.create_project(PROJECT, customer_name="Harbour Freight")
    assert (await admin("GET", "/_admin/faults")).json()["counters"]["kantata"]["commit_then_fail"] == 1
    assert await kantata.create_project(PROJECT, customer_name="Harbour Freight") == workspace_id
    project = await kantata.get_project(workspace_id)
    assert [t.id for t in project.tasks] == [t.id for t in PROJECT.tasks]


async def test_budget_and_rate_card_amendments(kantata: KantataConnector, api: httpx.AsyncClient) -> None:
    workspace_id = await kantata.create_project(PROJECT, customer_name="Harbour Freight")
    await kantata.set_budget(workspace_id, Money.of("90000.00", "GBP"))
    card = RateCard(
        id="salesforce:006Xa0000001:rates",
        name="Harbour Freight negotiated rates",
        currency="GBP",
        rates=(RoleRate(role="Manager", hourly_rate=Money.of("250", "GBP")),),
    )
    await kantata.set_rate_card(workspace_id, card)
    amended = card.model_copy(
        update={
            "rates": (
                RoleRate(role="Manager", hourly_rate=Money.of("265", "GBP")),
                RoleRate(role="Solution Architect", hourly_rate=Money.of("310.50", "GBP")),
            )
        }
    )
    await kantata.set_rate_card(workspace_id, amended)
    project = await kantata.get_project(workspace_id)
    assert project.budget == Money.of("90000.00", "GBP") and project.rate_card_id == card.id
    workspace = (await api.get(f"{API}/workspaces/{workspace_id}.json")).json()["workspaces"][workspace_id]
    roles = await api.get(
        f"{API}/rate_card_roles.json", params={"rate_card_id": workspace["rate_card_id"], "include": "role"}
    )
    rates = {roles.json()["roles"][r["role_id"]]["name"]: r["rate"] for r in roles.json()["rate_card_roles"].values()}
    assert rates == {"Manager": 26500, "Solution Architect": 31050}


async def test_missing_and_invalid_targets_are_classified(kantata: KantataConnector) -> None:
    with pytest.raises(NotFoundError):
        await kantata.get_project("424242")
    orphan = Task(id="T-orphan", project_id="P", name="Nowhere")
    with pytest.raises(BusinessError, match="workspace_id: Project 424242 does not exist") as caught:
        await kantata.create_tasks([orphan], workspace_id="424242")
    assert caught.value.status == 422 and caught.value.code == "validation"
    with pytest.raises(ValueError, match="fractions of a minor unit"):
        await kantata.set_budget("1", Money.of("10.001", "GBP"))


async def test_tasks_are_read_across_pages(make_connector: MakeConnector, shared_app: FastAPI, firm: DemoFirm) -> None:
    connector = make_connector(shared_app, page_size=2)
    expected = max(firm.projects, key=lambda p: len(p.tasks))
    workspace_id = await connector.find_project_by_external_id(expected.code)
    assert workspace_id is not None and len(expected.tasks) > 2
    assert [t.id for t in (await connector.get_project(workspace_id)).tasks] == [t.code for t in expected.tasks]
