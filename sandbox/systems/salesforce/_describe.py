"""sObject metadata as the describe calls return it, drawn from ``_schema``.

- ``GET /sobjects`` — the global describe: every object's basic information.
- ``GET /sobjects/{type}`` — ``{"objectDescribe", "recentItems"}``.
- ``GET /sobjects/{type}/describe`` — the object with its fields, child relationships and record
  types.

Labels are derived from API names (``BillingPostalCode`` → "Billing Postal Code", ``AccountId`` →
"Account ID", ``Payment_Terms__c`` → "Payment Terms"); lengths are Salesforce's defaults.
"""

from __future__ import annotations

import re
from typing import Any

from sandbox.systems.salesforce._schema import Child, Field, SObject

__all__ = ["basic_info", "describe", "global_describe"]

_SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "int": "xsd:int",
}
_LENGTHS = {"id": 18, "reference": 18, "textarea": 32000, "email": 80, "phone": 40, "url": 255}
_NUMBER_DIGITS = {"currency": (18, 2), "double": (18, 2), "percent": (3, 0), "int": (9, 0)}
_MASTER_RECORD_TYPE = {
    "active": True,
    "available": True,
    "defaultRecordTypeMapping": True,
    "developerName": "Master",
    "master": True,
    "name": "Master",
    "recordTypeId": "012000000000000AAA",
}


def _label(name: str) -> str:
    base = name.removesuffix("__c").replace("_", " ")
    if base.endswith("Id") and len(base) > 2:
        base = f"{base[:-2]} ID"
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", base).strip()


def _urls(sobj: SObject, version: str) -> dict[str, str]:
    root = f"/services/data/v{version}/sobjects/{sobj.name}"
    return {"sobject": root, "describe": f"{root}/describe", "rowTemplate": f"{root}/{{ID}}"}


def basic_info(sobj: SObject, version: str) -> dict[str, Any]:
    """The object's basic information (global describe and ``GET /sobjects/{type}``)."""
    return {
        "name": sobj.name,
        "label": _label(sobj.name),
        "labelPlural": f"{_label(sobj.name)}s",
        "keyPrefix": sobj.prefix,
        "custom": sobj.name.endswith("__c"),
        "createable": True,
        "updateable": True,
        "deletable": True,
        "queryable": True,
        "retrieveable": True,
        "searchable": True,
        "layoutable": True,
        "urls": _urls(sobj, version),
    }


def _field(sobj: SObject, field: Field) -> dict[str, Any]:
    precision, scale = _NUMBER_DIGITS.get(field.type, (0, 0))
    text = field.type not in _SOAP_TYPES
    return {
        "name": field.name,
        "label": f"{_label(sobj.name)} ID" if field.type == "id" else _label(field.name),
        "type": field.type,
        "soapType": _SOAP_TYPES.get(field.type, "xsd:string"),
        "length": _LENGTHS.get(field.type, 255) if text or field.type in ("id", "reference") else 0,
        "precision": precision,
        "scale": scale,
        "custom": field.name.endswith("__c"),
        "nillable": not field.required and field.type not in ("id", "boolean"),
        "createable": field.createable,
        "updateable": field.updateable,
        "defaultedOnCreate": field.type in ("id", "boolean", "datetime") and not field.createable,
        "externalId": field.external_id,
        "idLookup": field.type == "id" or field.external_id,
        "unique": False,
        "calculated": False,
        "filterable": True,
        "sortable": field.type != "textarea",
        "defaultValue": None,
        "picklistValues": [
            {"active": True, "defaultValue": False, "label": value, "validFor": None, "value": value}
            for value in field.values
        ],
        "restrictedPicklist": bool(field.values),
        "referenceTo": [field.reference_to] if field.reference_to else [],
        "relationshipName": field.relationship,
    }


def _child(child: Child) -> dict[str, Any]:
    return {
        "childSObject": child.sobject,
        "field": child.field,
        "relationshipName": child.name,
        "cascadeDelete": child.cascade_delete,
        "deprecatedAndHidden": False,
        "restrictedDelete": False,
    }


def describe(sobj: SObject, version: str) -> dict[str, Any]:
    """``GET /sobjects/{type}/describe``."""
    return {
        **basic_info(sobj, version),
        "fields": [_field(sobj, field) for field in sobj.fields],
        "childRelationships": [_child(child) for child in sobj.children],
        "recordTypeInfos": [{**_MASTER_RECORD_TYPE, "urls": {}}],
    }


def global_describe(sobjects: list[SObject], version: str) -> dict[str, Any]:
    """``GET /sobjects``."""
    return {"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": [basic_info(s, version) for s in sobjects]}
