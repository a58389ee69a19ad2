"""Registering psflow's search attributes on a running server, for every flow (idempotent).

A dev server registers them from ``--search-attribute`` flags only when it creates its database, so a
stack kept from an older psflow lacks the attributes added since; a cluster has no such flags at all.
Both get them through the operator API: the missing ones are added, the ones there are left alone,
and one registered with another type is an error a person must sort out (Temporal cannot retype one).
"""

from __future__ import annotations

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client

from workflows.search_attributes import ALL

__all__ = ["SearchAttributeConflict", "ensure_search_attributes"]

_TYPES = {
    "Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "Bool": IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
    "Int": IndexedValueType.INDEXED_VALUE_TYPE_INT,
    "Datetime": IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
    "Double": IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
    "Text": IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
    "KeywordList": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
}


class SearchAttributeConflict(RuntimeError):
    """A psflow search attribute is registered on the namespace with another type."""


async def ensure_search_attributes(client: Client) -> list[str]:
    """Add psflow's search attributes the client's namespace lacks; returns the names added.

    Raises:
        SearchAttributeConflict: One exists with another type.
    """
    namespace = client.namespace
    listed = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
    existing = {**listed.system_attributes, **listed.custom_attributes}
    wanted = {key.name: _TYPES[key._metadata_type] for key in ALL}
    clashes = [
        f"{name} is {IndexedValueType.Name(existing[name])}"
        for name, kind in wanted.items()
        if name in existing and existing[name] != kind
    ]
    if clashes:
        raise SearchAttributeConflict(
            f"namespace {namespace}: search attribute types differ from psflow's: {', '.join(clashes)}"
        )
    missing = {name: kind for name, kind in wanted.items() if name not in existing}
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
    return sorted(missing)
