"""HubSpot's fixed option lists in canonical terms: deal stages and company industries."""

from __future__ import annotations

import re
from collections.abc import Mapping

from canonical import OpportunityStage

__all__ = [
    "DEAL_STAGES",
    "HUBSPOT_STAGES",
    "INDUSTRY_OPTIONS",
    "deal_stage",
    "industry_label",
    "industry_option",
    "opportunity_stage",
]

DEAL_STAGES: Mapping[str, OpportunityStage] = {
    "appointmentscheduled": OpportunityStage.PROSPECTING,
    "qualifiedtobuy": OpportunityStage.QUALIFICATION,
    "presentationscheduled": OpportunityStage.PROPOSAL,
    "decisionmakerboughtin": OpportunityStage.NEGOTIATION,
    "contractsent": OpportunityStage.NEGOTIATION,
    "closedwon": OpportunityStage.CLOSED_WON,
    "closedlost": OpportunityStage.CLOSED_LOST,
}
"""Stage ids of HubSpot's default sales pipeline → canonical stages."""

HUBSPOT_STAGES: Mapping[OpportunityStage, str] = {
    OpportunityStage.PROSPECTING: "appointmentscheduled",
    OpportunityStage.QUALIFICATION: "qualifiedtobuy",
    OpportunityStage.PROPOSAL: "presentationscheduled",
    OpportunityStage.NEGOTIATION: "contractsent",
    OpportunityStage.CLOSED_WON: "closedwon",
    OpportunityStage.CLOSED_LOST: "closedlost",
}
"""Canonical stages → the default pipeline's stage ids, for writes."""

INDUSTRY_OPTIONS: Mapping[str, str] = {
    "Agriculture": "FARMING",
    "Education": "EDUCATION_MANAGEMENT",
    "Energy": "OIL_ENERGY",
    "Healthcare": "HOSPITAL_HEALTH_CARE",
    "Life Sciences": "PHARMACEUTICALS",
    "Logistics": "LOGISTICS_AND_SUPPLY_CHAIN",
    "Manufacturing": "INDUSTRIAL_AUTOMATION",
    "Media": "MEDIA_PRODUCTION",
    "Mining": "MINING_METALS",
    "Professional Services": "MANAGEMENT_CONSULTING",
    "Public Sector": "GOVERNMENT_ADMINISTRATION",
    "Technology": "INFORMATION_TECHNOLOGY_AND_SERVICES",
}
"""The firm's industry names whose HubSpot ``industry`` option is not simply the name in capitals."""

_INDUSTRY_LABELS = {option: label for label, option in INDUSTRY_OPTIONS.items()}
_NOT_ALPHANUMERIC = re.compile(r"[^A-Z0-9]+")
_SMALL_WORDS = frozenset({"and", "or", "of"})


def opportunity_stage(stage_id: str | None, stages: Mapping[str, OpportunityStage] = DEAL_STAGES) -> OpportunityStage:
    """The canonical stage of a HubSpot ``dealstage`` id.

    Raises:
        ValueError: The stage is not in `stages` (e.g. a custom pipeline's stage).
    """
    if stage_id is None or stage_id not in stages:
        known = ", ".join(sorted(stages))
        raise ValueError(f"deal stage {stage_id!r} has no canonical stage: known stages are {known}")
    return stages[stage_id]


def deal_stage(stage: OpportunityStage) -> str:
    """The default pipeline's stage id for a canonical stage."""
    return HUBSPOT_STAGES[stage]


def industry_option(label: str) -> str:
    """HubSpot's ``industry`` option for an industry name (``"Financial Services"`` → ``FINANCIAL_SERVICES``)."""
    return INDUSTRY_OPTIONS.get(label) or _NOT_ALPHANUMERIC.sub("_", label.upper()).strip("_")


def industry_label(option: str) -> str:
    """An industry name for a HubSpot ``industry`` option (``FINANCIAL_SERVICES`` → ``"Financial Services"``)."""
    if option in _INDUSTRY_LABELS:
        return _INDUSTRY_LABELS[option]
    words = option.lower().split("_")
    return " ".join(word if word in _SMALL_WORDS else word.capitalize() for word in words if word)
