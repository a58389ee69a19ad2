"""HubSpot's pipelines, stage rule, deal↔deal labels and property definitions, as the emulator serves them.

Research note apis-round2 §3, "What an emulator must get right (HubSpot)", items 1-4.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.app import create_app
from sandbox.systems.hubspot import SYSTEM
from sandbox.systems.hubspot._schema import PRIVATE_APP_TOKEN
from sandbox.systems.hubspot._seed import CHANGE_ORDER_PIPELINE, CHANGE_ORDER_STAGES

from .conftest import TEST_TODAY

AUTH = {"Authorization": f"Bearer {PRIVATE_APP_TOKEN}"}
PIPELINES = "/hubspot/crm/v3/pipelines/deals"
DEALS = "/hubspot/crm/v3/objects/deals"
LABELS = "/hubspot/crm/v4/associations/deals/deals/labels"


async def _client(path: Path, seed: str | None) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(path, seed=seed, systems=[SYSTEM], today=TEST_TODAY, faults={})
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox", headers=AUTH
    ) as client:
        yield client
    app.state.db.close()


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(tmp_path / "s.db", "demo"):
        yield client


@pytest.fixture
async def empty(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(tmp_path / "e.db", None):
        yield client


async def _deal(http: httpx.AsyncClient, **properties: str) -> httpx.Response:
    return await http.post(DEALS, json={"properties": {"dealname": "Rule check", **properties}})


async def test_pipelines_are_unpaged_with_string_metadata_and_stage_ids_apart_from_labels(
    http: httpx.AsyncClient,
) -> None:
    answer = (await http.get(PIPELINES)).json()
    assert set(answer) == {"results"}
    default, change_orders = answer["results"]
    assert (default["id"], change_orders["id"], change_orders["label"]) == (
        "default",
        CHANGE_ORDER_PIPELINE,
        "Change orders",
    )
    assert set(default) >= {"id", "label", "displayOrder", "archived", "createdAt", "updatedAt", "stages"}
    signed = next(stage for stage in change_orders["stages"] if stage["label"] == "Signed")
    assert signed["id"] in CHANGE_ORDER_STAGES and signed["id"] != signed["label"]
    assert signed["metadata"] == {"probability": "1.0", "isClosed": "true"}
    assert signed["writePermissions"] == "CRM_PERMISSIONS_ENFORCEMENT"
    assert (await http.get(f"{PIPELINES}/{CHANGE_ORDER_PIPELINE}")).json() == change_orders


async def test_an_account_without_seed_still_has_the_default_pipeline(empty: httpx.AsyncClient) -> None:
    assert [p["id"] for p in (await empty.get(PIPELINES)).json()["results"]] == ["default"]
    assert (await _deal(empty, dealstage="closedwon")).status_code == 201


async def test_a_created_pipeline_gets_numeric_ids_and_its_stages_need_a_probability(http: httpx.AsyncClient) -> None:
    stages = [{"label": "Open", "displayOrder": 0, "metadata": {"probability": 0.5}}]
    created = await http.post(PIPELINES, json={"label": "Renewals", "displayOrder": 2, "stages": stages})
    assert created.status_code == 201
    pipeline = created.json()
    assert pipeline["id"].isdigit() and pipeline["stages"][0]["id"].isdigit()
    assert pipeline["stages"][0]["metadata"] == {"probability": "0.5", "isClosed": "false"}
    again = await http.post(PIPELINES, json={"label": "Renewals", "stages": stages})
    assert (again.status_code, again.json()["category"]) == (409, "CONFLICT")
    no_probability = await http.post(PIPELINES, json={"label": "Other", "stages": [{"label": "Open"}]})
    assert (no_probability.status_code, no_probability.json()["category"]) == (400, "VALIDATION_ERROR")
    renamed = await http.patch(f"{PIPELINES}/{pipeline['id']}", json={"label": "Renewals 2027"})
    assert renamed.json()["label"] == "Renewals 2027"
    assert (await http.get(f"{PIPELINES}/404")).status_code == 404
    assert (await http.patch(f"{PIPELINES}/default", json={"archived": True})).status_code == 400


async def test_a_deal_stage_outside_its_pipeline_is_refused(http: httpx.AsyncClient) -> None:
    refused = await _deal(http, pipeline=CHANGE_ORDER_PIPELINE, dealstage="closedwon")
    assert (refused.status_code, refused.json()["category"]) == (400, "VALIDATION_ERROR")
    assert refused.json()["errors"][0]["context"] == {"propertyName": ["dealstage"]}
    unknown = await _deal(http, pipeline="404", dealstage="closedwon")
    assert unknown.json()["errors"][0]["context"] == {"propertyName": ["pipeline"]}

    drafted = next(iter(CHANGE_ORDER_STAGES))
    deal = (await _deal(http, pipeline=CHANGE_ORDER_PIPELINE, dealstage=drafted)).json()
    moved_out = await http.patch(f"{DEALS}/{deal['id']}", json={"properties": {"pipeline": "default"}})
    assert moved_out.status_code == 400
    moved = await http.patch(
        f"{DEALS}/{deal['id']}", json={"properties": {"pipeline": "default", "dealstage": "qualifiedtobuy"}}
    )
    assert moved.status_code == 200


async def test_a_paired_label_gets_one_type_id_per_direction(http: httpx.AsyncClient) -> None:
    listed = (await http.get(LABELS)).json()["results"]
    assert {"category": "HUBSPOT_DEFINED", "typeId": 451, "label": None} in listed
    created = await http.post(LABELS, json={"label": "Replaces", "name": "replaces", "inverseLabel": "Replaced by"})
    forward, backward = created.json()["results"]
    assert (forward["category"], forward["label"], backward["label"]) == ("USER_DEFINED", "Replaces", "Replaced by")
    assert forward["typeId"] != backward["typeId"]
    assert (await http.post(LABELS, json={"label": "Again", "name": "replaces"})).status_code == 409

    new, old = [(await _deal(http, dealstage="qualifiedtobuy")).json()["id"] for _ in range(2)]
    path = f"/hubspot/crm/v4/objects/deals/{new}/associations/deals/{old}"
    spec = {"associationCategory": "USER_DEFINED", "associationTypeId": forward["typeId"]}
    assert (await http.put(path, json=spec)).status_code == 400  # the body is an array
    linked = await http.put(path, json=[spec])
    assert (linked.status_code, linked.json()["labels"]) == (201, ["Replaces"])

    def types(answer: dict[str, Any]) -> list[tuple[str, int, str | None]]:
        return [(t["category"], t["typeId"], t["label"]) for t in answer["results"][0]["associationTypes"]]

    from_old = (await http.get(f"/hubspot/crm/v4/objects/deals/{old}/associations/deals")).json()
    assert types(from_old) == [("HUBSPOT_DEFINED", 451, None), ("USER_DEFINED", backward["typeId"], "Replaced by")]
    batch = await http.post(
        "/hubspot/crm/v4/associations/deals/deals/batch/read", json={"inputs": [{"id": new}, {"id": "1"}]}
    )
    assert batch.status_code == 207
    assert batch.json()["results"][0]["to"][0]["associationTypes"][1]["typeId"] == forward["typeId"]
    assert batch.json()["errors"][0]["context"] == {"ids": ["1"]}

    renamed = await http.put(
        LABELS, json={"associationTypeId": forward["typeId"], "label": "Supersedes", "inverseLabel": "Superseded by"}
    )
    assert renamed.status_code == 204
    assert (await http.delete(f"{LABELS}/{forward['typeId']}")).status_code == 204
    after = (await http.get(f"/hubspot/crm/v4/objects/deals/{old}/associations/deals")).json()
    assert types(after) == [("HUBSPOT_DEFINED", 451, None)]
    self_link = await http.put(f"/hubspot/crm/v4/objects/deals/{new}/associations/deals/{new}", json=[])
    assert self_link.status_code == 400


async def test_property_definitions_name_the_change_order_fields(http: httpx.AsyncClient) -> None:
    listed = (await http.get("/hubspot/crm/v3/properties/deals")).json()["results"]
    by_name = {prop["name"]: prop for prop in listed}
    parent = by_name["psflow_parent_deal_id"]
    assert (parent["type"], parent["fieldType"], parent["hubspotDefined"]) == ("string", "text", False)
    assert (by_name["psflow_new_end_date"]["type"], by_name["psflow_effective_date"]["type"]) == ("date", "date")
    stages = {option["value"] for option in by_name["dealstage"]["options"]}
    assert set(CHANGE_ORDER_STAGES) | {"closedwon"} <= stages
    assert (await http.get("/hubspot/crm/v3/properties/deals/amount")).json()["type"] == "number"
    assert (await http.get("/hubspot/crm/v3/properties/deals/nope")).status_code == 404
