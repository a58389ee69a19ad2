"""The registry of canonical entities and their JSON Schema export (``psflow schema export``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from canonical._types import CanonicalModel
from canonical.billing import Invoice
from canonical.commercial import ContractAmendment, LineItem, Opportunity, RateCard, RateSchedule
from canonical.delivery import Engagement, Project, Task
from canonical.parties import Consultant, Customer, TimeOff
from canonical.time_expense import Expense, TimeEntry, Timesheet

ENTITIES: dict[str, type[CanonicalModel]] = {
    "customer": Customer,
    "engagement": Engagement,
    "project": Project,
    "task": Task,
    "consultant": Consultant,
    "time_off": TimeOff,
    "rate_card": RateCard,
    "rate_schedule": RateSchedule,
    "time_entry": TimeEntry,
    "timesheet": Timesheet,
    "expense": Expense,
    "invoice": Invoice,
    "contract_amendment": ContractAmendment,
    "opportunity": Opportunity,
    "line_item": LineItem,
}


def json_schema(name: str) -> dict[str, Any]:
    """The JSON Schema of one entity, stamped with its schema version."""
    model = ENTITIES[name]
    schema = model.model_json_schema(mode="validation")
    schema["$id"] = f"urn:psflow:canonical:{name}:v{model.SCHEMA_VERSION}"
    schema["x-psflow-schema-version"] = model.SCHEMA_VERSION
    return schema


def render(name: str) -> str:
    """The schema file's exact text, so export and the staleness check agree byte for byte."""
    return json.dumps(json_schema(name), indent=2, sort_keys=True) + "\n"


def export(directory: Path) -> list[Path]:
    """Write one ``<entity>.json`` per entity into ``directory`` and return the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in ENTITIES:
        path = directory / f"{name}.json"
        path.write_text(render(name), encoding="utf-8")
        written.append(path)
    return written


def stale(directory: Path) -> list[str]:
    """Entities whose checked-in schema differs from the code (missing files count as stale)."""
    result = []
    for name in ENTITIES:
        path = directory / f"{name}.json"
        if not path.exists() or path.read_text(encoding="utf-8") != render(name):
            result.append(name)
    return result
