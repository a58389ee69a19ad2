"""psflow's search attributes are registered on a namespace that lacks them, once, and a clash is refused."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from google.protobuf.duration_pb2 import Duration
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.client import Client

from stack.search_attributes import SearchAttributeConflict, ensure_search_attributes
from workflows.search_attributes import ALL


async def _fresh_namespace(client: Client) -> Client:
    name = f"sa-{uuid.uuid4().hex[:8]}"
    retention = Duration()
    retention.FromTimedelta(timedelta(days=1))
    await client.workflow_service.register_namespace(
        RegisterNamespaceRequest(namespace=name, workflow_execution_retention_period=retention)
    )
    return await Client.connect(client.service_client.config.target_host, namespace=name)


async def test_a_namespace_without_them_gets_every_one_once(temporal_client: Client) -> None:
    client = await _fresh_namespace(temporal_client)
    assert await ensure_search_attributes(client) == sorted(key.name for key in ALL)
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    assert {key.name for key in ALL} <= set(listed.custom_attributes)
    assert await ensure_search_attributes(client) == []


async def test_one_registered_with_another_type_is_refused_by_name(temporal_client: Client) -> None:
    client = await _fresh_namespace(temporal_client)
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=client.namespace, search_attributes={"ContractId": IndexedValueType.INDEXED_VALUE_TYPE_INT}
        )
    )
    with pytest.raises(SearchAttributeConflict, match="ContractId is INDEXED_VALUE_TYPE_INT"):
        await ensure_search_attributes(client)
