"""CRM v3 property definitions: what a firm's admin sees under Settings → Properties, read-only.

``GET /crm/v3/properties/{type}`` lists ``{results: [...]}`` unpaged; ``GET .../{name}`` reads one.
A definition names its ``type`` (``string``, ``number``, ``date``, ``datetime``, ``enumeration``)
and ``fieldType`` (``text``, ``number``, ``date``, ``select``), its ``options`` (a deal's
``pipeline`` and ``dealstage`` list the account's pipelines and their stages), whether values are
unique, and ``hubspotDefined``: false for the ``psflow_*`` properties a firm creates for psflow
(research note apis-round2 §3 recommends ``psflow_parent_deal_id`` as the change-order back-pointer).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from sandbox._db import SandboxDB
from sandbox._framework import DB
from sandbox.systems.hubspot import _store as records
from sandbox.systems.hubspot._errors import HubSpotError
from sandbox.systems.hubspot._limits import HubSpotRoute, authorize
from sandbox.systems.hubspot._pipelines import all_pipelines
from sandbox.systems.hubspot._schema import ObjectType, Property

__all__ = ["router"]

router = APIRouter(route_class=HubSpotRoute, dependencies=[Depends(authorize)])

_PROPERTIES = "/crm/v3/properties/{object_type}"
_CREATED = "2024-01-15T09:00:00.000Z"
_FIELD_TYPES = {"string": "text", "number": "number", "date": "date", "datetime": "date", "enumeration": "select"}
_CUSTOM = {
    "psflow_id": ("psflow id", "The canonical id of the record psflow wrote this one from (unique)."),
    "psflow_start_date": ("Engagement start date", "The day the engagement's work starts."),
    "psflow_end_date": ("Engagement end date", "The day the engagement's work ends."),
    "psflow_billing_type": ("Billing type", "Time and materials or fixed fee."),
    "psflow_rate_card": ("Rate card", "The rate card the engagement bills from."),
    "psflow_parent_deal_id": (
        "Original deal ID",
        "On a change-order deal: the id of the deal (contract) it changes.",
    ),
    "psflow_new_end_date": ("New end date", "On a change-order deal: the contract's end date after the change."),
    "psflow_effective_date": ("Effective date", "On a change-order deal: the day the change takes effect."),
    "psflow_role": ("Role", "The delivery role whose hours this line item sells."),
    "psflow_currency": ("Billing currency", "The currency the client is billed in."),
    "psflow_payment_terms": ("Payment terms", "The client's payment terms, e.g. Net 30."),
}


def _options(db: SandboxDB, name: str, spec: Property) -> list[dict[str, Any]]:
    pipelines = all_pipelines(db)
    if spec.pipeline_managed and name == "pipeline":
        listed = [(p["id"], p["label"]) for p in pipelines]
    elif spec.pipeline_managed:
        listed = [(stage["id"], f"{stage['label']} ({p['label']})") for p in pipelines for stage in p["stages"]]
    else:
        listed = [(option, option.replace("_", " ").title()) for option in spec.options]
    return [
        {"value": value, "label": label, "displayOrder": order, "hidden": False}
        for order, (value, label) in enumerate(listed)
    ]


def _definition(db: SandboxDB, object_type: ObjectType, name: str, spec: Property) -> dict[str, Any]:
    label, description = _CUSTOM.get(name, (name.replace("_", " ").capitalize(), ""))
    custom = name.startswith("psflow_")
    return {
        "name": name,
        "label": label,
        "description": description,
        "type": spec.type,
        "fieldType": _FIELD_TYPES[spec.type],
        "groupName": "psflow" if custom else f"{object_type.singular.replace('_', '')}information",
        "options": _options(db, name, spec),
        "displayOrder": -1,
        "hasUniqueValue": spec.unique,
        "hidden": False,
        "formField": False,
        "calculated": name == "hs_object_id" or (object_type.name, name) == ("line_items", "amount"),
        "externalOptions": spec.pipeline_managed,
        "hubspotDefined": not custom,
        "modificationMetadata": {
            "archivable": custom,
            "readOnlyDefinition": not custom,
            "readOnlyValue": spec.read_only,
        },
        "createdAt": _CREATED,
        "updatedAt": _CREATED,
        "archived": False,
    }


@router.get(_PROPERTIES)
def list_properties(object_type: str, db: DB) -> dict[str, Any]:
    """Every property definition of an object type, unpaged."""
    spec = records.object_type(object_type)
    return {"results": [_definition(db, spec, name, prop) for name, prop in spec.properties.items()]}


@router.get(f"{_PROPERTIES}/{{property_name}}")
def read_property(object_type: str, property_name: str, db: DB) -> dict[str, Any]:
    """One property definition."""
    spec = records.object_type(object_type)
    prop = spec.properties.get(property_name)
    if prop is None:
        raise HubSpotError(
            404, "OBJECT_NOT_FOUND", f"Unable to find property {property_name} of {object_type}", context={}
        )
    return _definition(db, spec, property_name, prop)
