"""Write the demo firm into Kantata's shape.

Users are the firm's consultants (same emails; employee id as an external reference, cost
centre as the "Cost Centre" custom field, skills as skill memberships). Clients are company
groups, rate cards carry their role rates, and every won project is a workspace with its team
as participations and its tasks as stories. The firm's time entries and expenses sit on weekly
submissions whose status matches the firm's approval state.

External references use service name ``psflow`` and the firm's business keys: ``Employee`` →
employee id, ``Customer`` → client id, ``Project`` → project code, ``Task`` → task code,
``RateCard`` → rate card id.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from sandbox._db import SandboxDB
from sandbox.seed import ROLES, DemoFirm, Project
from sandbox.systems.kantata._approvals import EXPENSES, STATUSES, TIME, submit
from sandbox.systems.kantata._budget import budget_fields
from sandbox.systems.kantata._rates import default_set, rate_card_created
from sandbox.systems.kantata._store import NAME, timestamp, upsert_reference

SERVICE_NAME = "psflow"
PROJECT_CODE_FIELD = "Project Code"
COST_CENTRE_FIELD = "Cost Centre"


def cents(amount: Decimal) -> int:
    """An amount in a two-decimal currency, in cents."""
    return int((amount * 100).to_integral_value())


def _at(day: date, hour: int) -> str:
    return timestamp(datetime.combine(day, time(hour), UTC))


def _reference(db: SandboxDB, subject_type: str, subject_id: str, model: str, ref: str) -> None:
    payload = {"service_name": SERVICE_NAME, "service_model": model, "service_model_ref": ref}
    upsert_reference(db, subject_type, subject_id, payload)


def _custom_value(db: SandboxDB, field_id: str, subject_type: str, subject_id: str, value: str) -> None:
    db.insert(
        NAME,
        "custom_field_values",
        {
            "subject_type": subject_type,
            "subject_id": subject_id,
            "custom_field_id": field_id,
            "value": value,
            "display_value": value,
        },
    )


def _named(db: SandboxDB, key: str, names: list[str], stamp: str) -> dict[str, str]:
    return {
        name: db.insert(NAME, key, {"name": name, "created_at": stamp, "updated_at": stamp})["id"] for name in names
    }


def _users(
    db: SandboxDB, firm: DemoFirm, roles: Mapping[str, str], fields: Mapping[str, str], stamp: str
) -> dict[str, str]:
    skills = _named(db, "skills", sorted({s for c in firm.consultants for s in c.skills}), stamp)
    users: dict[str, str] = {}
    for consultant in sorted(firm.consultants, key=lambda c: c.employee_id):
        user = db.insert(
            NAME,
            "users",
            {
                "full_name": consultant.name,
                "email_address": consultant.email,
                "_email": consultant.email.lower(),
                "headline": consultant.title,
                "role_id": roles[consultant.grade],
                "account_id": "1",
                "created_at": stamp,
                "updated_at": stamp,
            },
        )
        users[consultant.employee_id] = user["id"]
        membership = {"user_id": user["id"], "account_id": "1", "permission": "collaborator", "disabled": False}
        db.insert(NAME, "account_memberships", {**membership, "created_at": stamp, "updated_at": stamp})
        _reference(db, "User", user["id"], "Employee", consultant.employee_id)
        _custom_value(db, fields[COST_CENTRE_FIELD], "User", user["id"], consultant.cost_centre)
        for skill in consultant.skills:
            db.insert(NAME, "skill_memberships", {"user_id": user["id"], "skill_id": skills[skill], "level": 3})
    for consultant in firm.consultants:
        if consultant.manager_id is not None:
            db.update(NAME, "users", users[consultant.employee_id], {"manager_id": users[consultant.manager_id]})
    return users


def _rate_cards(db: SandboxDB, firm: DemoFirm, roles: Mapping[str, str], stamp: str) -> dict[str, str]:
    """The firm's cards, one per currency, in the default set's first version (see ``_pricing``)."""
    cards: dict[str, str] = {}
    rate_set = default_set(db)
    for card in firm.rate_cards:
        record = db.insert(
            NAME,
            "rate_cards",
            {
                "title": card.name,
                "currency": card.currency,
                "_rate_card_set_id": rate_set["id"],
                "created_at": stamp,
                "updated_at": stamp,
            },
        )
        cards[card.id] = record["id"]
        _reference(db, "RateCard", record["id"], "RateCard", card.id)
        rate_card_created(db, record)
        version = db.query(NAME, "rate_card_versions", where={"_rate_card_id": record["id"]})[0]
        for rate in card.rates:
            link = {"rate_card_id": record["id"], "role_id": roles[rate.role], "rate": cents(rate.hourly_rate)}
            row = {**link, "_rate_card_version_id": version["id"], "created_at": stamp, "updated_at": stamp}
            db.insert(NAME, "rate_card_roles", row)
    return cards


def _workspace(
    db: SandboxDB, firm: DemoFirm, project: Project, ids: Mapping[str, Mapping[str, str]], code_field: str
) -> tuple[str, dict[str, str]]:
    stamp = _at(min(project.start_date, firm.today), 9)
    client = firm.client(project.client_id)
    workspace = db.insert(
        NAME,
        "workspaces",
        {
            "title": project.name,
            "description": f"{client.name}: {project.billing_type.replace('_', ' ')} engagement",
            "creator_role": "maven",
            "creator_id": ids["users"][project.project_manager_id],
            "start_date": project.start_date.isoformat(),
            "due_date": project.end_date.isoformat(),
            **budget_fields(price_in_cents=cents(project.budget), currency=project.currency, budgeted=True),
            "change_orders_enabled": True,
            "currency": project.currency,
            "rate_card_id": ids["cards"][project.rate_card_id],
            "stories_are_fixed_fee_by_default": project.billing_type == "fixed_fee",
            "require_time_approvals": True,
            "require_expense_approvals": True,
            "archived": False,
            "status": {"color": "green", "key": "200", "message": "Active"},
            "_workspace_group_ids": [ids["groups"][project.client_id]],
            "created_at": stamp,
            "updated_at": stamp,
        },
    )
    _reference(db, "Workspace", workspace["id"], "Project", project.code)
    _custom_value(db, code_field, "Workspace", workspace["id"], project.code)
    for employee_id in project.team:
        consultant = firm.consultant(employee_id)
        link = {"workspace_id": workspace["id"], "user_id": ids["users"][employee_id], "role": "maven"}
        db.insert(
            NAME, "participations", {**link, "primary_role_id": ids["roles"][consultant.grade], "created_at": stamp}
        )
    card = firm.rate_card(project.rate_card_id)
    stories: dict[str, str] = {}
    for task in project.tasks:
        story = db.insert(
            NAME,
            "stories",
            {
                "workspace_id": workspace["id"],
                "title": task.name,
                "story_type": "task",
                "state": "started",
                "billable": True,
                "archived": False,
                "time_estimate_in_minutes": int(task.budget_hours * 60),
                "budget_estimate_in_cents": cents(task.budget_hours * card.rate_for(task.role)),
                "created_at": stamp,
                "updated_at": stamp,
            },
        )
        stories[task.code] = story["id"]
        _reference(db, "Story", story["id"], "Task", task.code)
    return workspace["id"], stories


def _line_items(
    db: SandboxDB, firm: DemoFirm, ids: Mapping[str, Mapping[str, str]], stories: Mapping[str, str]
) -> None:
    by_state: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for entry in firm.time_entries:
        stamp = _at(entry.date_performed, 17)
        record = {
            "workspace_id": ids["workspaces"][entry.project_code],
            "story_id": stories[entry.task_code],
            "user_id": ids["users"][entry.consultant_id],
            "role_id": ids["roles"][entry.role],
            "date_performed": entry.date_performed.isoformat(),
            "time_in_minutes": int(entry.hours * 60),
            "billable": entry.billable,
            "rate_in_cents": cents(entry.bill_rate),
            "currency": entry.currency,
            "notes": entry.notes,
            "approved": False,
            "is_invoiced": False,
            "created_at": stamp,
            "updated_at": stamp,
        }
        by_state[(TIME, entry.approval_state)].append(db.insert(NAME, TIME, record))
    for expense in firm.expenses:
        stamp = _at(expense.date_incurred, 18)
        record = {
            "workspace_id": ids["workspaces"][expense.project_code],
            "user_id": ids["users"][expense.consultant_id],
            "date": expense.date_incurred.isoformat(),
            "category": expense.category,
            "amount_in_cents": cents(expense.amount),
            "currency": expense.currency,
            "billable": expense.billable,
            "notes": expense.description,
            "approved": False,
            "is_invoiced": False,
            "created_at": stamp,
            "updated_at": stamp,
        }
        by_state[(EXPENSES, "approved" if expense.approved else "submitted")].append(db.insert(NAME, EXPENSES, record))
    for (kind, state), items in sorted(by_state.items()):
        submit(db, kind, items, STATUSES[state], backdated=True)


def seed(db: SandboxDB, firm: DemoFirm) -> None:
    """Write the firm's Kantata share: users, clients, rate cards, projects, time and expenses."""
    stamp = _at(firm.today.replace(day=1), 8)
    fields = {
        name: db.insert(NAME, "custom_fields", {"name": name, "subject_type": subject, "type": "string"})["id"]
        for name, subject in ((PROJECT_CODE_FIELD, "Workspace"), (COST_CENTRE_FIELD, "User"))
    }
    roles = _named(db, "roles", list(ROLES), stamp)
    users = _users(db, firm, roles, fields, stamp)
    groups: dict[str, str] = {}
    for client in firm.clients:
        group = db.insert(NAME, "workspace_groups", {"name": client.name, "company": True, "created_at": stamp})
        groups[client.id] = group["id"]
        _reference(db, "WorkspaceGroup", group["id"], "Customer", client.id)
    ids: dict[str, dict[str, str]] = {
        "roles": roles,
        "users": users,
        "groups": groups,
        "cards": _rate_cards(db, firm, roles, stamp),
        "workspaces": {},
    }
    stories: dict[str, str] = {}
    for project in firm.projects:
        workspace_id, project_stories = _workspace(db, firm, project, ids, fields[PROJECT_CODE_FIELD])
        ids["workspaces"][project.code] = workspace_id
        stories.update(project_stories)
    _line_items(db, firm, ids, stories)
