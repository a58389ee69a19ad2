"""The object types the emulator serves: writable fields, links, filters, orders, validation.

Each `Resource` is served by the generic routes in ``_routes``: index with paging and filters, show,
create (single or bulk), update and delete.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sandbox._db import SandboxDB
from sandbox.systems.kantata import _allocations as a
from sandbox.systems.kantata import _people_rules as p
from sandbox.systems.kantata import _rates as r
from sandbox.systems.kantata import _validation as v


@dataclass(frozen=True)
class Resource:
    """One Kantata object type.

    Attributes:
        key: Plural type key, used in paths and envelopes (``"time_entries"``).
        singular: The request body's wrapper key (``"time_entry"``).
        subject_type: The name external references and custom fields use (``"TimeEntry"``).
        writable: Fields a client may set; others are ignored, like Rails strong parameters.
        belongs_to: Include name → (id field, target type key).
        equality_filters: Query parameter → stored field compared for equality.
        orders: Sortable fields for ``order=field:dir``.
        default_order: The order when none is given.
        prepare: Validation and defaults for creates and updates.
        read_only: Whether clients may only read it.
        bulk_limit: Objects one bulk create may hold (0: no bulk create).
        created: What a create brings with it, run in the create's transaction (a card's versions).
        creatable: Whether the generic ``POST`` creates it (users come only from invitations).
        deletable: Whether ``DELETE`` removes it (a leaver's user stays: their membership is disabled).
    """

    key: str
    singular: str
    subject_type: str
    writable: frozenset[str] = frozenset()
    belongs_to: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    equality_filters: Mapping[str, str] = field(default_factory=dict)
    orders: tuple[str, ...] = ("created_at", "updated_at")
    default_order: str = "created_at:asc"
    prepare: v.Prepare | None = None
    read_only: bool = False
    bulk_limit: int = 0
    created: Callable[[SandboxDB, dict[str, Any]], None] | None = None
    creatable: bool = True
    deletable: bool = True


_WORKSPACE_FIELDS = frozenset({
    "title", "description", "creator_role", "start_date", "due_date", "budgeted", "price",
    "change_orders_enabled", "currency", "archived", "status", "rate_card_id", "workspace_group_ids",
    "stories_are_fixed_fee_by_default", "require_time_approvals", "require_expense_approvals"
})  # fmt: skip
_STORY_FIELDS = frozenset({
    "workspace_id", "title", "description", "story_type", "parent_id", "start_date", "due_date", "state",
    "time_estimate_in_minutes", "budget_estimate_in_cents", "billable", "archived"
})  # fmt: skip
_TIME_ENTRY_FIELDS = frozenset({
    "workspace_id", "date_performed", "time_in_minutes", "billable", "rate_in_cents", "notes", "role_id",
    "story_id", "user_id", "location"
})  # fmt: skip
_STAMPS = ("created_at", "updated_at")
_LINE_ITEM_LINKS = {
    "user": ("user_id", "users"),
    "workspace": ("workspace_id", "workspaces"),
    "story": ("story_id", "stories"),
    "role": ("role_id", "roles"),
}
_SUBMISSION_LINKS = {"user": ("user_id", "users"), "workspace": ("workspace_id", "workspaces")}
_SUBMISSION_FILTERS = {"workspace_id": "workspace_id", "status": "status"}


def _submission_links(key: str) -> dict[str, tuple[str, str]]:
    return {"recent_submission": ("recent_submission_id", key), "active_submission": ("active_submission_id", key)}


_ALL = (
    Resource(
        "workspaces",
        "workspace",
        "Workspace",
        _WORKSPACE_FIELDS,
        belongs_to={"creator": ("creator_id", "users")},
        orders=(*_STAMPS, "title"),
        default_order="updated_at:desc",
        prepare=v.prepare_workspace,
    ),
    Resource(
        "workspace_groups",
        "workspace_group",
        "WorkspaceGroup",
        frozenset({"name", "company"}),
        orders=(*_STAMPS, "name"),
        prepare=v.prepare_named("workspace_groups", "Group", unique=False),
    ),
    Resource(
        "stories",
        "story",
        "Story",
        _STORY_FIELDS,
        belongs_to={"workspace": ("workspace_id", "workspaces")},
        equality_filters={"workspace_id": "workspace_id"},
        orders=(*_STAMPS, "title"),
        prepare=v.prepare_story,
        bulk_limit=300,
    ),
    Resource(
        "users",
        "user",
        "User",
        frozenset({"full_name", "email_address", "headline", "role_id", "manager_id"}),
        belongs_to={"role": ("role_id", "roles"), "manager": ("manager_id", "users")},
        orders=("alphabetical", *_STAMPS),
        default_order="alphabetical:asc",
        prepare=v.prepare_user,
        creatable=False,
        deletable=False,
    ),
    Resource(
        p.INVITATIONS,
        "account_invitation",
        "AccountInvitation",
        orders=_STAMPS,
        read_only=True,
    ),
    Resource(
        p.MEMBERSHIPS,
        "account_membership",
        "AccountMembership",
        belongs_to={"user": ("user_id", "users")},
        equality_filters={"user_id": "user_id", "user_ids": "user_id"},
        read_only=True,
    ),
    Resource(
        p.TIME_OFF,
        "time_off_entry",
        "TimeOffEntry",
        frozenset({"user_id", "requested_date", "hours"}),
        belongs_to={"user": ("user_id", "users")},
        equality_filters={"user_id": "user_id", "user_ids": "user_id"},
        orders=(*_STAMPS, "requested_date"),
        default_order="requested_date:asc",
        prepare=p.prepare_time_off,
        bulk_limit=100,
    ),
    Resource(
        "participations",
        "participation",
        "Participation",
        frozenset({"workspace_id", "user_id", "role", "primary_role_id"}),
        belongs_to={"user": ("user_id", "users"), "workspace": ("workspace_id", "workspaces")},
        equality_filters={"workspace_id": "workspace_id", "user_id": "user_id"},
        prepare=v.prepare_link(
            "participations",
            {"workspace_id": ("workspaces", "Project"), "user_id": ("users", "User")},
            unique=("workspace_id", "user_id"),
            extra=("role",),
        ),
    ),
    Resource(
        p.WORKWEEKS,
        "workweek",
        "Workweek",
        frozenset({"start_date", *p.DAY_FIELDS}),
        orders=(*_STAMPS, "start_date"),
        default_order="start_date:asc",
        prepare=p.prepare_workweek,
    ),
    Resource(
        p.WORKWEEK_MEMBERSHIPS,
        "workweek_membership",
        "WorkweekMembership",
        frozenset({"user_id", "start_date", *p.DAY_FIELDS}),
        belongs_to={"user": ("user_id", "users")},
        equality_filters={"user_id": "user_id", "user_ids": "user_id"},
        orders=(*_STAMPS, "start_date"),
        default_order="start_date:asc",
        prepare=p.prepare_workweek,
    ),
    Resource(
        a.RESOURCES_KEY,
        "workspace_resource",
        "WorkspaceResource",
        frozenset({"workspace_id", "user_id", "role_id"}),
        belongs_to={"user": ("user_id", "users"), "workspace": ("workspace_id", "workspaces")},
        equality_filters={"workspace_id": "workspace_id", "workspace_ids": "workspace_id", "user_ids": "user_id"},
        prepare=a.prepare_workspace_resource,
    ),
    Resource(
        a.ALLOCATIONS,
        "workspace_allocation",
        "WorkspaceAllocation",
        frozenset({"resource_id", "start_date", "end_date", "minutes", "hard", "notes"}),
        belongs_to={
            "workspace": ("workspace_id", "workspaces"),
            "workspace_resource": ("workspace_resource_id", a.RESOURCES_KEY),
        },
        equality_filters={
            "user_ids": "_user_id",
            "workspace_ids": "workspace_id",
            "workspace_resource_ids": "workspace_resource_id",
        },
        orders=("updated_at",),
        default_order="updated_at:desc",
        prepare=a.prepare_allocation,
        bulk_limit=200,
    ),
    Resource(
        "time_entries",
        "time_entry",
        "TimeEntry",
        _TIME_ENTRY_FIELDS,
        belongs_to={**_LINE_ITEM_LINKS, **_submission_links("timesheet_submissions")},
        equality_filters={"workspace_id": "workspace_id", "story_id": "story_id", "created_by": "user_id"},
        orders=(*_STAMPS, "date_performed"),
        default_order="date_performed:desc",
        prepare=v.prepare_line_item("time_entries"),
        bulk_limit=100,
    ),
    Resource(
        "expenses",
        "expense",
        "Expense",
        frozenset({"workspace_id", "date", "category", "amount_in_cents", "billable", "notes", "user_id", "story_id"}),
        belongs_to={**_LINE_ITEM_LINKS, **_submission_links("expense_report_submissions")},
        equality_filters={"workspace_id": "workspace_id"},
        orders=(*_STAMPS, "date", "category"),
        default_order="date:desc",
        prepare=v.prepare_line_item("expenses"),
        bulk_limit=100,
    ),
    Resource(
        "timesheet_submissions",
        "timesheet_submission",
        "Submission",
        belongs_to=_SUBMISSION_LINKS,
        equality_filters=_SUBMISSION_FILTERS,
        read_only=True,
    ),
    Resource(
        "expense_report_submissions",
        "expense_report_submission",
        "Submission",
        belongs_to=_SUBMISSION_LINKS,
        equality_filters=_SUBMISSION_FILTERS,
        read_only=True,
    ),
    Resource(
        "roles",
        "role",
        "Role",
        frozenset({"name"}),
        orders=(*_STAMPS, "name"),
        prepare=v.prepare_named("roles", "Role"),
    ),
    Resource(
        "skills",
        "skill",
        "Skill",
        frozenset({"name", "description", "max_level", "skill_category_id"}),
        orders=(*_STAMPS, "name"),
        prepare=p.prepare_skill,
        bulk_limit=200,
    ),
    Resource(
        "skill_memberships",
        "skill_membership",
        "SkillMembership",
        frozenset({"user_id", "skill_id", "level"}),
        belongs_to={"skill": ("skill_id", "skills"), "user": ("user_id", "users")},
        equality_filters={"user_id": "user_id", "skill_id": "skill_id"},
        prepare=p.prepare_skill_membership,
        bulk_limit=200,
    ),
    Resource(
        "custom_fields",
        "custom_field",
        "CustomField",
        frozenset({"name", "subject_type", "type"}),
        equality_filters={"subject_types": "subject_type"},
        orders=(*_STAMPS, "name"),
        prepare=v.prepare_named("custom_fields", "Custom field"),
    ),
    Resource(
        "custom_field_values",
        "custom_field_value",
        "CustomFieldValue",
        frozenset({"subject_type", "subject_id", "custom_field_id", "value"}),
        belongs_to={"custom_field": ("custom_field_id", "custom_fields")},
        equality_filters={
            "subject_type": "subject_type",
            "with_subject_id": "subject_id",
            "custom_field_id": "custom_field_id",
        },
        prepare=v.prepare_custom_value,
        bulk_limit=100,
    ),
    Resource(
        "rate_card_sets",
        "rate_card_set",
        "RateCardSet",
        frozenset({"title"}),
        orders=(*_STAMPS, "title"),
        prepare=r.prepare_rate_card_set,
    ),
    Resource(
        "rate_card_set_versions",
        "rate_card_set_version",
        "RateCardSetVersion",
        frozenset({"effective_date"}),
        belongs_to={"rate_card_set": ("_rate_card_set_id", "rate_card_sets")},
        equality_filters={"rate_card_set_id": "_rate_card_set_id"},
        orders=("created_at",),
        prepare=r.prepare_set_version,
    ),
    Resource(
        "rate_cards",
        "rate_card",
        "RateCard",
        frozenset({"title", "currency", "rate_card_set_id"}),
        belongs_to={"rate_card_set": ("_rate_card_set_id", "rate_card_sets")},
        equality_filters={"rate_card_set_id": "_rate_card_set_id"},
        orders=(*_STAMPS, "title"),
        prepare=r.prepare_rate_card,
        created=r.rate_card_created,
    ),
    Resource(
        "rate_card_versions",
        "rate_card_version",
        "RateCardVersion",
        frozenset({"default_rate"}),
        belongs_to={
            "rate_card": ("_rate_card_id", "rate_cards"),
            "rate_card_set_version": ("_rate_card_set_version_id", "rate_card_set_versions"),
        },
        equality_filters={"rate_card_id": "_rate_card_id", "rate_card_set_version_id": "_rate_card_set_version_id"},
        orders=("created_at",),
        prepare=r.prepare_card_version,
    ),
    Resource(
        "rate_card_roles",
        "rate_card_role",
        "RateCardRole",
        frozenset({"rate_card_id", "rate_card_version_id", "role_id", "rate"}),
        belongs_to={
            "role": ("role_id", "roles"),
            "rate_card": ("rate_card_id", "rate_cards"),
            "rate_card_version": ("_rate_card_version_id", "rate_card_versions"),
        },
        equality_filters={
            "rate_card_id": "rate_card_id",
            "role_id": "role_id",
            "rate_card_version_id": "_rate_card_version_id",
        },
        prepare=r.prepare_rate_card_role,
    ),
)

_EXTERNAL_REFERENCE_FILTERS = (
    "subject_type", "subject_id", "service_name", "service_model", "service_model_ref", "status",
    "external_status", "external_message",
)  # fmt: skip
EXTERNAL_REFERENCE_RESOURCE = Resource(
    "external_references",
    "external_reference",
    "ExternalReference",
    equality_filters={name: name for name in _EXTERNAL_REFERENCE_FILTERS},
    orders=("created_at", "last_synced_at"),
    default_order="last_synced_at:desc",
    read_only=True,
)
"""Written through ``create_or_update`` or nested in another object's create/update."""

RESOURCES: dict[str, Resource] = {resource.key: resource for resource in (*_ALL, EXTERNAL_REFERENCE_RESOURCE)}
"""Every served object type by its plural key."""

SUBJECT_TYPES: dict[str, str] = {r.subject_type: r.key for r in _ALL if r.subject_type != "Submission"}
"""External reference and custom field subject type → plural key."""
