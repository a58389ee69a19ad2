"""Kantata's wire shapes: the normalized response envelope and the raw objects psflow reads.

Every answer is ``{"count", "meta", "results": [{"key", "id"}], "<type>": {"<id>": {...}}}``:
``results`` gives the order of the primary records, the objects live in id-keyed maps per type,
and ``include=`` side-loads associated objects under their own type keys. `Envelope` keeps the
maps and hands out typed records. Ids are strings of digits; numbers are accepted too.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

__all__ = [
    "Envelope",
    "Meta",
    "RawCustomField",
    "RawCustomFieldValue",
    "RawExpense",
    "RawExternalReference",
    "RawNamed",
    "RawRateCardRole",
    "RawRecord",
    "RawReferenced",
    "RawSkillMembership",
    "RawStory",
    "RawSubmission",
    "RawTimeEntry",
    "RawUser",
    "RawWorkspace",
    "ResultRef",
]


def _as_id(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Id = Annotated[str, BeforeValidator(_as_id)]
Ids = list[Id]


class RawRecord(BaseModel):
    """Base of the raw objects: unknown fields are ignored, ids become strings."""

    model_config = ConfigDict(extra="ignore")

    id: Id


R = TypeVar("R", bound=RawRecord)


class Meta(BaseModel):
    """Paging information of a listing."""

    model_config = ConfigDict(extra="ignore")

    count: int = 0
    page_count: int = 0
    page_number: int = 1
    page_size: int = 0


class ResultRef(BaseModel):
    """One entry of ``results``: which map holds the record, and its id."""

    key: str
    id: Id


class Envelope(BaseModel):
    """A normalized Kantata response."""

    model_config = ConfigDict(extra="allow")

    count: int = 0
    meta: Meta = Field(default_factory=Meta)
    results: list[ResultRef] = Field(default_factory=list)

    def objects(self, key: str) -> dict[str, Any]:
        """The id-keyed map of one type (empty when the response has none)."""
        extra = self.model_extra or {}
        found = extra.get(key)
        return found if isinstance(found, dict) else {}

    def primary(self, key: str, model: type[R]) -> list[R]:
        """The primary records of type ``key``, in ``results`` order."""
        found = self.objects(key)
        return [model.model_validate(found[ref.id]) for ref in self.results if ref.key == key and ref.id in found]

    def side_loaded(self, key: str, model: type[R]) -> dict[str, R]:
        """Every record of type ``key`` in the response (primary and included), by id."""
        return {str(id_): model.model_validate(body) for id_, body in self.objects(key).items()}


class RawReferenced(RawRecord):
    """Any object read only for its id and the ids of its external references."""

    external_reference_ids: Ids = Field(default_factory=list)


class RawExternalReference(RawRecord):
    """A link between a Kantata object and an object in another system."""

    subject_type: str | None = None
    subject_id: Id | None = None
    service_name: str | None = None
    service_model: str | None = None
    service_model_ref: Id | None = None


class RawStatus(BaseModel):
    """A workspace's status hash."""

    model_config = ConfigDict(extra="ignore")

    color: str | None = None
    key: str | None = None
    message: str | None = None


class RawWorkspace(RawRecord):
    """A workspace: a project."""

    title: str
    description: str | None = None
    start_date: date | None = None
    due_date: date | None = None
    budgeted: bool = False
    price_in_cents: int | None = None
    """The budget in minor units; null when the workspace is unbudgeted."""
    price: str | None = None
    """The budget as Kantata displays it (``"$1,000"``, ``"TBD"``); written as whole base units."""
    change_orders_enabled: bool = False
    currency: str | None = None
    archived: bool = False
    status: RawStatus | None = None
    rate_card_id: Id | None = None
    stories_are_fixed_fee_by_default: bool = False
    created_at: datetime | None = None
    external_reference_ids: Ids = Field(default_factory=list)
    workspace_group_ids: Ids = Field(default_factory=list)
    custom_field_value_ids: Ids = Field(default_factory=list)


class RawStory(RawRecord):
    """A story: a task, milestone, deliverable or issue in a workspace."""

    workspace_id: Id
    title: str
    story_type: str = "task"
    time_estimate_in_minutes: int | None = None
    billable: bool = True
    external_reference_ids: Ids = Field(default_factory=list)


class RawUser(RawRecord):
    """A user on the account."""

    full_name: str
    email_address: str
    headline: str | None = None
    role_id: Id | None = None
    external_reference_ids: Ids = Field(default_factory=list)
    skill_ids: Ids = Field(default_factory=list)
    custom_field_value_ids: Ids = Field(default_factory=list)
    account_membership_ids: Ids = Field(default_factory=list)


class RawAccountMembership(RawRecord):
    """A user's membership of the account; a leaver's is disabled, never deleted."""

    user_id: Id
    disabled: bool = False
    permission: str | None = None


class RawAllocation(RawRecord):
    """A workspace resource booked on a project for ``minutes`` spread over start to end date."""

    workspace_id: Id | None = None
    start_date: date
    end_date: date
    minutes: int


class RawWorkweekMembership(RawRecord):
    """A user's working minutes per weekday from a Sunday ``start_date`` on."""

    model_config = ConfigDict(extra="allow")

    user_id: Id
    start_date: date

    def minutes(self) -> dict[str, int]:
        """``sunday_minutes`` … ``saturday_minutes`` as Kantata sent them."""
        extra = self.model_extra or {}
        return {
            name: int(value) for name, value in extra.items() if name.endswith("_minutes") and name != "total_minutes"
        }


class RawTimeOffEntry(RawRecord):
    """Hours one user is off on one day (one entry per user-day: Kantata merges the rest into it)."""

    user_id: Id
    requested_date: date
    hours: Decimal
    updated_at: datetime | None = None


class RawTimeEntry(RawRecord):
    """Time one user logged on one day."""

    workspace_id: Id
    story_id: Id | None = None
    user_id: Id | None = None
    role_id: Id | None = None
    date_performed: date
    time_in_minutes: int
    billable: bool = True
    rate_in_cents: int | None = None
    currency: str | None = None
    approved: bool = False
    notes: str | None = None
    updated_at: datetime | None = None
    recent_submission_id: Id | None = None


class RawExpense(RawRecord):
    """A cost one user incurred on a project."""

    workspace_id: Id
    user_id: Id | None = None
    date: date
    category: str
    amount_in_cents: int
    currency: str | None = None
    billable: bool = True
    approved: bool = False
    notes: str | None = None
    updated_at: datetime | None = None
    recent_submission_id: Id | None = None


class RawSubmission(RawRecord):
    """A timesheet or expense report submission: pending, approved, rejected or cancelled."""

    status: str
    current_resolution_created_at_date: datetime | None = None
    updated_at: datetime | None = None


class RawNamed(RawRecord):
    """Objects known by name: roles, skills, workspace groups, rate cards (``title``)."""

    name: str | None = None
    title: str | None = None
    company: bool | None = None


class RawCustomField(RawRecord):
    """A custom field definition."""

    name: str
    subject_type: str | None = None


class RawCustomFieldValue(RawRecord):
    """One custom field's value on one object."""

    custom_field_id: Id
    subject_type: str | None = None
    subject_id: Id | None = None
    value: Any = None


class RawSkillMembership(RawRecord):
    """A skill assigned to a user."""

    user_id: Id
    skill_id: Id
    level: int = 0


class RawRateCardRole(RawRecord):
    """The bill rate of one role on one rate card, in cents per hour."""

    rate_card_id: Id
    role_id: Id
    rate: int
