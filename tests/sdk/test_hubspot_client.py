"""hubspot-api-client against the sandbox, unpatched: paging, search, batch, associations, pipelines, labels.

The client is told only the emulator's own HTTPS port as its ``host`` and the sandbox's CA as its
``ssl_ca_cert``: the paths, bodies and answers are HubSpot's.
"""

from __future__ import annotations

import uuid

import pytest
from hubspot import HubSpot
from hubspot.crm.associations.v4 import (
    AssociationSpec,
    BatchInputPublicFetchAssociationsBatchRequest,
    PublicFetchAssociationsBatchRequest,
)
from hubspot.crm.associations.v4.schema import PublicAssociationDefinitionCreateRequest
from hubspot.crm.deals import (
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectId,
    BatchReadInputSimplePublicObjectId,
    Filter,
    FilterGroup,
    PublicObjectSearchRequest,
    SimplePublicObjectBatchInput,
    SimplePublicObjectBatchInputForCreate,
    SimplePublicObjectId,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.deals.exceptions import NotFoundException
from hubspot.crm.pipelines import PipelineInput, PipelineStageInput

from tests.sdk.conftest import Sandbox

# The demo portal's private-app token (docs/connectors/hubspot.md).
PRIVATE_APP_TOKEN = "pat-na1-psflow-demo-0000-private-app"


@pytest.fixture
def api(sdk_sandbox: Sandbox) -> HubSpot:
    return HubSpot(access_token=PRIVATE_APP_TOKEN, host=sdk_sandbox.hubspot, ssl_ca_cert=sdk_sandbox.ca_file)


def test_paging_through_every_deal(api: HubSpot) -> None:
    ids: list[str] = []
    after = None
    while True:
        page = api.crm.deals.basic_api.get_page(limit=7, after=after, properties=["dealname", "amount"])
        ids += [deal.id for deal in page.results]
        if page.paging is None:
            break
        after = page.paging.next.after
    assert len(ids) == len(set(ids)) >= 20
    assert sorted(deal.id for deal in api.crm.deals.get_all()) == sorted(ids)


def test_search_with_a_filter_sort_and_pages(api: HubSpot) -> None:
    closed_won = Filter(property_name="dealstage", operator="EQ", value="closedwon")
    request = PublicObjectSearchRequest(
        filter_groups=[FilterGroup(filters=[closed_won])],
        sorts=["amount"],
        properties=["dealname", "dealstage", "amount"],
        limit=2,
    )
    first = api.crm.deals.search_api.do_search(public_object_search_request=request)
    assert first.total >= 3 and len(first.results) == 2
    assert {deal.properties["dealstage"] for deal in first.results} == {"closedwon"}
    request.after = first.paging.next.after
    second = api.crm.deals.search_api.do_search(public_object_search_request=request)
    assert not {d.id for d in first.results} & {d.id for d in second.results}


def test_batch_create_read_update_archive(api: HubSpot) -> None:
    names = [f"SDK batch {uuid.uuid4().hex[:6]} #{n}" for n in range(3)]
    created = api.crm.deals.batch_api.create(
        batch_input_simple_public_object_batch_input_for_create=BatchInputSimplePublicObjectBatchInputForCreate(
            inputs=[
                SimplePublicObjectBatchInputForCreate(
                    properties={"dealname": name, "pipeline": "default", "dealstage": "appointmentscheduled"}
                )
                for name in names
            ]
        )
    )
    assert created.status == "COMPLETE" and sorted(d.properties["dealname"] for d in created.results) == sorted(names)
    ids = [deal.id for deal in created.results]

    read = api.crm.deals.batch_api.read(
        batch_read_input_simple_public_object_id=BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=i) for i in ids], properties=["dealname"]
        )
    )
    assert sorted(d.id for d in read.results) == sorted(ids)

    updated = api.crm.deals.batch_api.update(
        batch_input_simple_public_object_batch_input=BatchInputSimplePublicObjectBatchInput(
            inputs=[SimplePublicObjectBatchInput(id=i, properties={"amount": "1250.50"}) for i in ids]
        )
    )
    assert {d.properties["amount"] for d in updated.results} == {"1250.50"}

    api.crm.deals.batch_api.archive(
        batch_input_simple_public_object_id=BatchInputSimplePublicObjectId(inputs=[SimplePublicObjectId(id=ids[0])])
    )
    with pytest.raises(NotFoundException):
        api.crm.deals.basic_api.get_by_id(ids[0])
    assert api.crm.deals.basic_api.get_by_id(ids[1]).properties["amount"] == "1250.50"


def test_associations_read_and_written(api: HubSpot) -> None:
    company = api.crm.companies.basic_api.create(
        simple_public_object_input_for_create={"properties": {"name": f"Quillfeather {uuid.uuid4().hex[:6]}"}}
    )
    deal = api.crm.deals.basic_api.create(
        simple_public_object_input_for_create=SimplePublicObjectInputForCreate(
            properties={"dealname": "Quillfeather rollout", "pipeline": "default", "dealstage": "qualifiedtobuy"},
            associations=[
                {
                    "to": {"id": company.id},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 5}],
                }
            ],
        )
    )
    linked = api.crm.associations.v4.basic_api.get_page("deals", deal.id, "companies")
    assert [result.to_object_id for result in linked.results] == [company.id]

    contact = api.crm.contacts.basic_api.create(
        simple_public_object_input_for_create={"properties": {"email": f"{uuid.uuid4().hex[:8]}@quillfeather.example"}}
    )
    api.crm.associations.v4.basic_api.create_default("deals", deal.id, "contacts", contact.id)
    labelled = api.crm.associations.v4.basic_api.create(
        "deals",
        deal.id,
        "contacts",
        contact.id,
        [AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=3)],
    )
    assert labelled.from_object_id == deal.id
    contacts = api.crm.associations.v4.basic_api.get_page("deals", deal.id, "contacts")
    assert [result.to_object_id for result in contacts.results] == [contact.id]
    assert 3 in {kind.type_id for kind in contacts.results[0].association_types}


def test_pipelines_and_their_stages_parse(api: HubSpot) -> None:
    pipelines = api.crm.pipelines.pipelines_api.get_all("deals").results
    by_label = {pipeline.label: pipeline for pipeline in pipelines}
    assert pipelines[0].id == "default"
    change_orders = by_label["Change orders"]
    signed = next(stage for stage in change_orders.stages if stage.label == "Signed")
    assert signed.metadata == {"probability": "1.0", "isClosed": "true"}
    assert signed.write_permissions == "CRM_PERMISSIONS_ENFORCEMENT"
    assert api.crm.pipelines.pipelines_api.get_by_id("deals", change_orders.id).stages == change_orders.stages
    created = api.crm.pipelines.pipelines_api.create(
        "deals",
        PipelineInput(
            label=f"SDK pipeline {uuid.uuid4().hex[:6]}",
            display_order=5,
            stages=[PipelineStageInput(label="Open", display_order=0, metadata={"probability": "0.3"})],
        ),
    )
    assert created.stages[0].id != "Open" and created.stages[0].metadata["isClosed"] == "false"


def test_deal_to_deal_labels_and_labelled_associations_parse(api: HubSpot) -> None:
    definitions = api.crm.associations.v4.schema.definitions_api
    pair = definitions.create(
        "deals",
        "deals",
        PublicAssociationDefinitionCreateRequest(
            label="Follows", name=f"follows_{uuid.uuid4().hex[:6]}", inverse_label="Followed by"
        ),
    ).results
    forward, backward = (next(t for t in pair if t.label == label) for label in ("Follows", "Followed by"))
    assert forward.category == "USER_DEFINED" and forward.type_id != backward.type_id
    listed = definitions.get_all("deals", "deals").results
    assert {(t.category, t.type_id) for t in listed} >= {("HUBSPOT_DEFINED", 451), ("USER_DEFINED", forward.type_id)}

    new, old = (
        api.crm.deals.basic_api.create(
            simple_public_object_input_for_create=SimplePublicObjectInputForCreate(
                properties={"dealname": f"SDK deal {n}", "pipeline": "default", "dealstage": "qualifiedtobuy"}
            )
        ).id
        for n in range(2)
    )
    labelled = api.crm.associations.v4.basic_api.create(
        "deals",
        new,
        "deals",
        old,
        [AssociationSpec(association_category="USER_DEFINED", association_type_id=forward.type_id)],
    )
    assert labelled.labels == ["Follows"]
    from_old = api.crm.associations.v4.basic_api.get_page("deals", old, "deals").results
    assert [(t.category, t.type_id, t.label) for t in from_old[0].association_types] == [
        ("HUBSPOT_DEFINED", 451, None),
        ("USER_DEFINED", backward.type_id, "Followed by"),
    ]
    batch = api.crm.associations.v4.batch_api.get_page(
        "deals",
        "deals",
        BatchInputPublicFetchAssociationsBatchRequest(inputs=[PublicFetchAssociationsBatchRequest(id=new)]),
    )
    assert [row.to[0].to_object_id for row in batch.results] == [old]


def test_property_definitions_parse(api: HubSpot) -> None:
    prop = api.crm.properties.core_api.get_by_name("deals", "psflow_parent_deal_id")
    assert (prop.type, prop.field_type, prop.hubspot_defined) == ("string", "text", False)
    names = {p.name for p in api.crm.properties.core_api.get_all("deals").results}
    assert {"psflow_new_end_date", "psflow_effective_date", "dealstage"} <= names
