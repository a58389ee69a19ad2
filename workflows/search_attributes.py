"""Search attributes psflow sets, so the Web UI and ``temporal workflow list`` find runs by business key.

SQL visibility (a self-hosted cluster on PostgreSQL or MySQL) allows 10 Keyword attributes per
namespace and 3 of every other type; ``ALL`` stays within that (tests/test_search_attributes.py counts).
"""

from temporalio.common import SearchAttributeKey

CLIENT = SearchAttributeKey.for_keyword("PsflowClient")
CRM_OPPORTUNITY_ID = SearchAttributeKey.for_keyword("CrmOpportunityId")
PSA_PROJECT_ID = SearchAttributeKey.for_keyword("PsaProjectId")
ERP_JOB_ID = SearchAttributeKey.for_keyword("ErpJobId")
FLOW_STATE = SearchAttributeKey.for_keyword("PsflowState")
SLA_BREACHED = SearchAttributeKey.for_bool("SlaBreached")
BUSINESS_DATE = SearchAttributeKey.for_keyword("BusinessDate")
CONTRACT_ID = SearchAttributeKey.for_keyword("ContractId")
AMENDMENT_VERSION = SearchAttributeKey.for_int("AmendmentVersion")
RECON_PERIOD = SearchAttributeKey.for_keyword("ReconPeriod")

ALL: tuple[SearchAttributeKey, ...] = (  # type: ignore[type-arg]
    CLIENT,
    CRM_OPPORTUNITY_ID,
    PSA_PROJECT_ID,
    ERP_JOB_ID,
    FLOW_STATE,
    SLA_BREACHED,
    BUSINESS_DATE,
    CONTRACT_ID,
    AMENDMENT_VERSION,
    RECON_PERIOD,
)


def dev_server_flags() -> list[str]:
    """``--search-attribute Name=Type`` flags that register every key on a dev server."""
    flags = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}={key._metadata_type}"]
    return flags
