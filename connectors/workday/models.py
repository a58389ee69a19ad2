"""Workday's wire shapes, as far as the connector reads them.

Every model ignores fields it does not name, and everything the research marks as third-party
or inferred is optional, so a tenant that omits a field degrades to `None` instead of failing.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AuditLogEntry",
    "AuditLogPage",
    "Reference",
    "StaffingReport",
    "StaffingRow",
    "TimeOffDetail",
    "TimeOffPage",
    "Worker",
    "WorkersPage",
]


class _Raw(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class Reference(_Raw):
    """A reference to another instance: ``{"id", "descriptor", "href"}``."""

    id: str | None = None
    descriptor: str | None = None
    href: str | None = None


class Worker(_Raw):
    """A worker from ``GET /workers`` (common v1), with the extensions the sandbox adds."""

    id: str = Field(min_length=1, description="The WID")
    descriptor: str = Field(min_length=1, description="Display name")
    business_title: str | None = Field(None, alias="businessTitle")
    primary_work_email: str | None = Field(None, alias="primaryWorkEmail")
    is_manager: bool | None = Field(None, alias="isManager")
    location: Reference | None = None
    primary_supervisory_organization: Reference | None = Field(None, alias="primarySupervisoryOrganization")
    worker_id: str | None = Field(None, alias="workerId", description="Employee ID (staffing; inferred)")
    job_profile: Reference | None = Field(None, alias="jobProfile")
    cost_center: Reference | None = Field(None, alias="costCenter")
    skills: list[Reference] = []
    active: bool | None = None
    hire_date: dt.date | None = Field(None, alias="hireDate")
    termination_date: dt.date | None = Field(None, alias="terminationDate")


class WorkersPage(_Raw):
    """One page of ``GET /workers``: ``{"total", "data"}``."""

    total: int = Field(ge=0)
    data: list[Worker]


class TimeOffDetail(_Raw):
    """One day of time off from ``GET /workers/{id}/timeOffDetails``."""

    id: str | None = None
    date: dt.date
    quantity: Decimal | None = None
    unit: Reference | None = None
    status: Reference | None = None
    time_off_type: Reference | None = Field(None, alias="timeOffType")


class TimeOffPage(_Raw):
    """One page of time off details: ``{"total", "data"}``."""

    total: int = Field(ge=0)
    data: list[TimeOffDetail]


class StaffingRow(_Raw):
    """One ``Report_Entry`` of the staffing custom report; column aliases are the report's."""

    wid: str = Field(alias="WID", min_length=1)
    employee_id: str | None = Field(None, alias="Employee_ID")
    job_profile: str | None = Field(None, alias="Job_Profile")
    supervisory_organization_id: str | None = Field(None, alias="Supervisory_Organization_ID")
    cost_center_id: str | None = Field(None, alias="Cost_Center_ID")
    location: str | None = Field(None, alias="Location")
    skills: Any = Field(None, alias="Skills", description="'a; b' text, a list of text, or a list of objects")
    active: Any = Field(None, alias="Active", description="'1'/'0', 'Yes'/'No' or a JSON boolean")
    hourly_cost_rate: Decimal | None = Field(None, alias="Hourly_Cost_Rate")
    currency: str | None = Field(None, alias="Currency")
    manager_id: str | None = Field(None, alias="Manager_ID", description="The manager's WID")
    scheduled_weekly_hours: Decimal | None = Field(None, alias="Scheduled_Weekly_Hours", gt=0)


class AuditLogEntry(_Raw):
    """One ``GET /auditLogs`` entry (research ``apis-round2.md`` §5; shape inferred)."""

    id: str = Field(min_length=1)
    request_time: dt.datetime = Field(alias="requestTime")
    task_display_name: str | None = Field(None, alias="taskDisplayName")
    target: Reference | None = None


class AuditLogPage(_Raw):
    """One page of ``GET /auditLogs``: ``{"total", "data"}``."""

    total: int = Field(ge=0)
    data: list[AuditLogEntry] = []


class StaffingReport(_Raw):
    """A custom report's JSON output: ``{"Report_Entry": [...]}``."""

    report_entry: list[StaffingRow] = Field(default_factory=list, alias="Report_Entry")
