"""The canonical data model: the business entities every psflow layer speaks.

Frozen pydantic v2 models with ``extra="forbid"``; money is ``Decimal`` with an ISO 4217 currency,
instants are timezone-aware and business dates are ``date``. See ``docs/schemas/`` for the JSON
Schema of each entity (``psflow schema export`` regenerates them).
"""

from canonical._types import (
    CanonicalModel,
    CurrencyCode,
    DateRange,
    EntityId,
    Money,
    SystemName,
    SystemRef,
    bill_for_minutes,
    format_minutes,
    hours_of,
)
from canonical.billing import Invoice, InvoiceLine
from canonical.commercial import (
    BillingType,
    ContractAmendment,
    LineItem,
    Opportunity,
    OpportunityStage,
    RateCard,
    RateSchedule,
    RateVersion,
    RoleRate,
)
from canonical.delivery import Engagement, Project, ProjectStatus, Task, project_for
from canonical.parties import Address, Consultant, Customer, TimeOff, TimeOffStatus
from canonical.time_expense import ApprovalState, Expense, TimeEntry, Timesheet

__all__ = [
    "Address",
    "ApprovalState",
    "BillingType",
    "CanonicalModel",
    "Consultant",
    "ContractAmendment",
    "CurrencyCode",
    "Customer",
    "DateRange",
    "Engagement",
    "EntityId",
    "Expense",
    "Invoice",
    "InvoiceLine",
    "LineItem",
    "Money",
    "Opportunity",
    "OpportunityStage",
    "Project",
    "ProjectStatus",
    "RateCard",
    "RateSchedule",
    "RateVersion",
    "RoleRate",
    "SystemName",
    "SystemRef",
    "Task",
    "TimeEntry",
    "TimeOff",
    "TimeOffStatus",
    "Timesheet",
    "bill_for_minutes",
    "format_minutes",
    "hours_of",
    "project_for",
]
