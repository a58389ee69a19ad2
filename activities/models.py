"""Inputs of activities that take more than one canonical model (one model per call, so fields can be added)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from canonical import Customer, Engagement, Project


class _Input(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OpportunityRef(_Input):
    """A deal in one CRM."""

    crm: str
    opportunity_id: str


class ClosedWonQuery(_Input):
    """Deals won in a CRM since an instant (the polling fallback)."""

    crm: str
    since: datetime


class ProjectRef(_Input):
    """A project by its canonical id."""

    project_id: str


class CreatePsaProject(_Input):
    """The project (with tasks) to create in the PSA for an engagement."""

    project: Project
    customer: Customer


class CreateErpJob(_Input):
    """The ERP job for an engagement, under a customer the ERP already has."""

    engagement: Engagement
    project: Project
    customer_erp_id: str


class AnalyticsRows(_Input):
    """Rows for one table of the analytics push dataset."""

    table: str
    rows: list[dict[str, Any]] = Field(default_factory=list)
