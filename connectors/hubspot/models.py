"""Raw HubSpot CRM v3 shapes, as the API sends them: every property value is a string (or null)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AssociatedRecord",
    "AssociationBatch",
    "AssociationBatchRow",
    "AssociationPage",
    "AssociationTypeList",
    "AssociationTypeRef",
    "BatchError",
    "BatchResult",
    "CrmObject",
    "InlineAssociation",
    "InlineAssociations",
    "NextPage",
    "ObjectPage",
    "ObjectRef",
    "Paging",
    "Pipeline",
    "PipelineList",
    "PipelineStage",
]


class HubSpotModel(BaseModel):
    """Base of the raw models: lenient about fields HubSpot adds, ids coerced to strings."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True, coerce_numbers_to_str=True)


class InlineAssociation(HubSpotModel):
    """One associated record as listed under ``associations`` of a v3 read."""

    id: str
    type: str = ""


class InlineAssociations(HubSpotModel):
    """The associated records of one type, as listed under ``associations`` of a v3 read."""

    results: list[InlineAssociation] = []


class CrmObject(HubSpotModel):
    """A CRM record (deal, company, line item, contact).

    Attributes:
        id: HubSpot's record id (``hs_object_id``).
        properties: The requested properties; values are strings, absent values are null.
        associations: Associated record ids by object type, when requested with ``associations=``.
        new: In batch upsert results, whether the record was created by this call.
        object_write_trace_id: The trace id the caller sent with the input, echoed back.
    """

    id: str
    properties: dict[str, str | None] = {}
    created_at: datetime | None = Field(default=None, alias="createdAt")
    updated_at: datetime | None = Field(default=None, alias="updatedAt")
    archived: bool = False
    associations: dict[str, InlineAssociations] = {}
    new: bool | None = None
    object_write_trace_id: str | None = Field(default=None, alias="objectWriteTraceId")

    def prop(self, name: str) -> str | None:
        """A property's value, with empty strings read as absent (HubSpot clears values to "")."""
        value = self.properties.get(name)
        return value if value not in (None, "") else None

    def associated_ids(self, object_type: str, *, preferred_type: str | None = None) -> list[str]:
        """Ids of associated records of `object_type`, those of `preferred_type` first, without repeats."""
        listed = self.associations.get(object_type, InlineAssociations()).results
        ordered = sorted(listed, key=lambda item: item.type != preferred_type) if preferred_type else listed
        return list(dict.fromkeys(item.id for item in ordered))


class NextPage(HubSpotModel):
    """Where the next page starts."""

    after: str
    link: str | None = None


class Paging(HubSpotModel):
    """The paging block of a list or search response; absent on the last page."""

    next: NextPage | None = None


class ObjectPage(HubSpotModel):
    """One page of a list (``GET /crm/v3/objects/{type}``) or search response."""

    results: list[CrmObject]
    paging: Paging | None = None
    total: int | None = None

    @property
    def next_after(self) -> str | None:
        """The ``after`` cursor of the next page, or None on the last page."""
        return self.paging.next.after if self.paging is not None and self.paging.next is not None else None


class BatchError(HubSpotModel):
    """One failed input of a batch call (207 Multi-Status).

    Attributes:
        category: HubSpot's error category, e.g. ``VALIDATION_ERROR``.
        message: What was wrong.
        context: Which inputs failed, e.g. ``{"id": ["hubspot:42"]}`` or ``{"ids": [...]}``.
        errors: Per-property detail.
        object_write_trace_id: The trace id of the failed input, when the caller sent one.
    """

    status: str = "error"
    category: str | None = None
    message: str = ""
    context: dict[str, list[str]] = {}
    errors: list[dict[str, Any]] = []
    object_write_trace_id: str | None = Field(default=None, alias="objectWriteTraceId")

    def input_ids(self) -> list[str]:
        """The ids of the inputs this error is about (trace id first, then the context)."""
        ids = [self.object_write_trace_id] if self.object_write_trace_id else []
        for key in ("id", "ids", "objectWriteTraceId"):
            ids.extend(self.context.get(key, []))
        return list(dict.fromkeys(ids))


class BatchResult(HubSpotModel):
    """The body of a batch read/upsert response (200, or 207 with ``errors``)."""

    status: str = "COMPLETE"
    results: list[CrmObject] = []
    errors: list[BatchError] = []
    num_errors: int = Field(default=0, alias="numErrors")


class PipelineStage(HubSpotModel):
    """A pipeline stage (``/crm/v3/pipelines``): its internal id, label and string ``metadata``."""

    id: str
    label: str = ""
    display_order: int = Field(default=0, alias="displayOrder")
    archived: bool = False
    metadata: dict[str, str] = {}

    @property
    def is_won(self) -> bool:
        """A closed stage with probability 1 (HubSpot's "won" for deals)."""
        return self.metadata.get("isClosed") == "true" and _probability(self) == 1

    @property
    def is_lost(self) -> bool:
        """A closed stage with probability 0."""
        return self.metadata.get("isClosed") == "true" and _probability(self) == 0


def _probability(stage: PipelineStage) -> float | None:
    try:
        return float(stage.metadata.get("probability", ""))
    except ValueError:
        return None


class Pipeline(HubSpotModel):
    """A deal pipeline and its stages."""

    id: str
    label: str = ""
    archived: bool = False
    stages: list[PipelineStage] = []


class PipelineList(HubSpotModel):
    """``GET /crm/v3/pipelines/{type}``: every pipeline, unpaged."""

    results: list[Pipeline]


class AssociationTypeRef(HubSpotModel):
    """One association type as v4 lists it: ``{category, typeId, label}`` (label null when unlabelled)."""

    category: str = "HUBSPOT_DEFINED"
    type_id: int = Field(alias="typeId")
    label: str | None = None


class AssociationTypeList(HubSpotModel):
    """``GET /crm/v4/associations/{from}/{to}/labels``."""

    results: list[AssociationTypeRef]


class AssociatedRecord(HubSpotModel):
    """One associated record of a v4 listing, with every type that links it."""

    to_object_id: str = Field(alias="toObjectId")
    association_types: list[AssociationTypeRef] = Field(default=[], alias="associationTypes")


class AssociationPage(HubSpotModel):
    """One page of ``GET /crm/v4/objects/{type}/{id}/associations/{to}``."""

    results: list[AssociatedRecord]
    paging: Paging | None = None

    @property
    def next_after(self) -> str | None:
        """The ``after`` cursor of the next page, or None on the last page."""
        return self.paging.next.after if self.paging is not None and self.paging.next is not None else None


class ObjectRef(HubSpotModel):
    """``{id}`` of a record in a v4 batch answer."""

    id: str


class AssociationBatchRow(HubSpotModel):
    """One record's associations in a v4 batch read."""

    from_: ObjectRef = Field(alias="from")
    to: list[AssociatedRecord] = []

    @property
    def from_id(self) -> str:
        """The id of the record whose associations these are."""
        return self.from_.id


class AssociationBatch(HubSpotModel):
    """``POST /crm/v4/associations/{from}/{to}/batch/read`` (200, or 207 naming unknown records)."""

    results: list[AssociationBatchRow] = []
    errors: list[BatchError] = []
