"""Inputs of activities that take more than one canonical model (one model per call, so fields can be added)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from canonical import CanonicalModel, Customer, Engagement, Project


class OpportunityRef(CanonicalModel):
    """A deal in one CRM."""

    crm: str
    opportunity_id: str


class AmendmentRef(CanonicalModel):
    """A contract amendment recorded in a CRM.

    Attributes:
        crm: The CRM holding it.
        contract_id: The contract it amends, as the CRM names it (Salesforce ``Contract.Id``;
            HubSpot: the original deal's id).
        record_id: The CRM record the amendment is (Salesforce: the CPQ amendment opportunity;
            HubSpot: the change-order deal).
    """

    crm: Literal["salesforce", "hubspot"]
    contract_id: str
    record_id: str


class ClosedWonQuery(CanonicalModel):
    """Deals won in a CRM since an instant (the polling fallback)."""

    crm: str
    since: datetime


class ProjectRef(CanonicalModel):
    """A project by its canonical id."""

    project_id: str


class CreatePsaProject(CanonicalModel):
    """The project (with tasks) to create in the PSA for an engagement."""

    project: Project
    customer: Customer


class CreateErpJob(CanonicalModel):
    """The ERP job for an engagement, under a customer the ERP already has."""

    engagement: Engagement
    project: Project
    customer_erp_id: str


class AnalyticsRows(CanonicalModel):
    """Rows for one table of the analytics push dataset."""

    table: str
    rows: list[dict[str, Any]] = Field(default_factory=list)
