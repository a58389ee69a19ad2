"""Where the Workday connector points and how it authenticates, read from ``PSFLOW_WORKDAY_*``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from connectors._core import ConnectorSettings

__all__ = [
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "DEMO_REFRESH_TOKEN",
    "DEMO_STAFFING_REPORT",
    "DEMO_TENANT",
    "WorkdaySettings",
]

DEMO_TENANT = "psflow_demo"
"""The sandbox's tenant."""
DEMO_CLIENT_ID = "psflow-demo"
"""The sandbox's API client for integrations."""
DEMO_CLIENT_SECRET = "psflow-demo-secret"
"""That client's secret."""
DEMO_REFRESH_TOKEN = "psflow-demo-workday-refresh-token"
"""The sandbox's non-expiring refresh token for that client."""
DEMO_STAFFING_REPORT = "ISU_psflow/psflow_Worker_Staffing"
"""The sandbox's web-service-enabled staffing report (owner/name)."""


class WorkdaySettings(ConnectorSettings):
    """Settings of one Workday tenant.

    Attributes:
        base_url: The tenant's services host, e.g. ``https://wd2-impl-services1.workday.com``;
            REST paths (``/ccx/api/...``), reports and the token endpoint hang off it.
        tenant: The tenant name in every path, e.g. ``acme_preview``.
        client_id: The "API Client for Integrations" id.
        client_secret: That client's secret.
        refresh_token: A refresh token generated for the client's Integration System User.
        token_url: The token endpoint; defaults to ``{base_url}/ccx/oauth2/{tenant}/token``.
        client_auth: How the client authenticates to the token endpoint: ``basic`` (HTTP Basic)
            or ``body`` (form fields).
        common_api: Service and version of the workers resource.
        absence_api: Service and version of the time off resource.
        staffing_report: ``owner/Report_Name`` of a JSON-enabled custom report with one row per
            worker (``WID``, ``Employee_ID``, ``Cost_Center_ID``, ``Skills`` ...), or empty to
            read those fields from the worker resource only.
        page_size: Workers per page (Workday allows at most 100).
        token_refresh_margin_s: Seconds before expiry at which the access token is replaced.
        time_off_concurrency: Time off requests in flight at once while listing workers.
    """

    model_config = SettingsConfigDict(env_prefix="PSFLOW_WORKDAY_", extra="ignore")

    base_url: str = "http://127.0.0.1:8700/workday"
    tenant: str = Field(default=DEMO_TENANT, min_length=1)
    client_id: str = DEMO_CLIENT_ID
    client_secret: SecretStr = SecretStr(DEMO_CLIENT_SECRET)
    refresh_token: SecretStr = SecretStr(DEMO_REFRESH_TOKEN)
    token_url: str | None = None
    client_auth: Literal["basic", "body"] = "basic"
    common_api: str = "common/v1"
    absence_api: str = "absenceManagement/v1"
    staffing_report: str | None = DEMO_STAFFING_REPORT
    page_size: int = Field(default=100, ge=1, le=100)
    token_refresh_margin_s: float = Field(default=60.0, ge=0)
    time_off_concurrency: int = Field(default=4, ge=1)

    @field_validator("staffing_report")
    @classmethod
    def _owner_and_name(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        owner, _, name = value.strip().strip("/").partition("/")
        if not owner or not name or "/" in name:
            raise ValueError(f"must be 'owner/Report_Name' (e.g. 'ISU_psflow/Worker_Staffing'), got {value!r}")
        return f"{owner}/{name}"

    @property
    def oauth_token_url(self) -> str:
        """The token endpoint for the refresh-token grant."""
        return self.token_url or f"{self.base_url.rstrip('/')}/ccx/oauth2/{self.tenant}/token"
